"""Every bad input ends in one readable error, and nothing half-written is left behind."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import onnx
import pytest

from tests.conftest import run_cli
from toolkit import runtime
from toolkit.errors import (
    ExportError,
    InputError,
    ManifestError,
    ModelFileError,
    TrainingError,
)
from toolkit.fsutil import sha256_file

pytestmark = pytest.mark.slow


def _rewrite_manifest(export: Path, change) -> None:
    path = export / "manifest.json"
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


# -- CLI: one line, exit code 2, never a traceback -----------------------------------------------
@pytest.mark.parametrize("args, message", [
    (["train", "no-such-model"], "unknown model 'no-such-model'"),
    (["train", "toy-dense", "--set", "hiden=3"], "unknown config key 'hiden'"),
    (["train", "toy-dense", "--set", "hidden=lots"], "hidden: expected an integer, got 'lots'"),
    (["train", "toy-dense", "--data", "no-such-data"], "neither a known dataset"),
    (["train", "toy-dense", "--data", "toy-blobs:0"], "toy-blobs: dataset is empty"),
    (["train", "toy-dense", "--epochs", "0"], "--epochs must be at least 1"),
    (["export", "/nonexistent/run", "--out", "x"], "/nonexistent/run: no such run directory"),
    (["info", "/nonexistent/export"], "not an export directory"),
])
def test_cli_errors_are_one_line(args, message, toy_site, tmp_path):
    result = run_cli(*args, "--runs", str(tmp_path), site=toy_site) if args[0] == "train" else \
        run_cli(*args, site=toy_site, cwd=tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("onnxkit: error: ")
    assert not list(tmp_path.rglob("*.json"))  # no half-made run directory


# -- export -----------------------------------------------------------------------------------------
@pytest.fixture()
def toy_run(toy_export: Path, tmp_path: Path) -> Path:
    src = toy_export.parent.parent / "runs" / "toy-dense" / "r1"
    dst = tmp_path / "run"
    shutil.copytree(src, dst)
    return dst


def test_missing_checkpoint(toy_registry, toy_run, tmp_path):
    from toolkit.export import export_run

    (toy_run / "checkpoint.keras").unlink()
    with pytest.raises(TrainingError, match="no checkpoint"):
        export_run(toy_run, tmp_path / "out", registry=toy_registry)
    assert not (tmp_path / "out").exists()


def test_corrupt_checkpoint(toy_registry, toy_run, tmp_path):
    from toolkit.export import export_run

    (toy_run / "checkpoint.keras").write_bytes(b"PK\x03\x04 this is not a keras archive")
    with pytest.raises(TrainingError, match="cannot load checkpoint"):
        export_run(toy_run, tmp_path / "out", registry=toy_registry)
    assert not (tmp_path / "out").exists()


def test_corrupt_run_config(toy_registry, toy_run, tmp_path):
    from toolkit.export import export_run

    (toy_run / "config.json").write_text("{not json")
    with pytest.raises(TrainingError, match="config.json: corrupt"):
        export_run(toy_run, tmp_path / "out", registry=toy_registry)


def test_failed_parity_writes_nothing(toy_registry, toy_run, tmp_path, monkeypatch):
    """When onnxruntime disagrees with Keras beyond the tolerance, the export is refused."""
    import onnxruntime as ort

    from toolkit.export import export_run

    class Drifting(ort.InferenceSession):
        def run(self, *args, **kwargs):
            return [out + 1e-3 for out in super().run(*args, **kwargs)]

    monkeypatch.setattr(ort, "InferenceSession", Drifting)
    with pytest.raises(ExportError, match=r"parity check failed: max abs difference 0.001 exceeds the tolerance 0.0001"):
        export_run(toy_run, tmp_path / "out", registry=toy_registry)
    assert not (tmp_path / "out").exists()
    assert not list(tmp_path.glob(".out*"))


def test_export_refuses_to_overwrite(toy_registry, toy_run, tmp_path):
    from toolkit.export import export_run

    (tmp_path / "out").mkdir()
    with pytest.raises(ExportError, match="already exists"):
        export_run(toy_run, tmp_path / "out", registry=toy_registry)


# -- manifests and ONNX files ----------------------------------------------------------------------
def test_missing_manifest(copy_export, toy_export):
    export = copy_export(toy_export)
    (export / "manifest.json").unlink()
    with pytest.raises(ManifestError, match="no manifest.json"):
        runtime.load(export)


def test_manifest_not_json(copy_export, toy_export):
    export = copy_export(toy_export)
    (export / "manifest.json").write_text("{")
    with pytest.raises(ManifestError, match="not valid JSON"):
        runtime.load(export)


@pytest.mark.parametrize("change, message", [
    (lambda d: d.update(schema="something.else"), "schema is 'something.else'"),
    (lambda d: d.update(schema_version=99), "schema_version 99 is not supported"),
    (lambda d: d.update(task=""), "'task' is empty"),
    (lambda d: d.update(task="classifier"), "task 'classifier' needs file 'classifier', info key 'image_shape', info key 'feature_dim'"),
    (lambda d: d.pop("files"), "missing key 'files'"),
    (lambda d: d["files"]["model"].update(path="../../etc/passwd"), "must stay inside the export directory"),
    (lambda d: d["files"]["model"]["inputs"][0].pop("shape"), "malformed tensor description"),
])
def test_manifest_with_wrong_schema(copy_export, toy_export, change, message):
    export = copy_export(toy_export)
    _rewrite_manifest(export, change)
    with pytest.raises(ManifestError, match=message):
        runtime.load(export)


def test_unregistered_task_opens_as_generic_pipeline_with_a_warning(copy_export, toy_export):
    export = copy_export(toy_export)
    _rewrite_manifest(export, lambda d: d.update(task="juggling"))
    with pytest.warns(UserWarning, match="task 'juggling' is not registered by any installed plugin"):
        pipeline = runtime.load(export)
    assert type(pipeline) is runtime.GenericPipeline and pipeline.task == "juggling"
    inputs = pipeline.session("model").inputs
    x = np.zeros([2, *inputs[0].shape[1:]], np.float32)
    assert next(iter(pipeline.run("model", **{inputs[0].name: x}).values())).shape[0] == 2


def test_load_expect_refuses_another_task(copy_export, toy_export):
    export = copy_export(toy_export)
    with pytest.raises(ManifestError, match=r"has task 'generic'; expected classifier or vae"):
        runtime.load(export, expect=("classifier", "vae"))
    assert runtime.load(export, expect="generic").task == "generic"


def test_file_changed_after_export(copy_export, toy_export):
    export = copy_export(toy_export)
    with open(export / "model.onnx", "ab") as handle:
        handle.write(b"\0")
    with pytest.raises(ManifestError, match="does not match the manifest's"):
        runtime.load(export)


def test_truncated_onnx_file(copy_export, toy_export):
    export = copy_export(toy_export)
    data = (export / "model.onnx").read_bytes()
    (export / "model.onnx").write_bytes(data[: len(data) // 2])
    _rewrite_manifest(export, lambda d: d["files"]["model"].update(sha256=sha256_file(export / "model.onnx")))
    with pytest.raises(ModelFileError, match="not a loadable ONNX model"):
        runtime.load(export)


def test_foreign_onnx_file(copy_export, toy_export):
    export = copy_export(toy_export)
    graph = onnx.helper.make_graph(
        [onnx.helper.make_node("Relu", ["input"], ["output"])], "foreign",
        [onnx.helper.make_tensor_value_info("input", onnx.TensorProto.FLOAT, [None, 3])],
        [onnx.helper.make_tensor_value_info("output", onnx.TensorProto.FLOAT, [None, 3])])
    onnx.save(onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", 17)], ir_version=8),
              export / "model.onnx")
    _rewrite_manifest(export, lambda d: d["files"]["model"].update(sha256=sha256_file(export / "model.onnx")))
    with pytest.raises(ModelFileError, match=r"do not match the manifest's \['x'\]"):
        runtime.load(export)


def test_text_file_posing_as_onnx(copy_export, toy_export):
    export = copy_export(toy_export)
    (export / "model.onnx").write_text("hello, I am not a model")
    _rewrite_manifest(export, lambda d: d["files"]["model"].update(sha256=sha256_file(export / "model.onnx")))
    with pytest.raises(ModelFileError):
        runtime.load(export)


# -- inputs --------------------------------------------------------------------------------------
@pytest.mark.parametrize("value, message", [
    (np.zeros((2, 3), np.float32), r"has shape \(2, 3\), axis 1 must be 4"),
    (np.zeros((2, 4, 1), np.float32), "expected rank 2"),
    (np.zeros((2, 4), np.float64), "has dtype float64, expected float32"),
    (np.zeros((0, 4), np.float32), "is empty"),
    (np.full((2, 4), np.nan, np.float32), "contains NaN"),
    (np.full((2, 4), 9.0, np.float32), r"outside its range \[-4, 4\]"),
    ([[0.0] * 4], "must be a numpy array"),
])
def test_wrong_inputs(toy_export, value, message):
    pipeline = runtime.load(toy_export)
    with pytest.raises(InputError, match=message):
        pipeline.run("model", x=value)


def test_unknown_and_missing_inputs(toy_export):
    pipeline = runtime.load(toy_export)
    with pytest.raises(InputError, match="unknown input"):
        pipeline.run("model", x=np.zeros((1, 4), np.float32), y=np.zeros(1))
    with pytest.raises(InputError, match="missing input 'x'"):
        pipeline.run("model")
    with pytest.raises(InputError, match="has no file 'decoder'"):
        pipeline.run("decoder", x=np.zeros((1, 4), np.float32))
