"""TextGenerator on the shipped exported/char-rnn-pydocs (no TensorFlow), its sampler and the CLI."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import ROOT, run_cli
from toolkit.errors import InputError
from toolkit.runtime.tasks.text import TextGenerator, _held_back, sample_tokens

EXPORT = ROOT / "exported" / "char-rnn-pydocs"
#: English of another kind that the model never saw (Debian's base-files ships it).
UNSEEN = Path("/usr/share/common-licenses/GPL-3")


@pytest.fixture(scope="module")
def generator() -> TextGenerator:
    from toolkit import runtime

    pipeline = runtime.load(EXPORT)
    assert isinstance(pipeline, TextGenerator)
    return pipeline


# -- the sampler ----------------------------------------------------------------------------------
def test_sampler_temperature_zero_and_top_k_one_are_greedy() -> None:
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(8, 30))
    assert (sample_tokens(logits, rng, 0.0) == logits.argmax(axis=1)).all()
    assert (sample_tokens(logits, rng, 1.5, top_k=1) == logits.argmax(axis=1)).all()


def test_sampler_respects_top_k_top_p_and_banned_tokens() -> None:
    logits = np.log(np.array([[0.05, 0.5, 0.3, 0.1, 0.05]] * 4000))
    rng = np.random.default_rng(1)
    picks = sample_tokens(logits, rng, 1.0, top_k=3)
    assert set(picks.tolist()) == {1, 2, 3}
    picks = sample_tokens(logits, rng, 1.0, top_p=0.75)  # 0.5 + 0.3 reaches 0.75: keep {1, 2}
    assert set(picks.tolist()) == {1, 2}
    assert abs(np.mean(picks == 1) - 0.5 / 0.8) < 0.03
    picks = sample_tokens(logits, rng, 1.0, banned=[1])
    assert 1 not in set(picks.tolist()) and set(picks.tolist()) == {0, 2, 3, 4}
    picks = sample_tokens(logits, rng, 1.0)
    assert abs(np.mean(picks == 2) - 0.3) < 0.03  # plain sampling follows the distribution


def test_sampler_is_deterministic_under_a_seed() -> None:
    logits = np.random.default_rng(2).normal(size=(16, 50))
    a = sample_tokens(logits, np.random.default_rng(7), 0.9, top_p=0.9)
    b = sample_tokens(logits, np.random.default_rng(7), 0.9, top_p=0.9)
    assert (a == b).all()


def test_held_back_counts_a_possible_stop_prefix() -> None:
    assert _held_back("hello wor", ("world",)) == 3
    assert _held_back("hello", ("xyz",)) == 0
    assert _held_back("ab", ("abc", "b")) == 2


# -- the shipped model ------------------------------------------------------------------------------
def test_manifest_states_vocabulary_policy_and_quality(generator: TextGenerator) -> None:
    info = generator.info
    assert generator.vocabulary == info["vocabulary"] and len(generator.vocabulary) > 50
    assert info["unknown_policy"] in ("replace", "error") and generator.unknown_token == 0
    assert generator.manifest.metrics["parity"]["rollout_steps"] == 1000
    assert generator.manifest.metrics["parity"]["rollout_max_abs_diff"] <= 1e-4
    assert generator.manifest.metrics["test_bits_per_character"] < 2.5
    assert generator.manifest.metrics["parity"]["prime_max_abs_diff"] <= 1e-4
    assert sum(f.stat().st_size for f in EXPORT.iterdir()) < 6_000_000


def bits_per_character(generator: TextGenerator, text: str, streams: int = 8) -> float:
    ids = generator.encode(text)
    length = (len(ids) - 1) // streams
    inputs = ids[: streams * length].reshape(streams, length)
    targets = ids[1: streams * length + 1].reshape(streams, length)
    states = generator.initial_state(streams)
    nats = 0.0
    for t in range(length):
        logits, states = generator.step(inputs[:, t], states)
        logits = logits.astype(np.float64)
        log_z = np.log(np.exp(logits - logits.max(1, keepdims=True)).sum(1)) + logits.max(1)
        nats += float((log_z - logits[np.arange(streams), targets[:, t]]).sum())
    return nats / (streams * length) / math.log(2)


@pytest.mark.skipif(not UNSEEN.is_file(), reason=f"{UNSEEN} is not on this system")
def test_bits_per_character_on_english_it_never_saw(generator: TextGenerator) -> None:
    """The shipped model predicts English of another kind (a licence, not documentation) far
    better than a uniform guess (log2(V) ~ 7 bits); REPRODUCE.md gives the full-text figure."""
    text = UNSEEN.read_text(encoding="utf-8")[:4000]
    bpc = bits_per_character(generator, text)
    assert bpc < 2.7, bpc


def test_held_out_bits_per_character_recomputed_with_onnxruntime(generator: TextGenerator) -> None:
    """The manifest's held-out figure (Keras, after training) is what onnxruntime computes too, on
    the held-out python-docs pages when Debian's python3.X-doc is installed."""
    from toolkit.datasets import pydocs
    from toolkit.errors import DatasetError
    from toolkit.spec import DataRequest

    try:
        text = pydocs.load(None, DataRequest()).x_test[:4000]
    except DatasetError as exc:
        pytest.skip(str(exc))
    assert bits_per_character(generator, text) < 2.3


