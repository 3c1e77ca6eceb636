"""The classifier-based Fréchet distance and class coverage (``toolkit.metrics.frechet``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy.linalg

from toolkit import runtime
from toolkit.datasets import mnist5k
from toolkit.errors import InputError
from toolkit.metrics import frechet
from toolkit.spec import DataRequest

SHIPPED = Path(__file__).resolve().parent.parent / "exported" / "classifier-mnist"


def reference_distance(mu1, s1, mu2, s2) -> float:
    """The textbook formula with scipy.linalg.sqrtm, as in the FID reference code."""
    covmean = scipy.linalg.sqrtm(s1 @ s2).real
    return float(np.sum((mu1 - mu2) ** 2) + np.trace(s1 + s2 - 2 * covmean))


def test_frechet_distance_matches_scipy_and_closed_forms() -> None:
    rng = np.random.default_rng(0)
    a = rng.standard_normal((500, 6)) @ rng.standard_normal((6, 6))
    b = rng.standard_normal((400, 6)) * 2 + 1
    got = frechet.feature_distance(a, b)
    assert got == pytest.approx(reference_distance(*frechet.statistics(a), *frechet.statistics(b)), rel=1e-6)
    assert frechet.feature_distance(a, a) == pytest.approx(0.0, abs=1e-8)
    # 1-D Gaussians: (m1-m2)^2 + (s1-s2)^2
    assert frechet.frechet_distance(np.array([1.0]), np.array([[4.0]]), np.array([3.0]), np.array([[1.0]])) \
        == pytest.approx(4.0 + 1.0)
    # singular covariances (dead features) stay real and finite
    c = np.concatenate([a[:, :3], np.zeros((500, 3))], axis=1)
    assert np.isfinite(frechet.feature_distance(c, a))
    with pytest.raises(InputError, match="different sizes"):
        frechet.frechet_distance(np.zeros(2), np.eye(2), np.zeros(3), np.eye(3))


def test_class_coverage_sees_mode_collapse() -> None:
    uniform = np.eye(10)[np.arange(100) % 10]
    collapsed = np.eye(10)[np.full(100, 3)]
    good, bad = frechet.class_coverage(uniform), frechet.class_coverage(collapsed)
    assert good["coverage"] == 1.0 and good["class_entropy"] == pytest.approx(1.0)
    assert good["classifier_score"] == pytest.approx(10.0, rel=1e-6)
    assert bad["coverage"] == 0.1 and bad["class_entropy"] == 0.0 and bad["class_histogram"][3] == 100
    assert bad["classifier_score"] == pytest.approx(1.0)


@pytest.fixture(scope="module")
def mnist():  # noqa: ANN201
    return mnist5k.load(None, DataRequest())


@pytest.fixture(scope="module")
def real(mnist) -> np.ndarray:  # noqa: ANN001
    return np.concatenate([mnist.x_train, mnist.x_test])


def test_evaluate_generated_separates_real_from_bad_samples(real: np.ndarray, mnist) -> None:  # noqa: ANN001
    classifier = runtime.load(SHIPPED)
    rng = np.random.default_rng(1)
    # "generated" = other real digits: close to the baseline
    held = frechet.evaluate_generated(real[::-1].copy(), classifier, reference=real, n=400, seed=2)
    # noise and a collapsed generator (only the digit 1) are far worse
    noise = frechet.evaluate_generated(rng.random((400, 28, 28, 1), dtype=np.float32), classifier,
                                       reference=real, n=400)
    ones = mnist.x_train[mnist.y_train == 1]
    collapsed = frechet.evaluate_generated(np.concatenate([ones] * 3)[:400], classifier, reference=real, n=400)
    assert held["baseline"] > 0 and held["frechet"] < 3 * held["baseline"] and held["coverage"] == 1.0
    assert noise["frechet"] > 20 * noise["baseline"]
    assert collapsed["frechet"] > 5 * collapsed["baseline"]
    assert collapsed["coverage"] == pytest.approx(0.1) and collapsed["class_histogram"][1] >= 390
    assert held["n"] == 400 and len(held["class_histogram"]) == 10
    # fixed seed -> the same figures
    again = frechet.evaluate_generated(real[::-1].copy(), classifier, reference=real, n=400, seed=2)
    assert again["frechet"] == held["frechet"] and again["baseline"] == held["baseline"]


def test_evaluate_generated_defaults_and_errors(real: np.ndarray, mnist) -> None:  # noqa: ANN001
    result = frechet.evaluate_generated(real[:900], str(SHIPPED))  # default: the 500 held-out mnist-5k digits
    assert result["n"] == 250 and result["baseline"] > 0
    np.testing.assert_array_equal(frechet.real_mnist(), mnist.x_test)
    with pytest.raises(InputError, match="split must be"):
        frechet.real_mnist("validation")
    with pytest.raises(InputError, match="generated images: 10 given, the metric needs 250"):
        frechet.evaluate_generated(real[:10], SHIPPED)
    with pytest.raises(InputError, match="reference images: 100 given, the metric needs 200"):
        frechet.evaluate_generated(real[:100], SHIPPED, reference=real[:100], n=100)
    with pytest.raises(InputError, match=r"\[N, 28, 28, 1\]"):
        frechet.evaluate_generated(np.zeros((250, 32, 32, 1), np.float32), SHIPPED)


def test_metric_and_digit_pipelines_need_no_tensorflow() -> None:
    """The GAN side scores samples from the serving side: no TensorFlow, Keras or tf2onnx imported."""
    import subprocess
    import sys

    code = (
        "import sys, numpy as np\n"
        "import toolkit.metrics.frechet as f, toolkit.runtime.tasks.autoencoder, toolkit.cli.commands.digits_cmds\n"
        f"r = f.evaluate_generated(np.random.default_rng(0).random((100, 28, 28, 1), dtype=np.float32), "
        f"{str(SHIPPED)!r}, n=100)\n"
        "assert r['frechet'] > r['baseline'] > 0\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras', 'tf2onnx'))\n"
        "assert not bad, bad[:5]\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            cwd=Path(__file__).resolve().parent.parent)
    assert result.returncode == 0, result.stderr[-2000:]
