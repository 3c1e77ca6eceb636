"""Characters per second of char-rnn generation, measured in one run on the same machine.

    .venv/bin/python benchmarks/bench_char_rnn.py [--steps 1000] [--quant-export exported/char-rnn-pydocs]

At the reference size (embedding 256, one GRU of 1024 units, ~100 characters; random weights, as
speed does not depend on their values) it times:

* ``ort-step``     the exported ONNX step model on onnxruntime, state carried (what TextGenerator does);
* ``keras-step``   the same Keras GRUCell step inside a ``tf.function``, state carried as tensors;
* ``naive``        re-feeding the whole growing prefix through the Keras GRU for every new character;
* ``ort-loop``     the Keras GRU layer exported as is (an ONNX Loop), used for priming a prompt in one call,

at batch 1 and 32, plus the per-character cost of characters 0-100 against 900-1000 (flatness).
Each step feeds back the argmax of the logits, so every method does the same work. ``--quant-export``
also tries int8 dynamic quantisation of the step (speed at the reference size, and bits per
character on the held-out pydoc text with the given shipped export).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from toolkit.tf_setup import import_keras  # noqa: E402

VOCAB = 100
BLOCK = 100


def ort_session(proto_or_path, threads: int | None = None):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    if threads:
        options.intra_op_num_threads = threads
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    source = proto_or_path.SerializeToString() if hasattr(proto_or_path, "SerializeToString") else str(proto_or_path)
    return ort.InferenceSession(source, options, providers=["CPUExecutionProvider"])


def time_steps(step, batch: int, steps: int, carried=None):
    """Per-step seconds of ``steps`` steps of ``step(tokens, state) -> (logits, state)`` and the
    (token, state) to continue from. Each step feeds back the argmax of its logits."""
    token, state = carried
    times = np.empty(steps)
    for i in range(steps):
        start = time.perf_counter()
        logits, state = step(token, state)
        token = np.asarray(logits).argmax(axis=1).astype(np.int64)
        times[i] = time.perf_counter() - start
    return times, (token, state)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=1000, help="characters per stepped run (batch 1)")
    parser.add_argument("--naive-steps", type=int, default=150, help="characters for the naive re-feeding runs")
    parser.add_argument("--embedding", type=int, default=256)
    parser.add_argument("--units", type=int, default=1024)
    parser.add_argument("--threads", type=int, help="intra-op threads for onnxruntime and TensorFlow (default: theirs)")
    parser.add_argument("--quant-export", help="a shipped char-rnn export to measure int8 bits per character on")
    args = parser.parse_args()

    keras = import_keras()
    import tensorflow as tf

    from plugins.char_rnn.model import build_model, sequence, step
    from toolkit.export import convert
    from toolkit.spec import ExportSpec
    from toolkit.tensors import TensorInfo

    keras.utils.set_random_seed(0)
    if args.threads:
        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    units = args.units
    model = build_model(VOCAB, args.embedding, units, 1)
    token_info = TensorInfo("token", (None,), "int64", (0, VOCAB - 1))
    state_info = TensorInfo("state_0", (None, units), value_range=(-1.0, 1.0))
    step_spec = ExportSpec("step", lambda t, s: step(model, t, s), [token_info, state_info],
                           [TensorInfo("logits", (None, VOCAB)), TensorInfo("new_state_0", (None, units))])
    loop_spec = ExportSpec("prime", lambda t, s: (lambda out: (out[0][:, -1], out[1][0]))(sequence(model, t, [s])),
                           [TensorInfo("tokens", (None, None), "int64", (0, VOCAB - 1)), state_info],
                           [TensorInfo("logits", (None, VOCAB)), TensorInfo("new_state_0", (None, units))])
    rng = np.random.default_rng(0)
    step_file = convert(step_spec, rng)
    loop_file = convert(loop_spec, rng)
    step_ops = sorted({n.op_type for n in step_file.proto.graph.node})
    loop_ops = sorted({n.op_type for n in loop_file.proto.graph.node} & {"Loop", "Scan", "GRU"})
    print(f"reference size: embedding {args.embedding}, GRU {units}, vocab {VOCAB}; "
          f"step ops have a loop: {bool(set(step_ops) & {'Loop', 'Scan'})}; prime graph: {loop_ops}")

    step_session = ort_session(step_file.proto, args.threads)
    loop_session = ort_session(loop_file.proto, args.threads)

    def ort_step(token, state, session=step_session):
        logits, new_state = session.run(["logits", "new_state_0"], {"token": token, "state_0": state})
        return logits, new_state

    keras_fn = tf.function(lambda t, s: step(model, t, s), reduce_retracing=True,
                           input_signature=[tf.TensorSpec([None], tf.int64), tf.TensorSpec([None, units], tf.float32)])

    def keras_step(token, state):
        logits, new_state = keras_fn(tf.constant(token), state if tf.is_tensor(state) else tf.constant(state))
        return logits.numpy(), new_state

    seq_fn = tf.function(lambda t, s: sequence(model, t, [s]), reduce_retracing=True,
                         input_signature=[tf.TensorSpec([None, None], tf.int64), tf.TensorSpec([None, units], tf.float32)])

    def naive(batch: int, chars: int) -> np.ndarray:
        tokens = np.zeros((batch, 1), np.int64)
        zeros = tf.zeros((batch, units))
        times = np.empty(chars)
        for i in range(chars):
            start = time.perf_counter()
            logits, _ = seq_fn(tf.constant(tokens), zeros)
            nxt = logits[:, -1].numpy().argmax(axis=1)[:, None]
            tokens = np.concatenate([tokens, nxt], axis=1)
            times[i] = time.perf_counter() - start
        return times

    # The machine is shared: methods are timed in interleaved blocks of BLOCK steps (each method's
    # state carried from its previous block), so load spikes hit all of them alike; medians of
    # per-step times are reported next to plain means.
    results: dict[str, dict[str, float]] = {}
    for batch in (1, 32):
        steps = args.steps if batch == 1 else max(BLOCK, args.steps // 5)
        methods = {"ort-step": ort_step, "keras-step": keras_step}
        carried = {}
        times: dict[str, list[np.ndarray]] = {name: [] for name in methods}
        for name, fn in methods.items():
            fn(np.zeros(batch, np.int64), np.zeros((batch, units), np.float32))  # warm up / trace
            carried[name] = (np.zeros(batch, np.int64), np.zeros((batch, units), np.float32))
        for _ in range(steps // BLOCK):
            for name, fn in methods.items():
                block, carried[name] = time_steps(fn, batch, BLOCK, carried[name])
                times[name].append(block)
        for name in methods:
            t = np.concatenate(times[name])
            results[f"{name} b{batch}"] = {
                "chars_per_s": batch * len(t) / t.sum(), "median_chars_per_s": batch / np.median(t),
                "steps": len(t), "ms_median_first_100": 1e3 * np.median(t[:100]),
                "ms_median_last_100": 1e3 * np.median(t[-100:])}
        naive_steps = args.naive_steps if batch == 1 else max(20, args.naive_steps // 3)
        naive(batch, 2)  # trace
        t = naive(batch, naive_steps)
        k = max(1, naive_steps // 5)
        results[f"naive-refeed b{batch}"] = {"chars_per_s": batch * naive_steps / t.sum(),
                                             "median_chars_per_s": batch / np.median(t), "steps": naive_steps,
                                             f"ms_median_first_{k}": 1e3 * np.median(t[:k]),
                                             f"ms_median_last_{k}": 1e3 * np.median(t[-k:])}

    print("\ncharacters per second (higher is better): mean over the run, and from the median step time;"
          "\nmedian ms per step over the first and the last characters of the run")
    for name, row in results.items():
        extras = "  ".join(f"{k[3:]} {v:.3f}" for k, v in row.items() if k.startswith("ms_"))
        print(f"  {name:18s} {row['chars_per_s']:9.1f} chars/s (median {row['median_chars_per_s']:9.1f}) "
              f"over {row['steps']} steps   {extras}")
    for batch in (1, 32):
        ort_row, keras_row = results[f"ort-step b{batch}"], results[f"keras-step b{batch}"]
        naive_row = results[f"naive-refeed b{batch}"]
        print(f"  batch {batch}: ort-step / keras-step = {ort_row['chars_per_s'] / keras_row['chars_per_s']:.2f}x "
              f"(medians {ort_row['median_chars_per_s'] / keras_row['median_chars_per_s']:.2f}x); "
              f"ort-step / naive-refeed over {naive_row['steps']} chars = "
              f"{ort_row['chars_per_s'] / naive_row['chars_per_s']:.1f}x")
    # Flatness: characters 0-100 (from zero state) against 900-1000 (from the state after 900
    # characters), in alternating blocks so that both see the same machine load.
    late = time_steps(ort_step, 1, 900, (np.zeros(1, np.int64), np.zeros((1, units), np.float32)))[1]
    early_t, late_t = [], []
    for _ in range(5):
        early_t.append(time_steps(ort_step, 1, BLOCK, (np.zeros(1, np.int64), np.zeros((1, units), np.float32)))[0])
        late_t.append(time_steps(ort_step, 1, BLOCK, late)[0])
    early_ms, late_ms = 1e3 * np.median(np.concatenate(early_t)), 1e3 * np.median(np.concatenate(late_t))
    print(f"  flatness (ort-step b1, median step, alternating blocks): chars 900-1000 {late_ms:.3f} ms, "
          f"chars 0-100 {early_ms:.3f} ms -> {late_ms / early_ms:.2f}x")

    # Priming a prompt: one step per character vs one call of the Loop graph.
    prompt_len = 200
    prompt = rng.integers(0, VOCAB, size=(1, prompt_len)).astype(np.int64)
    zeros = np.zeros((1, units), np.float32)
    loop_session.run(None, {"tokens": prompt, "state_0": zeros})
    loop_times, step_times = [], []
    for _ in range(5):  # interleaved, medians: robust to load spikes on a shared machine
        start = time.perf_counter()
        loop_out = loop_session.run(["logits", "new_state_0"], {"tokens": prompt, "state_0": zeros})
        loop_times.append(time.perf_counter() - start)
        start = time.perf_counter()
        state = zeros
        for i in range(prompt_len):
            logits, state = ort_step(prompt[:, i], state)
        step_times.append(time.perf_counter() - start)
    loop_s, stepped_s = float(np.median(loop_times)), float(np.median(step_times))
    print(f"\npriming a {prompt_len}-char prompt (batch 1): ort-step x{prompt_len} {1e3 * stepped_s:.1f} ms, "
          f"ort Loop graph in one call {1e3 * loop_s:.1f} ms (Loop / step = {loop_s / stepped_s:.2f}x); "
          f"same result: max diff {np.abs(loop_out[0] - logits).max():.2g}")

    if args.quant_export:
        quantisation(step_file.proto, units, Path(args.quant_export), args.threads)


def compare_speed(sessions: dict, state_names: list[str], units: int, batch: int, rounds: int = 5) -> dict[str, float]:
    """Interleaved blocks of BLOCK steps per session; chars/s from the median step time."""
    def stepper(session):
        outputs = ["logits", *("new_" + n for n in state_names)]

        def run(token, state):
            logits, *new = session.run(outputs, {"token": token, **dict(zip(state_names, state))})
            return logits, new
        return run

    fns = {name: stepper(session) for name, session in sessions.items()}
    zero = lambda: (np.zeros(batch, np.int64), [np.zeros((batch, units), np.float32) for _ in state_names])  # noqa: E731
    carried = {name: zero() for name in fns}
    times: dict[str, list[np.ndarray]] = {name: [] for name in fns}
    for name, fn in fns.items():
        time_steps(fn, batch, 5, zero())
    for _ in range(rounds):
        for name, fn in fns.items():
            block, carried[name] = time_steps(fn, batch, BLOCK, carried[name])
            times[name].append(block)
    return {name: batch / float(np.median(np.concatenate(t))) for name, t in times.items()}


def quantisation(step_proto, units: int, export: Path, threads: int | None) -> None:
    """int8 dynamic quantisation: speed at the reference and shipped sizes, bpc on the shipped model."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    from toolkit.datasets.text import load_pydoc
    from toolkit.spec import DataRequest

    manifest = json.loads((export / "manifest.json").read_text())
    info = manifest["info"]
    with tempfile.TemporaryDirectory() as tmp:
        fp32, int8 = Path(tmp) / "ref.onnx", Path(tmp) / "ref-int8.onnx"
        fp32.write_bytes(step_proto.SerializeToString())
        quantize_dynamic(str(fp32), str(int8), weight_type=QuantType.QInt8)
        shipped_q = Path(tmp) / "shipped-int8.onnx"
        quantize_dynamic(str(export / "step.onnx"), str(shipped_q), weight_type=QuantType.QInt8)
        print()
        for label, pair, names, size in (
            ("reference size", (fp32, int8), ["state_0"], units),
            (f"shipped {export.name}", (export / "step.onnx", shipped_q), info["state_inputs"], info["units"]),
        ):
            for batch in (1, 32):
                speed = compare_speed({"fp32": ort_session(pair[0], threads), "int8": ort_session(pair[1], threads)},
                                      names, size, batch)
                print(f"int8 dynamic quantisation, {label}, batch {batch}: fp32 {speed['fp32']:.0f} chars/s, "
                      f"int8 {speed['int8']:.0f} chars/s ({speed['int8'] / speed['fp32']:.2f}x, median step)")
        text = load_pydoc(None, DataRequest()).x_test
        index = {c: i for i, c in enumerate(info["vocabulary"]) if i != 0}
        tokens = np.array([index.get(c, 0) for c in text], np.int64)
        bpc = {name: onnx_bits_per_character(ort_session(path, threads), tokens, info)
               for name, path in (("fp32", export / "step.onnx"), ("int8", shipped_q))}
        print(f"held-out bits per character of {export.name}: fp32 {bpc['fp32']:.4f}, int8 {bpc['int8']:.4f} "
              f"(int8 - fp32 = {bpc['int8'] - bpc['fp32']:+.4f})")
        print(f"size: fp32 {(export / 'step.onnx').stat().st_size / 1e6:.2f} MB, "
              f"int8 {shipped_q.stat().st_size / 1e6:.2f} MB")


def onnx_bits_per_character(session, tokens: np.ndarray, info: dict, streams: int = 16) -> float:
    """Bits per character of ``tokens`` under a step model, state carried (same method as training's)."""
    length = (len(tokens) - 1) // streams
    inputs = tokens[: streams * length].reshape(streams, length)
    targets = tokens[1: streams * length + 1].reshape(streams, length)
    states = {name: np.zeros((streams, info["units"]), np.float32) for name in info["state_inputs"]}
    outputs = ["logits", *info["state_outputs"]]
    total = 0.0
    for t in range(length):
        logits, *new = session.run(outputs, {"token": inputs[:, t], **states})
        states = dict(zip(info["state_inputs"], new))
        logits = logits.astype(np.float64)
        top = logits.max(axis=1)
        log_z = top + np.log(np.exp(logits - top[:, None]).sum(axis=1))
        total += float((log_z - logits[np.arange(streams), targets[:, t]]).sum())
    return total / (streams * length) / math.log(2)


if __name__ == "__main__":
    main()
