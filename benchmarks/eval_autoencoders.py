"""Test figures of the shipped autoencoder exports through onnxruntime, and their picture assets.

    .venv/bin/python benchmarks/eval_autoencoders.py [EXPORT_DIR ...] [--write-assets]

For each autoencoder / VAE export (default: every one in ``exported/``), on the 500 held-out
``mnist-5k`` test digits: reconstruction MSE per pixel (a VAE decodes its mean ``mu``), next to the
MSE of predicting the mean test image; for a VAE also the mean KL divergence to N(0, I) in nats.

``--write-assets`` writes into each export ``reconstructions.png`` (top row: 10 test digits, one
per class; bottom row: their reconstructions) and, for a VAE, ``samples.png`` (64 decodings of
z ~ N(0, I), seed 1) and ``interpolation.png`` (rows: linear path between the codes of a test "2" and a test "7",
then the path between their posterior distributions).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
TASKS = ("autoencoder", "vae")


def autoencoder_exports(root: Path) -> list[Path]:
    return [m.parent for m in sorted(root.glob("*/manifest.json"))
            if json.loads(m.read_text()).get("task") in TASKS]


def figures(pipeline, x: np.ndarray) -> dict[str, float]:  # noqa: ANN001
    recon = pipeline.reconstruct(x)
    result = {"test_mse": float(np.mean((recon - x) ** 2)),
              "mean_image_mse": float(np.mean((x.mean(axis=0) - x) ** 2)), "test_size": len(x)}
    if pipeline.is_vae:
        mu, logvar = pipeline.encode_distribution(x)
        kl = 0.5 * np.sum(np.exp(logvar) + mu ** 2 - 1.0 - logvar, axis=1)
        result["mean_kl_nats"] = float(kl.mean())
    return result


def write_assets(path: Path, pipeline, x: np.ndarray, y: np.ndarray) -> None:  # noqa: ANN001
    from toolkit.fsutil import atomic_write_bytes
    from toolkit.images import make_grid, png_bytes

    picks = np.array([np.flatnonzero(y == d)[0] for d in range(10)])
    pairs = np.concatenate([x[picks], pipeline.reconstruct(x[picks])])
    atomic_write_bytes(path / "reconstructions.png", png_bytes(make_grid(pairs, 10)))
    if pipeline.is_vae:
        z = np.random.default_rng(1).standard_normal((64, pipeline.latent_dim)).astype(np.float32)
        atomic_write_bytes(path / "samples.png", png_bytes(make_grid(pipeline.decode(z), 8)))
        a, b = x[picks[2]], x[picks[7]]
        rows = [pipeline.interpolate(a, b, steps=10, method="linear"),
                pipeline.interpolate_distributions(a, b, steps=10, seed=1)]
        atomic_write_bytes(path / "interpolation.png", png_bytes(make_grid(np.concatenate(rows), 10)))


def main(argv: list[str] | None = None) -> int:
    from toolkit import runtime
    from toolkit.datasets import mnist5k
    from toolkit.spec import DataRequest

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("exports", nargs="*", type=Path)
    parser.add_argument("--write-assets", action="store_true")
    args = parser.parse_args(argv)
    data = mnist5k.load(None, DataRequest())
    for path in args.exports or autoencoder_exports(ROOT / "exported"):
        pipeline = runtime.load(path)
        result = figures(pipeline, data.x_test)
        kl = f", mean KL {result['mean_kl_nats']:.2f} nats" if "mean_kl_nats" in result else ""
        print(f"{path.name}: test reconstruction MSE {result['test_mse']:.5f} per pixel on {result['test_size']} "
              f"held-out mnist-5k digits (mean-image MSE {result['mean_image_mse']:.5f}){kl}")
        if args.write_assets:
            write_assets(path, pipeline, data.x_test, data.y_test)
    return 0


if __name__ == "__main__":
    sys.exit(main())
