"""The whole flow on the toy plugin: train -> export -> load -> run, with parity and determinism."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

from tests.conftest import run_cli
from toolkit import runtime
from toolkit.errors import TrainingError
from toolkit.manifest import read_manifest
from toolkit.onnx_meta import read_metadata

pytestmark = pytest.mark.slow


def test_cli_flow_writes_a_complete_run_and_export(toy_export: Path):
    run_dir = toy_export.parent.parent / "runs" / "toy-dense" / "r1"
    for name in ("config.json", "data.json", "checkpoint.keras", "state.json", "history.json", "metrics.json"):
        assert (run_dir / name).is_file(), name
    state = json.loads((run_dir / "state.json").read_text())
    assert state == {"epochs_done": 2, "status": "finished"}
    history = json.loads((run_dir / "history.json").read_text())
    assert len(history["loss"]) == 2
    manifest = read_manifest(toy_export)
    assert manifest.task == "generic" and manifest.plugin == "toy" and manifest.model == "toy-dense"
    parity = manifest.files["model"].parity
    assert 0 <= parity["max_abs_diff"] <= 1e-4 and parity["batches"] == [1, 3]
    assert manifest.training["epochs"] == 2 and manifest.training["seed"] == 3
    assert manifest.metrics["test_accuracy"] > 0.8  # blobs are separable: the model learned
    assert {"tensorflow", "tf2onnx", "onnx", "keras"} <= set(manifest.versions)
    assert not list(toy_export.parent.glob(".*"))  # no temp directories left behind


def test_exported_model_matches_keras_checkpoint(toy_export: Path):
    import keras

    run_dir = toy_export.parent.parent / "runs" / "toy-dense" / "r1"
    x = np.random.default_rng(0).uniform(-4, 4, size=(17, 4)).astype("float32")
    pipeline = runtime.load(toy_export)
    onnx_out = pipeline.run("model", x=x)["probabilities"]
    keras_model = keras.models.load_model(run_dir / "checkpoint.keras")
    np.testing.assert_allclose(onnx_out, keras_model(x).numpy(), atol=1e-5)
    assert pipeline.provider == "CPUExecutionProvider"


def test_lone_onnx_file_explains_itself(toy_export: Path):
    session = ort.InferenceSession(str(toy_export / "model.onnx"), providers=["CPUExecutionProvider"])
    meta = read_metadata(session.get_modelmeta().custom_metadata_map)
    assert meta["task"] == "generic" and meta["model"] == "toy-dense" and meta["file"] == "model"
    assert meta["inputs"][0] == {"name": "x", "shape": [None, 4], "dtype": "float32",
                                 "value_range": [-4.0, 4.0], "meaning": "a point"}
    assert meta["info"]["labels"] == ["a", "b"]
    assert [o.name for o in session.get_outputs()] == ["probabilities"]


def test_info_command_says_how_to_call_it(toy_export: Path):
    result = run_cli("info", str(toy_export))
    assert result.returncode == 0, result.stderr
    assert "in   x: float32[N, 4] in [-4, 4] — a point" in result.stdout
    assert "out  probabilities: float32[N, 2] in [0, 1]" in result.stdout
    assert "provider CPUExecutionProvider" in result.stdout


def test_same_seed_same_run(toy_registry, tmp_path):
    from toolkit.training import train

    a = train("toy-dense", runs_root=tmp_path, run_id="a", seed=5, registry=toy_registry, verbose=0)
    b = train("toy-dense", runs_root=tmp_path, run_id="b", seed=5, registry=toy_registry, verbose=0)
    c = train("toy-dense", runs_root=tmp_path, run_id="c", seed=6, registry=toy_registry, verbose=0)
    assert a.history == b.history and a.metrics == b.metrics
    assert a.history != c.history


def test_resume_continues_from_the_checkpoint(toy_registry, tmp_path):
    from toolkit.training import resume, train

    full = train("toy-dense", runs_root=tmp_path, run_id="full", seed=1, epochs=3, registry=toy_registry, verbose=0)
    part = train("toy-dense", runs_root=tmp_path, run_id="part", seed=1, epochs=1, registry=toy_registry, verbose=0)
    resumed = resume(part.run_dir, epochs=3, registry=toy_registry, verbose=0)
    assert resumed.epochs_done == 3
    assert len(resumed.history["loss"]) == 3
    assert resumed.history["loss"][0] == full.history["loss"][0]
    # optimizer state came back with the weights: the resumed loss keeps falling like the full run's
    assert resumed.history["loss"][2] < resumed.history["loss"][0]
    assert abs(resumed.history["loss"][2] - full.history["loss"][2]) < 0.1
    with pytest.raises(TrainingError, match="already has 3 epochs"):
        resume(part.run_dir, registry=toy_registry, verbose=0)


def test_nan_loss_stops_and_keeps_the_last_good_checkpoint(toy_registry, tmp_path):
    from toolkit.training import train

    with pytest.raises(TrainingError, match=r"training stopped: .*(nan|inf|non-finite).*last good checkpoint \(epoch 1\)"):
        train("toy-dense", overrides={"explode_at_epoch": "2", "epochs": "3"}, runs_root=tmp_path,
              run_id="n", registry=toy_registry, verbose=0)
    run_dir = tmp_path / "toy-dense" / "n"
    state = json.loads((run_dir / "state.json").read_text())
    assert state == {"epochs_done": 1, "status": "stopped-nan", "detail": "loss became nan at epoch 2, batch 2"}
    assert (run_dir / "checkpoint.keras").is_file()
    import keras

    weights = keras.models.load_model(run_dir / "checkpoint.keras").get_weights()
    assert all(np.isfinite(w).all() for w in weights)


def test_nan_in_first_epoch_leaves_nothing(toy_registry, tmp_path):
    from toolkit.training import train

    with pytest.raises(TrainingError, match="before the first epoch finished; nothing was kept"):
        train("toy-dense", overrides={"explode_at_epoch": "1"}, runs_root=tmp_path, run_id="n",
              registry=toy_registry, verbose=0)
    assert not (tmp_path / "toy-dense" / "n").exists()


def test_export_refuses_a_corrupt_run_file(toy_export: Path, toy_site: Path, tmp_path: Path):
    """A corrupt metrics.json is an error naming it, not silently exported as no metrics."""
    import shutil

    run_dir = tmp_path / "r1"
    shutil.copytree(toy_export.parent.parent / "runs" / "toy-dense" / "r1", run_dir)
    (run_dir / "metrics.json").write_text('{"test_accuracy": 0.9')
    result = run_cli("export", str(run_dir), "--out", str(tmp_path / "out"), site=toy_site)
    assert result.returncode == 2 and "metrics.json: corrupt" in result.stderr, result.stderr
    assert not (tmp_path / "out").exists()
