"""Quality figures of the shipped GAN exports (not a timing benchmark), in one run.

    .venv/bin/python benchmarks/eval_generators.py [EXPORT_DIR ...] [--classifier DIR] [--json OUT]

With no EXPORT_DIR it scores every generator export in ``exported/``. For the grey 28x28 digit
generators (trained on ``mnist-5k``):

* the classifier Fréchet distance (``toolkit.metrics.frechet``, features of
  ``exported/classifier-mnist``) against the 500 held-out real ``mnist-5k`` test digits, n = 250,
  next to the real-vs-real baseline (two disjoint halves of those 500) and their ratio;
* the same against the 4,500 training digits at n = 2,000 (a larger n shrinks the estimator's bias,
  so this ratio is the stricter one);
* class coverage (top-1 class histogram, classes seen, entropy, classifier score);
* conditional generators: conditioning accuracy — the share of samples that the classifier
  assigns to the label they were drawn for (100 per class), overall and per class;
* BEGAN: its convergence curve M (and k_t) per epoch, read from ``convergence.json`` that the
  began plugin writes into its export from the run's history.

``--grid docs/generators.png`` also writes one composite image of every scored export's
``samples.png``, each under its name (the README shows it).

Colour generators (``dcgan-shapes``) get a pixel-space Fréchet distance on 8x8-downsampled RGB
images against the same real-vs-real baseline. Samples come from the exported ONNX generators
through ``ImageGenerator`` (seed 0).
"""

from __future__ import annotations

import argparse
import io
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
N_HELD_OUT = 250
N_TRAIN = 2000
SAMPLES = 2000
GENERATOR_TASKS = ("image-generator", "conditional-generator")


def generator_exports(root: Path) -> list[Path]:
    """Every export under ``root`` whose manifest task is a generator, sorted by name."""
    found = []
    for manifest in sorted(root.glob("*/manifest.json")):
        if json.loads(manifest.read_text()).get("task") in GENERATOR_TASKS:
            found.append(manifest.parent)
    return found


def draw(generator: Any, n: int) -> tuple[np.ndarray, list[int] | None]:
    """``n`` samples (seed 0); conditional generators cycle through the classes."""
    if generator.conditional and not generator.multi_label:
        labels = [i % len(generator.label_names) for i in range(n)]
        return generator.sample(n, seed=0, labels=labels), labels
    return generator.sample(n, seed=0), None


def curve(values: list[float], points: int = 8) -> str:
    """A few evenly spaced (epoch: value) pairs of a per-epoch series."""
    if not values:
        return "(empty)"
    idx = sorted({int(round(i)) for i in np.linspace(0, len(values) - 1, min(points, len(values)))})
    return ", ".join(f"{i + 1}: {values[i]:.4f}" for i in idx)


def digits_figures(path: Path, classifier: Any, held_out: np.ndarray, train: np.ndarray) -> dict[str, Any]:
    from toolkit import runtime
    from toolkit.metrics.frechet import evaluate_generated

    generator = runtime.load(path)
    images, labels = draw(generator, SAMPLES)
    result: dict[str, Any] = {"export": path.name}
    if labels is not None:
        predicted = classifier.predict(images[:1000], k=1)[0][:, 0]
        truth = np.array(labels[:1000])
        result["class_accuracy"] = float(np.mean(predicted == truth))
        result["class_accuracy_per_class"] = [float(np.mean(predicted[truth == c] == c)) for c in range(10)]
    held = evaluate_generated(images, classifier, reference=held_out, n=N_HELD_OUT, seed=0)
    tight = evaluate_generated(images, classifier, reference=train, n=N_TRAIN, seed=0)
    result["held_out"] = {k: held[k] for k in ("frechet", "baseline", "ratio", "n")}
    result["train"] = {k: tight[k] for k in ("frechet", "baseline", "ratio", "n")}
    result["coverage"] = {k: tight[k] for k in ("class_histogram", "classes_seen", "coverage", "class_entropy",
                                                "classifier_score", "reference_coverage")}
    history = path / "convergence.json"
    if history.is_file():
        result["convergence"] = json.loads(history.read_text())
    return result


