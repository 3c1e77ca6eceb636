"""The char-rnn plugin: vocabulary, training pairs, the loop-free step export and its parity."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from plugins.char_rnn.plugin import CharRNN, CharRNNConfig, _pairs
from plugins.char_rnn.vocab import UNKNOWN_INDEX, UNKNOWN_SYMBOL, build_vocabulary, encode
from toolkit.errors import DatasetError, TrainingError
from toolkit.spec import Dataset

TINY = {"embedding_dim": "8", "units": "16", "layers": "2", "limit": "3000", "seq_length": "20",
        "batch_size": "16", "min_count": "2", "quantize": "true"}


def test_vocabulary_maps_rare_and_unseen_characters_to_the_unknown_token() -> None:
    vocabulary = build_vocabulary("aab\ufffd\ufffdccc", min_count=2)
    assert vocabulary == [UNKNOWN_SYMBOL, "a", "c"]  # 'b' is seen once; U+FFFD is never a real token
    ids = encode("abcz", vocabulary)
    assert ids.dtype == np.int32
    assert ids.tolist() == [1, UNKNOWN_INDEX, 2, UNKNOWN_INDEX]
    with pytest.raises(DatasetError, match="at least 2"):
        build_vocabulary("aaaa")


def test_training_pairs_are_the_sequence_shifted_by_one() -> None:
    tokens = np.arange(23, dtype=np.int32)
    x, y = _pairs(tokens, 5)
    assert x.shape == y.shape == (4, 5)
    assert (y == x + 1).all()
    assert x[1, 0] == 5  # non-overlapping windows


def test_too_little_text_is_a_dataset_error() -> None:
    data = Dataset(name="t", kind="text", source="test", x_train="abcabc", x_test="abc")
    with pytest.raises(DatasetError, match="fewer than one sequence"):
        CharRNN().describe_data(CharRNNConfig(seq_length=100), data)


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A 2-layer tiny model trained one epoch on 3,000 pydoc characters and exported once."""
    from toolkit.export import export_run
    from toolkit.training import train

    root = tmp_path_factory.mktemp("char-rnn")
    result = train("char-rnn", data="pydoc", overrides=TINY, epochs=1, runs_root=root / "runs",
                   run_id="tiny", seed=3, verbose=0)
    export_run(result.run_dir, root / "exported" / "tiny")
    return result.run_dir, root / "exported" / "tiny"


@pytest.mark.slow
def test_export_is_a_loop_free_step_with_vocabulary_and_rollout_parity(tiny_run: tuple[Path, Path]) -> None:
    import onnx

    run_dir, export = tiny_run
    manifest = json.loads((export / "manifest.json").read_text())
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["test_bits_per_character"] > 0
    step = manifest["files"]["step"]
    assert [t["name"] for t in step["inputs"]] == ["token", "state_0", "state_1"]
    assert [t["name"] for t in step["outputs"]] == ["logits", "new_state_0", "new_state_1"]
    info = manifest["info"]
    assert info["vocabulary"][0] == UNKNOWN_SYMBOL and info["unknown_token"] == 0
    assert info["unknown_policy"] == "replace"
    assert step["outputs"][0]["shape"] == [None, len(info["vocabulary"])]
    parity = manifest["metrics"]["parity"]
    assert parity["rollout_steps"] == 1000 and parity["rollout_max_abs_diff"] <= 1e-4
    assert parity["prime_max_abs_diff"] <= 1e-4
    prime = manifest["files"]["prime"]
    assert [t["name"] for t in prime["inputs"]] == ["tokens", "state_0", "state_1"]
    assert [t["name"] for t in prime["outputs"]] == [t["name"] for t in step["outputs"]]
    proto = onnx.load(str(export / "step.onnx"))
    ops = {node.op_type for node in proto.graph.node}
    assert not ops & {"Loop", "Scan", "GRU"}, ops
    assert "MatMul" in ops or "Gemm" in ops
    prime_ops = {node.op_type for node in onnx.load(str(export / "prime.onnx")).graph.node}
    assert "Loop" in prime_ops  # the whole-prompt file is the GRU layer as exported (priming only)
    meta = {p.key: p.value for p in proto.metadata_props}
    assert json.loads(meta["onnxkit.info"])["vocabulary"] == info["vocabulary"]


@pytest.mark.slow
def test_runtime_logits_match_keras_over_a_long_prompt(tiny_run: tuple[Path, Path]) -> None:
    """Independent of the export's own check: the runtime's priming against the Keras sequence model."""
    from plugins.char_rnn.model import sequence, zero_states
    from toolkit import runtime
    from toolkit.config import build_config
    from toolkit.datasets.text import pydoc_text
    from toolkit.training import load_checkpoint

    run_dir, export = tiny_run
    generator = runtime.load(export)
    spec = CharRNN()
    data_info = json.loads((run_dir / "data.json").read_text())
    model = spec.build(build_config(CharRNNConfig, TINY), data_info)
    load_checkpoint(model, run_dir)
    prompt = pydoc_text()[5000:5600] + "Ω"  # 601 characters, one outside the vocabulary
    ids = generator.encode(prompt)
    assert ids[-1] == 0
    keras_logits, keras_states = sequence(model, ids[None].astype("int32"), zero_states(model, 1))
    for use_prime_file in (True, False):  # one Loop call, and stepping one character at a time
        if not use_prime_file:
            generator._prime = None
        logits, states = generator.prime(prompt)
        assert np.abs(np.asarray(keras_logits)[0, -1] - logits[0]).max() <= 1e-4
        for want, got in zip(keras_states, states):
            assert np.abs(np.asarray(want) - got).max() <= 1e-4


@pytest.mark.slow
def test_export_of_a_missing_run_is_a_clear_error(tmp_path: Path) -> None:
    from toolkit.export import export_run

    with pytest.raises(TrainingError, match="no such run directory"):
        export_run(tmp_path / "nope", tmp_path / "out")
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_int8_step_is_an_opt_in_verified_asset(tiny_run: tuple[Path, Path]) -> None:
    from toolkit import runtime

    _, export = tiny_run
    manifest = json.loads((export / "manifest.json").read_text())
    assert manifest["info"]["int8_step"] == "step_int8.onnx" and "step_int8.onnx" in manifest["assets"]
    assert manifest["metrics"]["parity"]["int8_step_max_abs_logit_diff_200_steps"] < 0.5
    generator = runtime.load(export)
    assert generator.int8_available and generator.precision == "float32"
    fp32 = generator.generate("The ", length=50, seed=1)
    generator.use_int8()
    assert generator.precision == "int8"
    int8 = generator.generate("The ", length=50, seed=1)
    assert len(int8) == 50 and int8 == generator.generate("The ", length=50, seed=1)
    generator.use_int8(False)
    assert generator.generate("The ", length=50, seed=1) == fp32
    # Quality: bits per character of the int8 step within 0.02 of fp32 on held-out text.
    from toolkit.datasets.text import load_pydoc
    from toolkit.spec import DataRequest

    ids = generator.encode(load_pydoc(None, DataRequest()).x_test[:1500])
    figures = {}
    for precision in ("float32", "int8"):
        generator.use_int8(precision == "int8")
        states, nats = generator.initial_state(1), 0.0
        for token, target in zip(ids[:-1], ids[1:]):
            logits, states = generator.step(np.array([token]), states)
            row = logits[0].astype(np.float64)
            nats += float(np.log(np.exp(row - row.max()).sum()) + row.max() - row[target])
        figures[precision] = nats / (len(ids) - 1) / np.log(2)
    assert abs(figures["int8"] - figures["float32"]) <= 0.02, figures
