"""The ``classifier`` plugin and the ``Classifier`` pipeline (shipped export + a tiny training run)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from toolkit import runtime
from toolkit.datasets import mnist5k
from toolkit.errors import InputError
from toolkit.spec import DataRequest

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ROOT / "exported" / "classifier-mnist"


@pytest.fixture(scope="module")
def classifier():
    return runtime.load(SHIPPED)


@pytest.fixture(scope="module")
def test_set():
    data = mnist5k.load(None, DataRequest())
    return data.x_test, data.y_test


def test_shipped_classifier_is_accurate_on_held_out_mnist(classifier, test_set) -> None:
    x, y = test_set
    ids, probabilities = classifier.predict(x, k=3)
    assert ids.shape == (len(x), 3) and ids.dtype == np.int64 and probabilities.dtype == np.float32
    assert np.all(np.diff(probabilities, axis=1) <= 0)  # highest first
    assert np.mean(ids[:, 0] == y) >= 0.97
    full = classifier.probabilities(x[:5])
    np.testing.assert_allclose(full.sum(axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(np.take_along_axis(full, ids[:5], 1), probabilities[:5], rtol=1e-6)
    features = classifier.features(x[:7])
    assert features.shape == (7, classifier.feature_dim) and (features >= 0).all()
    assert type(classifier).__name__ == "Classifier" and classifier.label_names == [str(d) for d in range(10)]


def test_top_k_on_a_dark_on_light_drawing_of_any_size(classifier, test_set, tmp_path: Path) -> None:
    x, y = test_set
    hits = 0
    for i in range(20):
        canvas = np.full((120, 90), 255, np.uint8)  # white paper, off-centre black digit
        digit = Image.fromarray((255 - x[i, :, :, 0] * 255).astype(np.uint8)).resize((70, 70))
        canvas[40:110, 5:75] = np.asarray(digit)
        path = tmp_path / f"d{i}.png"
        Image.fromarray(canvas).save(path)
        top = classifier.top_k(path, k=3)
        assert len(top) == 3 and top[0][1] >= top[1][1] >= top[2][1]
        hits += top[0][0] == str(y[i])
    assert hits >= 18


def test_classifier_rejects_bad_inputs(classifier) -> None:
    with pytest.raises(InputError, match=r"shape \[N, 28, 28, 1\]"):
        classifier.predict(np.zeros((2, 32, 32, 1), np.float32))
    with pytest.raises(InputError, match="outside its range"):
        classifier.predict(np.full((1, 28, 28, 1), 3.0, np.float32))
    with pytest.raises(InputError, match="k must be an integer from 1 to 10"):
        classifier.predict(np.zeros((1, 28, 28, 1), np.float32), k=11)
    with pytest.raises(InputError, match="no digit"):
        classifier.top_k(np.ones((40, 40), np.float32))


def test_shipped_manifest_records_parity_and_accuracy() -> None:
    manifest = json.loads((SHIPPED / "manifest.json").read_text())
    assert manifest["files"]["classifier"]["parity"]["max_abs_diff"] <= 1e-4
    assert manifest["metrics"]["test_accuracy"] >= 0.97


@pytest.mark.slow
def test_tiny_classifier_trains_exports_and_matches_keras(tmp_path: Path, test_set) -> None:
    from toolkit import training
    from toolkit.export import export_run

    result = training.train("classifier", data="mnist-5k", runs_root=tmp_path / "runs", run_id="t", seed=3, epochs=2,
                            overrides={"limit": "256", "filters": "4,8", "features": "16", "augment": "0"},
                            verbose=0)
    assert 0.0 <= result.metrics["test_accuracy"] <= 1.0 and result.metrics["test_size"] == len(test_set[1])
    manifest = export_run(result.run_dir, tmp_path / "exported" / "c")
    assert manifest.files["classifier"].parity["max_abs_diff"] <= 1e-4
    # the exported features are the Keras penultimate layer, on real digits (not only random noise)
    import keras

    from toolkit.config import build_config
    from toolkit.registry import get_registry
    from toolkit.training import load_checkpoint

    spec = get_registry().model("classifier")
    model = spec.build(build_config(spec.config_class, manifest.training["config"]),
                       json.loads((result.run_dir / "data.json").read_text()))
    load_checkpoint(model, result.run_dir)
    both = keras.Model(model.input, [model.output, model.get_layer("features").output])
    want_p, want_f = (np.asarray(t) for t in both(test_set[0][:32], training=False))
    pipeline = runtime.load(tmp_path / "exported" / "c")
    got = pipeline.outputs(test_set[0][:32])
    np.testing.assert_allclose(got["probabilities"], want_p, atol=1e-5)
    np.testing.assert_allclose(got["features"], want_f, atol=1e-4)
