"""`onnxkit space build`: a Space directory that runs on its own, and clear refusals."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, run_cli
from toolkit.errors import InputError, ManifestError

sys.path.insert(0, str(ROOT / "benchmarks"))
import local_server  # noqa: E402

EXPORTED = ROOT / "exported"


def shipped(*tasks: str) -> list[Path]:
    """Shipped export directories (of these tasks, if given)."""
    from toolkit.manifest import read_manifest

    found = []
    for path in sorted(EXPORTED.glob("*/manifest.json")):
        if not tasks or read_manifest(path.parent, verify_hashes=False).task in tasks:
            found.append(path.parent)
    return found


def front_matter(readme: str) -> dict[str, str]:
    head = readme.split("---\n")[1]
    return dict(line.split(": ", 1) for line in head.strip().splitlines())


@pytest.fixture(scope="module")
def space(tmp_path_factory) -> Path:
    from apps.spaces import build_space

    exports = shipped()
    if not exports:
        pytest.skip("no shipped export in exported/ yet")
    extra = [p for p in (EXPORTED / "face-gallery.npz", EXPORTED / "face-gallery") if p.exists()]
    return build_space([*exports, *extra], tmp_path_factory.mktemp("spaces") / "demo", title="onnxkit test")


def test_space_has_spaces_metadata_and_serving_requirements_only(space):
    from importlib.metadata import version

    import onnxruntime

    meta = front_matter((space / "README.md").read_text())
    assert meta["sdk"] == "gradio" and meta["app_file"] == "app.py"
    assert meta["sdk_version"] == version("gradio")
    requirements = (space / "requirements.txt").read_text()
    pins = dict(line.split("==") for line in requirements.splitlines() if line and not line.startswith("#"))
    assert pins["gradio"] == version("gradio") and pins["onnxruntime"] == onnxruntime.__version__
    assert set(pins) == {"gradio", "onnxruntime", "numpy", "pillow", "pluggy"}
    for name in shipped():
        assert (space / "exported" / name.name / "manifest.json").is_file()
        assert f"`{name.name}`" in (space / "README.md").read_text()


def test_space_vendors_the_serving_code_and_nothing_of_training(space):
    assert (space / "toolkit" / "runtime" / "session.py").is_file()
    assert (space / "apps" / "app.py").is_file() and not (space / "apps" / "spaces.py").exists()
    for training_side in ("training.py", "export.py", "tf_setup.py", "registry.py"):
        assert not (space / "toolkit" / training_side).exists(), training_side
    assert not (space / "plugins").exists()
    # The vendored copy is what app.py imports, even where onnxkit is installed.
    code = ("import sys; sys.path.insert(0, '.'); import toolkit.runtime, apps.models; "
            "print(toolkit.runtime.__file__, apps.models.__file__)")
    result = subprocess.run([sys.executable, "-c", code], cwd=space, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert all(Path(p).resolve().is_relative_to(space.resolve()) for p in result.stdout.split())


def test_space_build_refuses_bad_inputs_and_leaves_nothing(tmp_path):
    from apps.spaces import build_space

    exports = shipped()
    if not exports:
        pytest.skip("no shipped export in exported/ yet")
    out = tmp_path / "space"
    with pytest.raises(InputError, match="at least one export"):
        build_space([], out)
    with pytest.raises(InputError, match="no such file"):
        build_space([tmp_path / "missing"], out)
    (tmp_path / "not-an-export").mkdir()
    with pytest.raises(InputError, match="no manifest.json"):
        build_space([tmp_path / "not-an-export"], out)
    twin = shutil.copytree(exports[0], tmp_path / "twin" / exports[0].name)
    with pytest.raises(InputError, match="two exports are named"):
        build_space([exports[0], twin], out)
    damaged = shutil.copytree(exports[0], tmp_path / "damaged" / exports[0].name)
    onnx_file = next(damaged.glob("*.onnx"))
    data = bytearray(onnx_file.read_bytes())
    data[len(data) // 2] ^= 0xFF
    onnx_file.write_bytes(bytes(data))
    with pytest.raises(ManifestError):
        build_space([damaged], out)
    assert not out.exists() and not list(tmp_path.glob(".space.*"))
    build_space([exports[0]], out)
    with pytest.raises(InputError, match="already exists"):
        build_space([exports[0]], out)


def test_space_cli(tmp_path):
    exports = shipped()
    if not exports:
        pytest.skip("no shipped export in exported/ yet")
    result = run_cli("space", "build", str(exports[0]), "--out", str(tmp_path / "s"))
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "s" / "app.py").is_file() and "wrote Space" in result.stdout
    result = run_cli("space", "build", str(tmp_path / "nothing"), "--out", str(tmp_path / "t"))
    assert result.returncode == 2 and result.stderr.count("\n") == 1 and "no such file" in result.stderr


#: ``python app.py``, with tensorflow, keras and tf2onnx made unimportable: a Space has none of them.
NO_TRAINING_STACK = """
import runpy, sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in ('tensorflow', 'keras', 'tf2onnx'):
            raise ImportError('a Space has no ' + name)
