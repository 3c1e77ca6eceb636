"""``char-rnn``: a character-level GRU language model and its stateful ONNX step export.

Registered through the ``onnxkit`` entry point ``char_rnn``. Keras is imported only inside the
methods (through :mod:`plugins.char_rnn.model`), so listing models stays fast.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from toolkit.config import TrainingConfig
from toolkit.errors import DatasetError, ExportError
from toolkit.hookspecs import hookimpl
from toolkit.spec import Dataset, ExportSpec, FitData, ModelSpec
from toolkit.tensors import TensorInfo

from plugins.char_rnn.vocab import UNKNOWN_INDEX, build_vocabulary, encode, vocabulary_facts

#: Length of the export-time rollout on which ONNX and Keras logits must agree.
ROLLOUT_STEPS = 1000
ROLLOUT_BATCH = 2
#: ONNX ops that mean a recurrence was exported as a graph loop (slow on onnxruntime).
LOOP_OPS = {"Loop", "Scan"}
#: The optional int8 step shipped as an asset (``quantize=true``).
INT8_STEP = "step_int8.onnx"


@dataclass
class CharRNNConfig(TrainingConfig):
    embedding_dim: int = field(default=256, metadata={"help": "embedding size (reference 256)", "min": 1, "max": 4096})
    units: int = field(default=1024, metadata={"help": "GRU units per layer (reference 1024)", "min": 1, "max": 8192})
    layers: int = field(default=1, metadata={"help": "stacked GRU layers", "min": 1, "max": 8})
    seq_length: int = field(default=100, metadata={"help": "characters per training sequence", "min": 2, "max": 10000})
    batch_size: int = field(default=64, metadata={"min": 1, "max": 4096})
    learning_rate: float = field(default=2e-3, metadata={"help": "Adam learning rate", "min": 0.0})
    clipnorm: float = field(default=1.0, metadata={"help": "gradient norm clip (0 = off)", "min": 0.0})
    min_count: int = field(default=2, metadata={
        "help": "characters seen fewer times in the training text map to the unknown token", "min": 1})
    export_prime: bool = field(default=True, metadata={
        "help": "also export 'prime': the GRU over a whole prompt in one call (an ONNX Loop; measured faster "
                "than stepping for priming)"})
    quantize: bool = field(default=False, metadata={
        "help": "also ship step_int8.onnx, the step with int8 dynamic quantisation (opt-in at run time). "
                "Measured: 2-7x faster steps at the reference size, 1.4-1.6x for small models, bpc unchanged"})
    unknown: str = field(default="replace", metadata={
        "help": "runtime policy for prompt characters outside the vocabulary", "choices": ("replace", "error")})
    limit: int | None = field(default=None, metadata={"help": "keep at most this many training characters", "min": 2})


class CharRNN(ModelSpec):
    name = "char-rnn"
    task = "text-generator"
    description = "Character-level GRU language model (Embedding -> GRU -> Dense), exported as a stateful step."
    config_class = CharRNNConfig
    data_kind = "text"
    default_data = "pydoc"

    # -- training ---------------------------------------------------------------------------------
    def describe_data(self, config: CharRNNConfig, data: Dataset | None) -> dict[str, Any]:
        assert data is not None
        if len(data.x_train) < config.seq_length + 1:
            raise DatasetError(
                f"{data.name}: {len(data.x_train)} training characters is fewer than one sequence of "
                f"seq_length + 1 = {config.seq_length + 1}; lower --set seq_length or give more text"
            )
        info = data.describe()
        info["vocabulary"] = build_vocabulary(data.x_train, config.min_count)
        return info

    def build(self, config: CharRNNConfig, data_info: dict[str, Any]) -> Any:
        from plugins.char_rnn.model import build_model

        return build_model(len(data_info["vocabulary"]), config.embedding_dim, config.units, config.layers,
                           config.learning_rate, config.clipnorm or None)

    def fit_data(self, config: CharRNNConfig, data: Dataset | None, data_info: dict[str, Any]) -> FitData:
        """(sequence, sequence shifted by one) pairs from non-overlapping windows of the text."""
        assert data is not None
        vocabulary = data_info["vocabulary"]
        x, y = _pairs(encode(data.x_train, vocabulary), config.seq_length)
        validation = None
        if len(data.x_test) > config.seq_length:
            validation = _pairs(encode(data.x_test, vocabulary), config.seq_length)
        return FitData(x=x, y=y, validation=validation, batch_size=config.batch_size)

    def evaluate(self, model: Any, config: CharRNNConfig, data: Dataset | None, data_info: dict[str, Any]) -> dict[str, Any]:
        from plugins.char_rnn.model import bits_per_character

        assert data is not None
        tokens = encode(data.x_test, data_info["vocabulary"])
        unknown = int(np.sum(tokens == UNKNOWN_INDEX))
        return {"test_bits_per_character": bits_per_character(model, tokens),
                "test_characters": int(len(tokens)), "test_unknown_characters": unknown}

    # -- export -----------------------------------------------------------------------------------
    def exports(self, model: Any, config: CharRNNConfig, data_info: dict[str, Any]) -> list[ExportSpec]:
        from plugins.char_rnn.model import prime, step

        vocab = len(data_info["vocabulary"])
        states_in = [TensorInfo(f"state_{i}", (None, config.units), value_range=(-1.0, 1.0),
                                meaning=f"GRU layer {i} state (zeros to start)") for i in range(config.layers)]
        states_out = [TensorInfo(f"new_state_{i}", (None, config.units), value_range=(-1.0, 1.0),
                                 meaning=f"GRU layer {i} state after this character; feed back as state_{i}")
                      for i in range(config.layers)]
        token_range = (0, vocab - 1)
        files = [ExportSpec(
            name="step",
            function=lambda token, *states: step(model, token, *states),
            inputs=[TensorInfo("token", (None,), "int64", token_range, "id of the current character"),
                    *states_in],
            outputs=[TensorInfo("logits", (None, vocab), meaning="unnormalised log-probabilities of the next character"),
                     *states_out],
            description="one character step of the GRU: (token, state per layer) -> (next-character logits, new states)",
        )]
        if config.export_prime:
            files.append(ExportSpec(
                name="prime",
                function=lambda tokens, *states: prime(model, tokens, *states),
                inputs=[TensorInfo("tokens", (None, None), "int64", token_range, "ids of the prompt's characters"),
                        *states_in],
                outputs=[TensorInfo("logits", (None, vocab), meaning="next-character logits after the last token"),
                         *states_out],
                description="the GRU over a whole prompt in one call (an ONNX Loop): the same result as "
                            "stepping through it, for priming only; generate with 'step'",
            ))
        return files

    def export_info(self, model: Any, config: CharRNNConfig, data_info: dict[str, Any]) -> dict[str, Any]:
        vocabulary = data_info["vocabulary"]
        info = vocabulary_facts(vocabulary, config.unknown)
        info.update({
            "layers": config.layers,
            "units": config.units,
            "embedding_dim": config.embedding_dim,
            "state_inputs": [f"state_{i}" for i in range(config.layers)],
            "state_outputs": [f"new_state_{i}" for i in range(config.layers)],
            "initial_state": "zeros",
            "int8_step": INT8_STEP if config.quantize else None,
            "empty_prompt": "\n" if "\n" in vocabulary else vocabulary[1],
            "usage": ("encode the prompt (one token per character), feed it one token at a time through "
                      "'step' from zero states carrying new_state_i -> state_i, then sample the next "
                      "token from softmax(logits / temperature) (never token 0) and feed it back"),
        })
        return info

    def export_assets(self, model: Any, config: CharRNNConfig, data_info: dict[str, Any],
                      run_dir: Path | None) -> dict[str, bytes]:
        """With ``quantize``: ``step_int8.onnx``, onnxruntime's dynamic int8 quantisation of the step
        (weights int8, activations quantised on the fly). Not parity-checked to 1e-4 by nature;
        ``check_export`` records how far its logits drift from the fp32 step."""
        if not config.quantize:
            return {}
        import tempfile

        from onnxruntime.quantization import QuantType, quantize_dynamic

        from toolkit.export import convert

        step_spec = self.exports(model, config, data_info)[0]
        converted = convert(step_spec, np.random.default_rng(0))
        with tempfile.TemporaryDirectory() as tmp:
            fp32, int8 = Path(tmp) / "step.onnx", Path(tmp) / INT8_STEP
            fp32.write_bytes(converted.proto.SerializeToString())
            quantize_dynamic(str(fp32), str(int8), weight_type=QuantType.QInt8)
            return {INT8_STEP: int8.read_bytes()}

    def check_export(self, model: Any, config: CharRNNConfig, data_info: dict[str, Any],
                     onnx_files: dict[str, Path]) -> dict[str, Any]:
        """A 1,000-step rollout: the ONNX step, fed its own samples, against the Keras GRU layers run
        over the same sequence; and a check that the step graph holds no Loop/Scan."""
        import onnx

        proto = onnx.load(str(onnx_files["step"]))
        loops = sorted({n.op_type for n in proto.graph.node} & LOOP_OPS)
        if loops:
            raise ExportError(f"step: the exported graph holds {loops} ops; the step must be loop-free")
        figures = rollout_parity(model, onnx_files["step"], len(data_info["vocabulary"]), config.layers,
                                 steps=ROLLOUT_STEPS, batch=ROLLOUT_BATCH, prime_path=onnx_files.get("prime"))
        int8 = onnx_files["step"].parent / INT8_STEP
        if config.quantize and int8.is_file():
            figures["int8_step_max_abs_logit_diff_200_steps"] = _int8_drift(onnx_files["step"], int8, config)
        return figures


def rollout_parity(model: Any, step_path: Path, vocab: int, layers: int, *, steps: int, batch: int,
                   seed: int = 0, tolerance: float = 1e-4, prime_path: Path | None = None) -> dict[str, Any]:
    """Max abs difference of logits between ONNX stepping and Keras over a ``steps``-long rollout
    (and, with ``prime_path``, of the prime file's final logits and states over the same sequence)."""
    import onnxruntime as ort

    from plugins.char_rnn.model import sequence, zero_states

    options = ort.SessionOptions()
    options.log_severity_level = 3
    session = ort.InferenceSession(str(step_path), options, providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(seed)
    states = zero_states(model, batch)
    token = rng.integers(1, vocab, size=batch).astype(np.int64)
    tokens, onnx_logits = [], []
    for _ in range(steps):
        tokens.append(token)
        out = session.run(None, {"token": token, **{f"state_{i}": s for i, s in enumerate(states)}})
        onnx_logits.append(out[0])
        states = out[1:]
        probs = np.exp(out[0] - out[0].max(axis=1, keepdims=True))
        probs[:, UNKNOWN_INDEX] = 0
        probs /= probs.sum(axis=1, keepdims=True)
        token = np.array([rng.choice(vocab, p=p) for p in probs], np.int64)
    sequence_tokens = np.stack(tokens, axis=1).astype(np.int32)
    keras_logits, keras_states = sequence(model, sequence_tokens, zero_states(model, batch))
    got = np.stack(onnx_logits, axis=1)
    diff = np.abs(np.asarray(keras_logits, np.float64) - got)
    worst = float(diff.max())
    per_step = diff.reshape(batch, steps, -1).max(axis=(0, 2))
    figures = {"rollout_steps": steps, "rollout_batch": batch, "rollout_max_abs_diff": worst,
               "rollout_max_abs_diff_last_100": float(per_step[-100:].max()), "rollout_tolerance": tolerance}
    if prime_path is not None:
        prime_session = ort.InferenceSession(str(prime_path), options, providers=["CPUExecutionProvider"])
        feeds = {"tokens": sequence_tokens.astype(np.int64), **{f"state_{i}": s for i, s in
                                                                enumerate(zero_states(model, batch))}}
        prime_out = prime_session.run(None, feeds)
        prime_diff = max(float(np.abs(np.asarray(keras_logits)[:, -1] - prime_out[0]).max()),
                         *(float(np.abs(np.asarray(k) - p).max()) for k, p in zip(keras_states, prime_out[1:])))
        figures["prime_max_abs_diff"] = prime_diff
        if not prime_diff <= tolerance:
            raise ExportError(f"prime: over a {steps}-token prompt the ONNX result differs from Keras by "
                              f"{prime_diff:.3g} (> {tolerance:g}); nothing was written")
    if not worst <= tolerance:
        raise ExportError(f"step: over a {steps}-step rollout the ONNX logits differ from Keras by {worst:.3g} "
                          f"(> {tolerance:g}); nothing was written")
    return figures


def _int8_drift(fp32: Path, int8: Path, config: CharRNNConfig, steps: int = 200) -> float:
    """Max abs logit difference of the int8 step from the fp32 step, both fed the same greedy text."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3
    sessions = [ort.InferenceSession(str(p), options, providers=["CPUExecutionProvider"]) for p in (fp32, int8)]
    states = [[np.zeros((1, config.units), np.float32) for _ in range(config.layers)] for _ in sessions]
    token = np.array([1], np.int64)
    worst = 0.0
    for _ in range(steps):
        outs = [s.run(None, {"token": token, **{f"state_{i}": x for i, x in enumerate(st)}})
                for s, st in zip(sessions, states)]
        worst = max(worst, float(np.abs(outs[0][0] - outs[1][0]).max()))
        states = [o[1:] for o in outs]
        token = np.array([max(1, int(outs[0][0][0, 1:].argmax()) + 1)], np.int64)
    return worst


def _pairs(tokens: np.ndarray, seq_length: int) -> tuple[np.ndarray, np.ndarray]:
    count = (len(tokens) - 1) // seq_length
    x = tokens[: count * seq_length].reshape(count, seq_length)
    y = tokens[1: count * seq_length + 1].reshape(count, seq_length)
    return x, y


@hookimpl
def register_models(register: Any) -> None:
    register(CharRNN())