def test_generate_is_seeded_and_respects_length(generator: TextGenerator) -> None:
    a = generator.generate("The ", length=80, temperature=0.8, seed=5)
    b = generator.generate("The ", length=80, temperature=0.8, seed=5)
    c = generator.generate("The ", length=80, temperature=0.8, seed=6)
    assert a == b and a != c and len(a) == 80
    assert "\ufffd" not in a  # the unknown token is never generated
    assert generator.generate("x", length=0) == ""


def test_greedy_generation_equals_stepping_by_hand(generator: TextGenerator) -> None:
    prompt = "The \"return\" statement"
    text = generator.generate(prompt, length=40, temperature=0)
    states = generator.initial_state(1)
    for token in generator.encode(prompt):
        logits, states = generator.step(np.array([token]), states)
    expected = ""
    for _ in range(40):
        token = int(np.argmax(np.where(np.arange(logits.shape[1]) == 0, -np.inf, logits[0])))
        expected += generator.vocabulary[token]
        logits, states = generator.step(np.array([token]), states)
    assert text == expected


def test_each_character_costs_one_step(generator: TextGenerator, monkeypatch: pytest.MonkeyPatch) -> None:
    """Flat per-character cost: the prompt is fed once (one prime call), then exactly one step per
    new character, whatever the length so far."""
    calls: list[tuple[str, tuple[int, ...]]] = []

    class Counting:
        def __init__(self, name, session):
            self.name, self.session = name, session

        def run(self, names, feeds):
            first = feeds.get("token", feeds.get("tokens"))
            calls.append((self.name, first.shape))
            return self.session.run(names, feeds)

    monkeypatch.setattr(generator, "_ort", Counting("step", generator._ort))
    monkeypatch.setattr(generator, "_prime", Counting("prime", generator._prime))
    generator.generate("Hello", length=300, seed=0)
    assert calls == [("prime", (1, 5))] + [("step", (1,))] * 299
    calls.clear()
    generator.generate_batch("Hello", 4, length=50, seed=0)
    assert calls == [("prime", (1, 5))] + [("step", (4,))] * 49


def test_priming_in_one_call_equals_stepping(generator: TextGenerator) -> None:
    from toolkit.datasets.text import pydoc_text

    prompt = pydoc_text()[20000:20700]
    assert generator._prime is not None
    logits, states = generator.prime(prompt, batch=2)
    want_states = generator.initial_state(1)
    for token in generator.encode(prompt):
        want_logits, want_states = generator.step(np.array([token]), want_states)
    assert logits.shape == (2, len(generator.vocabulary))
    assert np.abs(logits - want_logits).max() <= 1e-4
    assert all(np.abs(s - w).max() <= 1e-4 for s, w in zip(states, want_states))