sys.meta_path.insert(0, Block())
sys.argv = ['app.py']
runpy.run_path('app.py', run_name='__main__')
"""


def test_space_app_serves_requests(space, tmp_path):
    """Start the Space's app.py as Spaces would (python app.py, no TensorFlow to be had) on
    127.0.0.1 and drive it with gradio_client: real outputs from each shipped capability, and
    limits as clear errors."""
    from gradio_client import Client, handle_file
    from gradio_client.exceptions import AppError
    from PIL import Image, ImageDraw

    port = local_server.free_port()
    log = tmp_path / "app.log"
    env = {k: v for k, v in __import__("os").environ.items() if k != "PYTHONPATH"}
    process = local_server.start([sys.executable, "-c", NO_TRAINING_STACK], port, cwd=space, env=env, log_path=log)
    try:
        local_server.wait_ready(process, port, log_path=log)
        client = Client(f"http://127.0.0.1:{port}/", verbose=False)
        assert str(space / "exported") in log.read_text()
        checked = 0
        if shipped("classifier"):
            seven = tmp_path / "seven.png"
            image = Image.new("RGB", (200, 200), "white")
            ImageDraw.Draw(image).line([(40, 40), (160, 40), (90, 170)], fill="black", width=18)
            image.save(seven)
            label, seen = client.predict(shipped("classifier")[0].name, None, handle_file(str(seven)),
                                         api_name="/classify")
            assert label["label"] == "7" and len(label["confidences"]) == 3
            assert Path(seen).is_file()
            notes = tmp_path / "notes.png"
            notes.write_text("not a picture")
            with pytest.raises(AppError, match="not an image"):
                client.predict(shipped("classifier")[0].name, None, handle_file(str(notes)), api_name="/classify")
            checked += 1
        generators = shipped("image-generator", "conditional-generator")
        if generators:
            first = client.predict(generators[0].name, 4, 5, "every class in turn", [], api_name="/generate")
            again = client.predict(generators[0].name, 4, 5, "every class in turn", [], api_name="/generate")
            assert Path(first).read_bytes() == Path(again).read_bytes()  # same seed, same picture
            with pytest.raises(AppError, match="between 1 and 64|greater than maximum value 64"):  # Gradio checks sliders too
                client.predict(generators[0].name, 1000, 5, "every class in turn", [], api_name="/generate")
            checked += 1
        if shipped("text-generator"):
            text = client.predict(shipped("text-generator")[0].name, "The ", 0.8, 40, 1.0, 1, api_name="/write")
            assert text.startswith("The ") and len(text) == 44
            with pytest.raises(AppError, match="the limit is 500"):
                client.predict(shipped("text-generator")[0].name, "x" * 501, 0.8, 40, 1.0, 1, api_name="/write")
            checked += 1
        if shipped("face-detector") and shipped("face-embedder"):
            from skimage import data

            photo = tmp_path / "astronaut.png"
            Image.fromarray(data.astronaut()).save(photo)
            drawn, table, summary = client.predict(handle_file(str(photo)), api_name="/match")
            assert Path(drawn).is_file() and "1 face(s) found" in summary
            if (space / "exported" / "face-gallery.npz").exists() or (space / "exported" / "face-gallery").exists():
                assert len(table["data"]) == 3 and table["headers"][2] == "name"
            checked += 1
        assert checked, "no capability to check"
    finally:
        local_server.stop(process)