def print_digits(r: dict[str, Any]) -> None:
    name, held, tight, cov = r["export"], r["held_out"], r["train"], r["coverage"]
    print(f"{name}: classifier Fréchet vs held-out real {held['frechet']:.2f}, baseline {held['baseline']:.2f} "
          f"(ratio {held['ratio']:.2f}, n={held['n']}); vs training digits {tight['frechet']:.2f}, baseline "
          f"{tight['baseline']:.2f} (ratio {tight['ratio']:.2f}, n={tight['n']})")
    print(f"{name}: classes seen {cov['classes_seen']}/10, coverage {cov['coverage']:.2f}, class entropy "
          f"{cov['class_entropy']:.3f}, classifier score {cov['classifier_score']:.2f} "
          f"(real: {cov['reference_coverage']['classifier_score']:.2f}); histogram {cov['class_histogram']}")
    if "class_accuracy" in r:
        per = ", ".join(f"{a:.2f}" for a in r["class_accuracy_per_class"])
        print(f"{name}: conditioning accuracy {r['class_accuracy']:.3f} (per class {per})")
    if "convergence" in r:
        conv = r["convergence"]
        print(f"{name}: BEGAN convergence M by epoch {curve(conv.get('convergence', []))}")
        print(f"{name}: BEGAN k_t by epoch {curve(conv.get('k', []))}")


def pixel_features(images: np.ndarray) -> np.ndarray:
    n, h, w, c = images.shape
    return images.reshape(n, 8, h // 8, 8, w // 8, c).mean(axis=(2, 4)).reshape(n, -1)


def shapes_figures(path: Path) -> dict[str, Any]:
    from toolkit import runtime
    from toolkit.datasets import shapes
    from toolkit.metrics.frechet import feature_distance

    n = 800
    generator = runtime.load(path)
    size = generator.image_shape[0]
    real, _ = shapes.generate(2 * n, size, seed=123)  # not the training images (seed 1)
    fake = generator.sample(n, seed=0)
    a, b = pixel_features(real[:n]), pixel_features(real[n:])
    fd, base = feature_distance(pixel_features(fake), a), feature_distance(b, a)
    print(f"{path.name}: pixel Fréchet distance (8x8 RGB) {fd:.3f} vs real-vs-real baseline {base:.3f} "
          f"(ratio {fd / base:.2f}, n={n})")
    return {"export": path.name, "pixel_frechet": fd, "baseline": base, "ratio": fd / base, "n": n}


def composite(exports: list[Path], out: Path, height: int = 242) -> None:
    """Every export's ``samples.png`` scaled to one height, side by side, each captioned with its name."""
    from PIL import Image, ImageDraw

    tiles = []
    for path in exports:
        if (path / "samples.png").is_file():
            image = Image.open(path / "samples.png").convert("RGB")
            width = round(image.width * height / image.height)
            tiles.append((path.name, image.resize((width, height), Image.Resampling.NEAREST)))
    if not tiles:
        return
    caption, gap = 18, 8
    canvas = Image.new("RGB", (sum(t.width for _, t in tiles) + gap * (len(tiles) + 1), height + caption + gap),
                       "white")
    draw = ImageDraw.Draw(canvas)
    x = gap
    for name, tile in tiles:
        draw.text((x, 3), name, fill="black")
        canvas.paste(tile, (x, caption))
        x += tile.width + gap
    from toolkit.fsutil import atomic_write_bytes

    buffer = io.BytesIO()
    canvas.save(buffer, format="PNG", optimize=True)
    atomic_write_bytes(out, buffer.getvalue())
    print(f"wrote {out} ({len(tiles)} generators)")


def main(argv: list[str] | None = None) -> int:
    from toolkit import runtime
    from toolkit.metrics.frechet import real_mnist

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("exports", nargs="*", type=Path, help="generator export directories (default: all shipped)")
    parser.add_argument("--classifier", type=Path, default=ROOT / "exported" / "classifier-mnist")
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    parser.add_argument("--grid", type=Path, help="also write a composite PNG of every export's samples.png")
    args = parser.parse_args(argv)
    exports = args.exports or generator_exports(ROOT / "exported")
    if args.grid:
        composite(exports, args.grid)
    classifier = runtime.load(args.classifier)
    held_out, train = real_mnist("test"), real_mnist("train")
    results = []
    for path in exports:
        generator = runtime.load(path)
        if tuple(generator.image_shape) == (28, 28, 1):
            result = digits_figures(path, classifier, held_out, train)
            print_digits(result)
        elif generator.image_shape[-1] == 3:
            result = shapes_figures(path)
        else:
            print(f"{path.name}: skipped (image shape {generator.image_shape} is neither a digit nor RGB)")
            continue
        results.append(result)
    if args.json:
        from toolkit.fsutil import atomic_write_json

        atomic_write_json(args.json, {"classifier": str(args.classifier), "results": results})
    return 0


if __name__ == "__main__":
    sys.exit(main())