def test_stream_pieces_join_to_generate_and_stop_strings_cut(generator: TextGenerator) -> None:
    kwargs = {"length": 400, "temperature": 0.7, "seed": 3}
    whole = generator.generate("The ", **kwargs)
    pieces = list(generator.stream("The ", **kwargs))
    assert "".join(pieces) == whole and len(pieces) > 10
    stop = whole[100:102]  # a string known to occur
    cut = generator.generate("The ", stop=stop, **kwargs)
    assert whole.startswith(cut) and stop not in cut and len(cut) <= 100
    assert "".join(generator.stream("The ", stop=[stop, "\ufffd"], **kwargs)) == cut


def test_generate_batch_runs_n_samples(generator: TextGenerator) -> None:
    texts = generator.generate_batch("def ", 6, length=60, temperature=1.0, top_k=20, seed=11)
    assert len(texts) == 6 and all(len(t) == 60 for t in texts)
    assert len(set(texts)) == 6
    assert texts == generator.generate_batch("def ", 6, length=60, temperature=1.0, top_k=20, seed=11)
    stopped = generator.generate_batch("def ", 6, length=200, seed=11, stop="\n")
    assert all("\n" not in t for t in stopped)
    greedy = generator.generate_batch("def ", 3, length=30, temperature=0)
    assert greedy == [generator.generate("def ", length=30, temperature=0)] * 3


def test_out_of_vocabulary_prompts(generator: TextGenerator) -> None:
    assert generator.encode("a\u4e2db")[1] == 0  # replaced by the unknown token (manifest policy)
    assert len(generator.generate("\u4e2d\u6587 ", length=20, seed=0)) == 20
    with pytest.raises(InputError, match="outside this model's vocabulary: '中'"):
        generator.encode("a\u4e2db", unknown="error")


@pytest.mark.parametrize("kwargs, message", [
    ({"temperature": -1}, "temperature"),
    ({"temperature": float("nan")}, "temperature"),
    ({"top_k": 0}, "top_k"),
    ({"top_p": 0.0}, "top_p"),
    ({"top_p": 1.5}, "top_p"),
    ({"length": -1}, "length"),
    ({"seed": -3}, "seed"),
    ({"stop": ""}, "stop"),
    ({"stop": 5}, "stop"),
])
def test_bad_arguments_are_input_errors(generator: TextGenerator, kwargs: dict, message: str) -> None:
    with pytest.raises(InputError, match=message):
        generator.generate("The", **kwargs)


def test_int8_is_refused_when_not_shipped(generator: TextGenerator) -> None:
    assert not generator.int8_available  # the shipped model does not clear the 1.5x speed bar (see README)
    with pytest.raises(InputError, match="no int8 step"):
        generator.use_int8()


def test_bad_batch_and_prompt_types(generator: TextGenerator) -> None:
    with pytest.raises(InputError, match="n must be"):
        generator.generate_batch("The", 0)
    with pytest.raises(InputError, match="must be a string"):
        generator.generate(b"bytes")  # type: ignore[arg-type]


def test_cli_streams_the_same_text_as_the_api(generator: TextGenerator) -> None:
    result = run_cli("generate", str(EXPORT), "--prompt", "The ", "-n", "120", "--temperature", "0.8",
                     "--seed", "4", "--top-k", "30", "--stop", "\\n\\n")
    assert result.returncode == 0, result.stderr
    expected = generator.generate("The ", length=120, temperature=0.8, top_k=30, seed=4, stop="\n\n")
    assert result.stdout == "The " + expected + "\n"


def test_cli_errors_are_one_line(tmp_path: Path) -> None:
    result = run_cli("generate", str(EXPORT), "--prompt", "\u4e2d", "--unknown", "error")
    assert result.returncode == 2 and "outside this model's vocabulary" in result.stderr
    assert result.stdout == ""
    result = run_cli("generate", str(EXPORT), "--temperature", "-2")
    assert result.returncode == 2 and "temperature" in result.stderr and result.stdout == ""
    result = run_cli("generate", str(tmp_path))
    assert result.returncode == 2 and "manifest" in result.stderr
