"""``TextGenerator``: character-by-character generation with a stateful ONNX step model.

The export's ``step`` file maps ``(token[N], state_i[N, units] per layer)`` to
``(logits[N, vocab], new_state_i)``. The generator feeds the prompt once to build the state, then
each new character costs exactly one step at any length: the state is carried, the prefix is never
re-fed. ``generate_batch`` runs n samples side by side as one batch of states.

numpy + onnxruntime only (this module is part of the serving side).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from toolkit.errors import InputError, ManifestError
from toolkit.manifest import Manifest
from toolkit.runtime.base import Pipeline
from toolkit.runtime.batching import BatchPolicy
from toolkit.runtime.session import ModelSession
from toolkit.runtime.streams import StreamBatcher

POLICIES = ("replace", "error")


@dataclass(frozen=True)
class SamplingOptions:
    """Validated generation settings (one place that checks what callers pass)."""

    length: int
    temperature: float
    top_k: int | None
    top_p: float | None
    seed: int | None
    stop: tuple[str, ...]

    @classmethod
    def check(cls, length: Any = 500, temperature: Any = 1.0, top_k: Any = None, top_p: Any = None,
              seed: Any = None, stop: Any = None) -> SamplingOptions:
        if isinstance(length, bool) or not isinstance(length, (int, np.integer)) or length < 0:
            raise InputError(f"length must be a whole number >= 0, got {length!r}")
        try:
            temperature = float(temperature)
        except (TypeError, ValueError):
            raise InputError(f"temperature must be a number, got {temperature!r}") from None
        if not math.isfinite(temperature) or temperature < 0:
            raise InputError(f"temperature must be finite and >= 0 (0 = always the likeliest), got {temperature}")
        if top_k is not None and (isinstance(top_k, bool) or not isinstance(top_k, (int, np.integer)) or top_k < 1):
            raise InputError(f"top_k must be a whole number >= 1 (or None), got {top_k!r}")
        if top_p is not None:
            try:
                top_p = float(top_p)
            except (TypeError, ValueError):
                raise InputError(f"top_p must be a number in (0, 1], got {top_p!r}") from None
            if not 0 < top_p <= 1:
                raise InputError(f"top_p must be in (0, 1], got {top_p}")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0):
            raise InputError(f"seed must be a whole number >= 0 (or None), got {seed!r}")
        if stop is None:
            stops: tuple[str, ...] = ()
        elif isinstance(stop, str):
            stops = (stop,)
        elif isinstance(stop, (list, tuple)) and all(isinstance(s, str) for s in stop):
            stops = tuple(stop)
        else:
            raise InputError(f"stop must be a string or a list of strings, got {stop!r}")
        if any(s == "" for s in stops):
            raise InputError("stop strings must not be empty")
        return cls(int(length), temperature, None if top_k is None else int(top_k), top_p,
                   None if seed is None else int(seed), stops)


def sample_tokens(logits: np.ndarray, rng: np.random.Generator | None, temperature: float,
                  top_k: int | None = None, top_p: float | None = None,
                  banned: Sequence[int] = (), uniforms: np.ndarray | None = None) -> np.ndarray:
    """One token per row of ``logits [B, V]``: temperature, then top-k, then top-p (nucleus),
    never a ``banned`` token. Temperature 0 picks the likeliest token.

    Each row's token depends on that row and its uniform draw only: ``uniforms`` (one per row in
    [0, 1)) stand in for ``rng.random(B)``, so rows of different streams, each drawing from its own
    generator, can be sampled in one call (see :mod:`toolkit.runtime.streams`)."""
    scores = np.array(logits, dtype=np.float64)
    if banned:
        scores[:, list(banned)] = -np.inf
    if temperature == 0:
        return scores.argmax(axis=1)
    scores /= temperature
    vocab = scores.shape[1]
    if top_k is not None and top_k < vocab:
        kth = np.partition(scores, vocab - top_k, axis=1)[:, vocab - top_k][:, None]
        scores[scores < kth] = -np.inf
    scores -= scores.max(axis=1, keepdims=True)
    probs = np.exp(scores)
    probs /= probs.sum(axis=1, keepdims=True)
    if top_p is not None and top_p < 1:
        order = np.argsort(-probs, axis=1, kind="stable")
        ranked = np.take_along_axis(probs, order, axis=1)
        before = np.cumsum(ranked, axis=1) - ranked  # mass of the tokens ranked above each one
        drop = before >= top_p  # the smallest set whose mass reaches top_p is kept (at least one token)
        ranked[drop] = 0.0
        probs = np.zeros_like(probs)
        np.put_along_axis(probs, order, ranked, axis=1)
        probs /= probs.sum(axis=1, keepdims=True)
    cumulative = np.cumsum(probs, axis=1)
    if uniforms is None:
        if rng is None:
            raise InputError("sample_tokens needs a random generator or uniform draws")
        uniforms = rng.random(len(probs))
    draws = np.asarray(uniforms, np.float64)[:, None] * cumulative[:, -1:]
    choice = (cumulative <= draws).sum(axis=1)
    # Guard against rounding picking a zero-probability tail token.
    choice = np.minimum(choice, vocab - 1)
    bad = probs[np.arange(len(probs)), choice] == 0
    if bad.any():
        choice[bad] = probs[bad].argmax(axis=1)
    return choice


def _held_back(text: str, stops: tuple[str, ...]) -> int:
    """How many trailing characters of ``text`` could still begin a stop string (not safe to emit)."""
    longest = 0
    for stop in stops:
        for k in range(min(len(stop) - 1, len(text)), longest, -1):
            if text.endswith(stop[:k]):
                longest = k
                break
    return longest


class TextGenerator(Pipeline):
    """Generate text from a character-level step model (see the module docstring).

    ``unknown_policy`` ("replace" or "error") says what a prompt character outside the vocabulary
    does; it starts as the manifest's policy and may be changed on the instance.
    """


    def __init__(self, manifest: Manifest, sessions: dict[str, ModelSession]) -> None:
        super().__init__(manifest, sessions)
        info = manifest.info
        vocabulary = info["vocabulary"]
        if not isinstance(vocabulary, list) or not all(isinstance(c, str) and len(c) == 1 for c in vocabulary):
            raise ManifestError(f"export {manifest.name!r}: info.vocabulary must be a list of single characters")
        self.vocabulary: list[str] = list(vocabulary)
        self.unknown_token: int | None = info.get("unknown_token")
        policy = info.get("unknown_policy", "error" if self.unknown_token is None else "replace")
        self.unknown_policy: str = policy if policy in POLICIES else "error"
        self._index = {c: i for i, c in enumerate(self.vocabulary) if i != self.unknown_token}
        step = self.sessions["step"]
        self.state_inputs: list[str] = list(info.get("state_inputs", [t.name for t in step.inputs if t.name != "token"]))
        self.state_outputs: list[str] = list(info.get("state_outputs", ["new_" + s for s in self.state_inputs]))
        inputs = {t.name: t for t in step.inputs}
        outputs = {t.name: t for t in step.outputs}
        missing = [n for n in ["token", *self.state_inputs] if n not in inputs]
        missing += [n for n in ["logits", *self.state_outputs] if n not in outputs]
        if missing:
            raise ManifestError(f"export {manifest.name!r}: the step file lacks {missing}")
        if outputs["logits"].shape[-1] != len(self.vocabulary):
            raise ManifestError(
                f"export {manifest.name!r}: logits have {outputs['logits'].shape[-1]} classes but the "
                f"vocabulary has {len(self.vocabulary)} characters"
            )
        self._token_dtype = np.dtype(inputs["token"].dtype)
        self._state_shapes = [tuple(inputs[n].shape[1:]) for n in self.state_inputs]
        self._ort = step.session
        self.precision = "float32"
        prime = self.sessions.get("prime")
        prime_inputs = {t.name for t in prime.inputs} if prime is not None else set()
        usable = prime is not None and prime_inputs == {"tokens", *self.state_inputs}
        self._prime = prime.session if usable else None
        self._outputs = ["logits", *self.state_outputs]
        self._banned = [self.unknown_token] if self.unknown_token is not None else []
        self.empty_prompt: str = info.get("empty_prompt", "\n")
        #: With batching on, :meth:`stream` runs in a batch shared by every concurrent stream.
        self.streams: StreamBatcher | None = None

    # -- precision --------------------------------------------------------------------------------
    @property
    def int8_available(self) -> bool:
        """Whether the export ships an int8-quantised step (``info.int8_step``, a verified asset)."""
        name = self.info.get("int8_step")
        return bool(name) and name in self.manifest.assets

    def use_int8(self, enabled: bool = True) -> None:
        """Generate with the int8 step (dynamic quantisation: faster on CPU; its logits drift from
        the fp32 step by the amount the manifest records) or go back to fp32. Priming stays fp32."""
        step = self.sessions["step"]
        if not enabled:
            self._ort, self.precision = step.session, "float32"
            return
        if not self.int8_available:
            raise InputError(f"export {self.name!r} ships no int8 step (export it with --set quantize=true)")
        asset = self.manifest.assets[self.info["int8_step"]]
        assert self.manifest.root is not None
        session = ModelSession(self.manifest.root / asset["path"], step.inputs, step.outputs,
                               name="step_int8", providers=[step.provider])
        self._ort, self.precision = session.session, "int8"

    # -- encoding ---------------------------------------------------------------------------------
    def encode(self, text: str, unknown: str | None = None) -> np.ndarray:
        """Token ids of ``text`` (one per character) under the unknown-character policy."""
        if not isinstance(text, str):
            raise InputError(f"a prompt must be a string, got {type(text).__name__}")
        policy = unknown or self.unknown_policy
        if policy not in POLICIES:
            raise InputError(f"unknown-character policy must be one of {POLICIES}, got {policy!r}")
        ids = [self._index.get(c, -1) for c in text]
        if -1 in ids:
            strangers = sorted({c for c, i in zip(text, ids) if i == -1})
            if policy == "error" or self.unknown_token is None:
                shown = ", ".join(repr(c) for c in strangers[:10]) + (" …" if len(strangers) > 10 else "")
                raise InputError(f"the prompt holds {len(strangers)} character(s) outside this model's "
                                 f"vocabulary: {shown}")
            ids = [self.unknown_token if i == -1 else i for i in ids]
        return np.asarray(ids, dtype=self._token_dtype)

    def decode(self, ids: Sequence[int]) -> str:
        return "".join(self.vocabulary[int(i)] for i in ids)

    # -- the recurrence -----------------------------------------------------------------------------
    def initial_state(self, batch: int = 1) -> list[np.ndarray]:
        return [np.zeros((batch, *shape), np.float32) for shape in self._state_shapes]

    def step(self, tokens: np.ndarray, states: list[np.ndarray]) -> tuple[np.ndarray, list[np.ndarray]]:
        """One character for every row: ``(logits [B, V], new states)``. No validation (hot loop)."""
        feeds = {"token": np.ascontiguousarray(tokens, dtype=self._token_dtype)}
        feeds.update(zip(self.state_inputs, states))
        logits, *new_states = self._ort.run(self._outputs, feeds)
        return logits, new_states

    def prime(self, prompt: str, batch: int = 1, unknown: str | None = None) -> tuple[np.ndarray, list[np.ndarray]]:
        """Feed ``prompt`` once (batch 1) and return the last logits and states repeated ``batch`` times.

        With a ``prime`` file (the GRU over the whole prompt, an ONNX Loop) this is one call, which
        was measured faster than stepping; otherwise it steps. An empty prompt is primed with the
        manifest's ``empty_prompt`` character."""
        ids = self.encode(prompt or self.empty_prompt, unknown)
        states = self.initial_state(1)
        if self._prime is not None and len(ids) > 1:
            feeds = {"tokens": ids.astype(np.int64)[None, :], **dict(zip(self.state_inputs, states))}
            logits, *states = self._prime.run(self._outputs, feeds)
        else:
            logits = None
            for token in ids:
                logits, states = self.step(np.array([token]), states)
        assert logits is not None
        return np.repeat(logits, batch, axis=0), [np.repeat(s, batch, axis=0) for s in states]

    def _rows(self, prompt: str, n: int, options: SamplingOptions) -> Iterator[list[str]]:
        """Yield, step by step, each row's text so far (stop strings already cut) until every row is
        done; rows that hit a stop string drop out of the batch."""
        logits, states = self.prime(prompt, n)
        rng = np.random.default_rng(options.seed)
        texts = [""] * n
        active = np.arange(n)
        for position in range(options.length):
            tokens = sample_tokens(logits, rng, options.temperature, options.top_k, options.top_p, self._banned)
            finished = []
            for row, token in zip(active, tokens):
                texts[row] += self.vocabulary[int(token)]
                for stop in options.stop:
                    if texts[row].endswith(stop):
                        texts[row] = texts[row][: -len(stop)]
                        finished.append(row)
                        break
            if finished:
                keep = ~np.isin(active, finished)
                active, tokens = active[keep], tokens[keep]
                states = [s[keep] for s in states]
            yield texts
            if not len(active) or position == options.length - 1:
                return  # no step for a character nobody will read
            logits, states = self.step(tokens, states)

    # -- public API -------------------------------------------------------------------------------
    def enable_batching(self, policy: BatchPolicy | None = None) -> dict[str, StreamBatcher]:
        """Continuous batching: from now on concurrent :meth:`stream` (and :meth:`generate`) calls
        share one step call per character, up to ``policy.max_batch`` streams at once (see
        :mod:`toolkit.runtime.streams`); each stream's text is what it would be alone."""
        self.streams = StreamBatcher(self, max_streams=(policy or BatchPolicy()).max_batch)
        return {"step": self.streams}

    def stream(self, prompt: str, length: int = 500, temperature: float = 1.0, top_k: int | None = None,
               top_p: float | None = None, seed: int | None = None, stop: str | Sequence[str] | None = None,
               ) -> Iterator[str]:
        """Yield the continuation piece by piece (each yield is the *new* characters). Characters that
        might begin a stop string are held back until it is clear they do not."""
        if self.streams is not None:
            yield from self.streams.stream(prompt, length, temperature, top_k, top_p, seed, stop)
            return
        options = SamplingOptions.check(length, temperature, top_k, top_p, seed, stop)
        emitted = 0
        text = ""
        for texts in self._rows(prompt, 1, options):
            text = texts[0]
            safe = len(text) - _held_back(text, options.stop)
            if safe > emitted:
                yield text[emitted:safe]
                emitted = safe
        if len(text) > emitted:
            yield text[emitted:]

    def generate(self, prompt: str, length: int = 500, temperature: float = 1.0, top_k: int | None = None,
                 top_p: float | None = None, seed: int | None = None, stop: str | Sequence[str] | None = None,
                 ) -> str:
        """The continuation of ``prompt`` (without the prompt): at most ``length`` characters, cut
        before the first stop string."""
        return "".join(self.stream(prompt, length, temperature, top_k, top_p, seed, stop))

    def generate_batch(self, prompt: str, n: int, length: int = 500, temperature: float = 1.0,
                       top_k: int | None = None, top_p: float | None = None, seed: int | None = None,
                       stop: str | Sequence[str] | None = None) -> list[str]:
        """``n`` continuations of one prompt, sampled side by side in one batch."""
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            raise InputError(f"n must be a whole number >= 1, got {n!r}")
        options = SamplingOptions.check(length, temperature, top_k, top_p, seed, stop)
        texts = [""] * int(n)
        for texts in self._rows(prompt, int(n), options):
            pass
        return list(texts)
