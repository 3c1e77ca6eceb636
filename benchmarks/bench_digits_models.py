"""onnxruntime vs Keras speed for every file of the shipped digit exports, measured in one run.

For each ONNX file of ``exported/{classifier,autoencoder,vae}-mnist`` this rebuilds the Keras
callable it was exported from (from the training run in ``runs/<model>/<run>``, see each
``REPRODUCE.md``), then times on the same input, at batch 1 and 64:

* ``ort``      — ``onnxruntime.InferenceSession.run`` (CPU provider);
* ``model(x)`` — the Keras callable called eagerly, as a Python program would;
* ``predict``  — ``keras.Model.predict`` (a compiled tf.function, but per-call overhead);

and prints the ratios ``model(x) / ort`` and ``predict / ort`` (> 1 means onnxruntime is faster).
Timings are medians over interleaved rounds, so background load hits every contender alike.

    python benchmarks/bench_digits_models.py [--threads N] [--rounds 7]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

EXPORTS = ["classifier-mnist", "autoencoder-mnist", "vae-mnist"]


def keras_callables(export_dir: Path, runs_root: Path) -> dict[str, tuple[object, list]]:
    """For each exported file: a Keras model wrapping the exported callable, and its inputs."""
    from toolkit.config import build_config
    from toolkit.manifest import read_manifest
    from toolkit.registry import get_registry
    from toolkit.tf_setup import import_keras
    from toolkit.training import load_checkpoint

    keras = import_keras()
    manifest = read_manifest(export_dir)
    run_dir = runs_root / manifest.model / manifest.training["run"]
    if not run_dir.is_dir():
        raise SystemExit(f"{run_dir} is missing: reproduce it with {export_dir}/REPRODUCE.md first")
    spec = get_registry().model(manifest.model)
    config = build_config(spec.config_class, manifest.training["config"])
    data_info = json.loads((run_dir / "data.json").read_text())
    model = spec.build(config, data_info)
    load_checkpoint(model, run_dir)
    result = {}
    for export in spec.exports(model, config, data_info):
        inputs = [keras.Input(t.shape[1:], name=t.name, dtype=t.dtype) for t in export.inputs]
        outputs = export.function(*inputs)
        wrapped = keras.Model(inputs[0] if len(inputs) == 1 else inputs,
                              list(outputs) if isinstance(outputs, tuple) else outputs)
        result[export.name] = (wrapped, export.inputs)
    return result


def per_call(fn, calls: int) -> float:
    start = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - start) / calls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1,
                        help="onnxruntime intra-op threads (default: all cores, like TensorFlow)")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--runs", default=str(ROOT / "runs"))
    parser.add_argument("exports", nargs="*", default=EXPORTS, help=f"export names (default: {' '.join(EXPORTS)})")
    args = parser.parse_args()

    import onnxruntime as ort

    from toolkit.export import random_inputs
    from toolkit.manifest import read_manifest

    rng = np.random.default_rng(0)
    print(f"onnxruntime {ort.__version__}, {args.threads} intra-op thread(s), CPUExecutionProvider; "
          f"median of {args.rounds} interleaved rounds")
    print(f"{'file':34s} {'batch':>5s} {'ort ms':>9s} {'model(x) ms':>12s} {'predict ms':>11s} "
          f"{'model(x)/ort':>13s} {'predict/ort':>12s}")
    for name in args.exports:
        export_dir = ROOT / "exported" / name
        manifest = read_manifest(export_dir)
        models = keras_callables(export_dir, Path(args.runs))
        for file, entry in manifest.files.items():
            options = ort.SessionOptions()
            options.intra_op_num_threads = args.threads
            options.inter_op_num_threads = 1
            options.log_severity_level = 3
            session = ort.InferenceSession(str(export_dir / entry.path), options, providers=["CPUExecutionProvider"])
            wrapped, inputs = models[file]
            for batch in (1, 64):
                arrays = random_inputs(inputs, rng, batch)
                feeds = {t.name: a for t, a in zip(inputs, arrays)}
                x = arrays[0] if len(arrays) == 1 else arrays
                # warm up every path (graph tracing, allocations)
                for _ in range(3):
                    session.run(None, feeds)
                    wrapped(x, training=False)
                    wrapped.predict(x, verbose=0, batch_size=batch)
                calls = 50 if batch == 1 else 10
                times = {"ort": [], "call": [], "predict": []}
                for _ in range(args.rounds):
                    times["ort"].append(per_call(lambda: session.run(None, feeds), calls))
                    times["call"].append(per_call(lambda: wrapped(x, training=False), max(5, calls // 5)))
                    times["predict"].append(per_call(lambda: wrapped.predict(x, verbose=0, batch_size=batch),
                                                     max(3, calls // 10)))
                med = {k: statistics.median(v) * 1000 for k, v in times.items()}
                print(f"{name + '/' + entry.path:34s} {batch:5d} {med['ort']:9.3f} {med['call']:12.3f} "
                      f"{med['predict']:11.3f} {med['call'] / med['ort']:12.1f}x {med['predict'] / med['ort']:11.1f}x",
                      flush=True)


if __name__ == "__main__":
    main()
