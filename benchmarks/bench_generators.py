"""Benchmark: onnxruntime vs Keras for the shipped GAN generators, batch 1 and 64, in one run.

    .venv/bin/python benchmarks/bench_generators.py [EXPORT_DIR ...] [--repeats N]

For each export the Keras generator is rebuilt from the manifest's training config (the plugin's
own ``build``) and, when the run directory named in the manifest is present under ``runs/``, its
checkpoint is loaded and the outputs compared; otherwise Keras runs on freshly initialised weights
of the same architecture (timing does not depend on weight values). Timed on the same z:

* Keras ``generator(z, training=False)`` (eager call) and ``generator.predict(z)``;
* onnxruntime ``InferenceSession.run`` on the exported file (CPU provider), and the
  ``ImageGenerator.generate`` pipeline (input validation included).

The contenders are timed round-robin (``--repeats`` rounds after warm-up) so load from other
processes hits them alike; ratios = Keras time / ORT time, from medians and from minima.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DEFAULT_EXPORTS = ["exported/dcgan-mnist", "exported/cgan-mnist", "exported/dcgan-shapes"]


def interleaved_times(fns: dict, repeats: int, warmup: int = 3) -> dict[str, tuple[float, float]]:
    """(median, min) seconds per callable, timed round-robin so that load from other processes on
    a shared machine hits every contender alike."""
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {name: (statistics.median(t), min(t)) for name, t in times.items()}


def keras_generator(export_dir: Path):  # noqa: ANN201
    """The export's Keras generator: same plugin, same config, checkpoint weights when available."""
    from toolkit.config import build_config
    from toolkit.registry import get_registry
    from toolkit.training import load_checkpoint

    manifest = json.loads((export_dir / "manifest.json").read_text())
    spec = get_registry().model(manifest["model"])
    config = build_config(spec.config_class, manifest["training"]["config"])
    data_info = dict(manifest["training"]["data_info"])
    data_info.setdefault("image_shape", manifest["info"]["image_shape"])
    data_info.setdefault("labels", manifest["info"]["labels"])
    data_info.setdefault("multi_label", manifest["info"]["multi_label"])
    data_info.setdefault("sample_labels", [[0] * len(manifest["info"]["labels"])])
    model = spec.build(config, data_info)
    run_dir = ROOT / "runs" / manifest["model"] / str(manifest["training"].get("run"))
    weights = "random init (run directory not present)"
    if (run_dir / "checkpoint.keras").is_file():
        load_checkpoint(model, run_dir)
        weights = f"checkpoint {run_dir.relative_to(ROOT)}"
    return model.generator, weights


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("exports", nargs="*", default=DEFAULT_EXPORTS)
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args()

    import onnxruntime as ort

    from toolkit import runtime
    from toolkit.tf_setup import import_keras

    import_keras()
    print(f"onnxruntime {ort.__version__}, CPU provider; ratio = Keras time / ORT time (round-robin timing)")
    for export in args.exports:
        export_dir = ROOT / export
        generator = runtime.load(export_dir, providers=["CPUExecutionProvider"])
        session = generator.sessions["generator"].session
        keras_gen, weights = keras_generator(export_dir)
        print(f"\n{export}  ({generator.image_shape}, latent {generator.latent_dim}; Keras weights: {weights})")
        for batch in (1, 64):
            z = generator.random_z(batch, seed=0)
            inputs = [z]
            feeds = {"z": z}
            labels = None
            if generator.conditional:
                labels = np.eye(len(generator.label_names), dtype=np.float32)[np.arange(batch) % len(generator.label_names)]
                inputs.append(labels)
                feeds["labels"] = labels
            keras_in = inputs if len(inputs) > 1 else inputs[0]
            keras_out = (np.asarray(keras_gen(keras_in, training=False)) + 1) / 2
            ort_out = session.run(None, feeds)[0]
            diff = float(np.abs(keras_out - ort_out).max())
            repeats = args.repeats if batch == 1 else max(5, args.repeats // 2)
            t = interleaved_times({
                "call": lambda: keras_gen(keras_in, training=False),
                "predict": lambda: keras_gen.predict(keras_in, verbose=0),
                "ort": lambda: session.run(None, feeds),
                "pipeline": lambda: generator.generate(z, labels),
            }, repeats)
            med = {k: v[0] for k, v in t.items()}
            low = {k: v[1] for k, v in t.items()}
            print(f"  batch {batch:3d}: median ms  keras call {med['call'] * 1e3:7.2f}  predict {med['predict'] * 1e3:7.2f}"
                  f"  ort {med['ort'] * 1e3:6.2f}  pipeline {med['pipeline'] * 1e3:6.2f}   (max |keras-ort| {diff:.2g})")
            print(f"             ratio (median) call/ort {med['call'] / med['ort']:6.1f}x  predict/ort "
                  f"{med['predict'] / med['ort']:6.1f}x  call/pipeline {med['call'] / med['pipeline']:6.1f}x   "
                  f"ratio (min) call/ort {low['call'] / low['ort']:6.1f}x  predict/ort {low['predict'] / low['ort']:6.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
