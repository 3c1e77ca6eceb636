"""Shared fixtures: an external plugin installed through a real entry point, CLI runners."""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TOY_MODULE = Path(__file__).parent / "toy_plugin" / "onnxkit_toy.py"

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("ONNXKIT_PROVIDER", "cpu")


def make_distribution(root: Path, dist_name: str, entry_points: dict[str, str], modules: dict[str, str],
                      serving: dict[str, str] | None = None) -> Path:
    """Write an importable package with a ``*.dist-info`` (entry points included) under ``root``.

    ``entry_points`` go in the ``onnxkit`` group, ``serving`` in ``onnxkit.serving``. Putting
    ``root`` on ``sys.path`` is, for importlib.metadata, the same as a pip install.
    """
    root.mkdir(parents=True, exist_ok=True)
    dist_info = root / f"{dist_name.replace('-', '_')}-0.1.0.dist-info"
    dist_info.mkdir(exist_ok=True)
    (dist_info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist_name}\nVersion: 0.1.0\n")
    lines = ["[onnxkit]"] + [f"{name} = {target}" for name, target in entry_points.items()]
    if serving:
        lines += ["", "[onnxkit.serving]"] + [f"{name} = {target}" for name, target in serving.items()]
    (dist_info / "entry_points.txt").write_text("\n".join(lines) + "\n")
    for name, source in modules.items():
        (root / f"{name}.py").write_text(source)
    return root


@pytest.fixture(scope="session")
def toy_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A site directory where the toy plugin is 'installed' with an entry point."""
    return make_distribution(
        tmp_path_factory.mktemp("toy-site"), "onnxkit-toy", {"toy": "onnxkit_toy"},
        {"onnxkit_toy": TOY_MODULE.read_text()},
    )


@pytest.fixture()
def on_path(monkeypatch: pytest.MonkeyPatch) -> Iterator[callable]:
    """Put site directories on sys.path for one test and give a fresh plugin registry."""
    from toolkit import registry as registry_module

    def add(*paths: Path) -> registry_module.Registry:
        for path in paths:
            monkeypatch.syspath_prepend(str(path))
        import importlib

        importlib.invalidate_caches()
        return registry_module.get_registry(refresh=True)

    yield add
    for name in [m for m in sys.modules if m.startswith(("onnxkit_toy", "broken_plugin", "dup_plugin"))]:
        del sys.modules[name]
    registry_module._default = None


@pytest.fixture()
def toy_registry(on_path, toy_site: Path):
    return on_path(toy_site)


def run_cli(*args: str, site: Path | None = None, cwd: Path | None = None, timeout: int = 600) -> subprocess.CompletedProcess:
    """Run ``python -m toolkit ARGS`` in a fresh interpreter (what a user's shell does)."""
    env = dict(os.environ)
    paths = [str(ROOT)] + ([str(site)] if site else [])
    env["PYTHONPATH"] = os.pathsep.join(paths + [env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return subprocess.run([sys.executable, "-m", "toolkit", *args], capture_output=True, text=True,
                          cwd=cwd or ROOT, env=env, timeout=timeout)


@pytest.fixture(scope="session")
def toy_export(tmp_path_factory: pytest.TempPathFactory, toy_site: Path) -> Path:
    """A toy model trained for 2 epochs and exported once per session (by the CLI, as a user would)."""
    work = tmp_path_factory.mktemp("toy-flow")
    result = run_cli("train", "toy-dense", "--runs", str(work / "runs"), "--run-id", "r1", "--seed", "3",
                     site=toy_site)
    assert result.returncode == 0, result.stderr
    run_dir = work / "runs" / "toy-dense" / "r1"
    result = run_cli("export", str(run_dir), "--out", str(work / "exported" / "toy"), site=toy_site)
    assert result.returncode == 0, result.stderr
    return work / "exported" / "toy"


@pytest.fixture()
def copy_export(tmp_path: Path):
    def copy(src: Path) -> Path:
        dst = tmp_path / src.name
        shutil.copytree(src, dst)
        return dst
    return copy


def together(calls: list[Callable[[], object]]) -> list[object]:
    """Run the calls in threads released at the same moment; results (or exceptions) in order."""
    results: list[object] = [None] * len(calls)
    gate = threading.Barrier(len(calls))

    def worker(i: int) -> None:
        gate.wait()
        try:
            results[i] = calls[i]()
        except Exception as exc:
            results[i] = exc

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results
