"""Quality figures of the shipped GAN exports (not a timing benchmark), in one run.

    .venv/bin/python benchmarks/eval_generators.py

* digits generators: the classifier-based Fréchet distance (``toolkit.metrics.frechet``, features of
  ``exported/classifier-digits``, fixed n = 800) against the real-vs-real baseline, and class coverage;
* ``cgan-digits``: class accuracy — the share of samples that the digit classifier assigns to the
  label they were conditioned on (100 per class);
* ``dcgan-shapes`` (colour, not digits, so the digit classifier does not apply): a pixel-space
  Fréchet distance on 8x8-downsampled RGB images against the same real-vs-real baseline.

Samples come from the exported ONNX generators through ``ImageGenerator`` (seed 0).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
N = 800


def digits_figures(name: str) -> None:
    from toolkit import runtime
    from toolkit.metrics.frechet import evaluate_generated

    generator = runtime.load(ROOT / "exported" / name)
    classifier = runtime.load(ROOT / "exported" / "classifier-digits")
    if generator.conditional:
        labels = [i % 10 for i in range(1000)]
        images = generator.sample(1000, seed=0, labels=labels)
        predicted = classifier.predict(images, k=1)[0][:, 0]
        accuracy = float(np.mean(predicted == np.array(labels)))
        per_class = [float(np.mean(predicted[i::10] == i)) for i in range(10)]
        print(f"{name}: class accuracy {accuracy:.3f} (per class {', '.join(f'{a:.2f}' for a in per_class)})")
    else:
        images = generator.sample(1000, seed=0)
    result = evaluate_generated(images, classifier, n=N, seed=0)
    print(f"{name}: classifier Fréchet distance {result['frechet']:.2f} vs real-vs-real baseline "
          f"{result['baseline']:.2f} (ratio {result['ratio']:.2f}, n={N}); classes seen {result['classes_seen']}/10, "
          f"coverage {result['coverage']:.2f}, class entropy {result['class_entropy']:.3f}, "
          f"classifier score {result['classifier_score']:.2f} "
          f"(real: {result['reference_coverage']['classifier_score']:.2f})")


def pixel_features(images: np.ndarray) -> np.ndarray:
    n, h, w, c = images.shape
    return images.reshape(n, 8, h // 8, 8, w // 8, c).mean(axis=(2, 4)).reshape(n, -1)


def shapes_figures(name: str) -> None:
    from toolkit import runtime
    from toolkit.datasets import shapes
    from toolkit.metrics.frechet import feature_distance

    generator = runtime.load(ROOT / "exported" / name)
    size = generator.image_shape[0]
    real, _ = shapes.generate(2 * N, size, seed=123)  # not the training images (seed 1)
    fake = generator.sample(N, seed=0)
    a, b = pixel_features(real[:N]), pixel_features(real[N:])
    fd, base = feature_distance(pixel_features(fake), a), feature_distance(b, a)
    print(f"{name}: pixel Fréchet distance (8x8 RGB) {fd:.3f} vs real-vs-real baseline {base:.3f} "
          f"(ratio {fd / base:.2f}, n={N})")


def main() -> int:
    for name in ("dcgan-digits", "cgan-digits"):
        if (ROOT / "exported" / name).is_dir():
            digits_figures(name)
    if (ROOT / "exported" / "dcgan-shapes").is_dir():
        shapes_figures("dcgan-shapes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
