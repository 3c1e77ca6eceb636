"""Continuous batching for text generation: concurrent streams share one batched step call.

A character-level model costs one step call per character per stream; N users writing at once
would make N calls per character, each paying onnxruntime's per-call overhead for a batch of one.
:class:`StreamBatcher` keeps every live stream as one row of a batch: each tick, every stream
samples its next character from its own row of logits with its own settings and random generator,
then one step call advances all rows together. A stream joins at the next tick after its prompt
is primed, and leaves as soon as it is done (its length reached, a stop string seen, or its reader
gone), so short and long requests never wait for each other.

A stream's text does not depend on who else is writing: its random draws come from its own
generator, seeded as :meth:`TextGenerator.stream` seeds it, in the same order, and the model
computes each row from that row alone. numpy + onnxruntime only.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from toolkit.errors import InputError

if TYPE_CHECKING:
    from toolkit.runtime.tasks.text import SamplingOptions, TextGenerator

_DONE = object()


@dataclass
class StreamStats:
    """Step calls made and characters they produced (characters per call = the mean batch)."""

    steps: int = 0
    chars: int = 0
    largest: int = 0

    @property
    def chars_per_step(self) -> float:
        return self.chars / self.steps if self.steps else 0.0


@dataclass
class _Stream:
    options: SamplingOptions
    rng: np.random.Generator
    logits: np.ndarray
    states: list[np.ndarray]
    pieces: queue.SimpleQueue = field(default_factory=queue.SimpleQueue)
    text: str = ""
    emitted: int = 0
    position: int = 0
    gone: bool = False  # the reader stopped listening: leave at the next tick


class StreamBatcher:
    """Runs :meth:`stream` requests of one :class:`TextGenerator` as rows of one batch (see the
    module docstring); at most ``max_streams`` rows at once, later streams wait to join."""

    def __init__(self, generator: TextGenerator, *, max_streams: int = 64) -> None:
        if isinstance(max_streams, bool) or not isinstance(max_streams, int) or max_streams < 1:
            raise InputError(f"max_streams must be a whole number >= 1, got {max_streams!r}")
        self.generator = generator
        self.max_streams = max_streams
        self.stats = StreamStats()
        self._joining: list[_Stream] = []
        self._wakeup = threading.Condition()
        self._worker: threading.Thread | None = None

    def stream(self, prompt: str, length: int = 500, temperature: float = 1.0, top_k: int | None = None,
               top_p: float | None = None, seed: int | None = None, stop: str | Sequence[str] | None = None,
               ) -> Iterator[str]:
        """What :meth:`TextGenerator.stream` yields for the same arguments, generated in the
        shared batch. Bad arguments and prompts are refused here, before anything is queued."""
        from toolkit.runtime.tasks.text import SamplingOptions

        options = SamplingOptions.check(length, temperature, top_k, top_p, seed, stop)
        logits, states = self.generator.prime(prompt)  # in the caller's thread: priming is its own call
        return self._listen(options, logits, states) if options.length else iter(())

    def _listen(self, options: SamplingOptions, logits: np.ndarray, states: list[np.ndarray]) -> Iterator[str]:
        me = _Stream(options, np.random.default_rng(options.seed), logits, states)
        with self._wakeup:
            self._joining.append(me)
            if self._worker is None:
                self._worker = threading.Thread(target=self._serve, name=f"streams-{self.generator.name}",
                                                daemon=True)
                self._worker.start()
            self._wakeup.notify()
        try:
            while (piece := me.pieces.get()) is not _DONE:
                if isinstance(piece, BaseException):
                    raise piece
                yield piece
        finally:
            me.gone = True  # closed early (a Stop button, a dropped connection): free the row

    # -- the worker ----------------------------------------------------------------------------
    def _serve(self) -> None:
        streams: list[_Stream] = []
        logits = np.zeros((0, len(self.generator.vocabulary)), np.float32)
        states = self.generator.initial_state(0)
        while True:
            with self._wakeup:
                while not streams and not self._joining:
                    self._wakeup.wait()
                room = self.max_streams - len(streams)
                joining, self._joining = self._joining[:room], self._joining[room:]
            try:
                if joining:
                    streams += joining
                    logits = np.concatenate([logits, *(s.logits for s in joining)])
                    states = [np.concatenate([mine, *(s.states[i] for s in joining)])
                              for i, mine in enumerate(states)]
                keep, tokens = self._sample(streams, logits)
                streams = [s for s, k in zip(streams, keep) if k]
                states = [s[keep] for s in states]
                if streams:
                    logits, states = self.generator.step(tokens[keep], states)
                    self._count(len(streams))
                else:
                    logits = logits[keep]
            except BaseException as exc:  # noqa: BLE001 - every reader of the batch hears of it
                for stream in {id(s): s for s in [*streams, *joining]}.values():
                    stream.pieces.put(exc)
                streams = []
                logits = np.zeros((0, len(self.generator.vocabulary)), np.float32)
                states = self.generator.initial_state(0)

    def _sample(self, streams: list[_Stream], logits: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Each stream's next character from its own row, settings and random generator; which
        streams stay in the batch, and the tokens to step with.

        Rows with the same settings are sampled in one vectorised call, each with a uniform draw
        from its own stream's generator (none at temperature 0, as alone): the arithmetic is per row,
        so a row's token is the one it would get alone, at a fraction of the per-stream cost."""
        from toolkit.runtime.tasks.text import _held_back, sample_tokens

        vocabulary, banned = self.generator.vocabulary, self.generator._banned
        keep = np.array([not s.gone for s in streams], bool)
        tokens = np.zeros(len(streams), np.int64)
        groups: dict[tuple, list[int]] = {}
        for row in np.flatnonzero(keep):
            o = streams[row].options
            groups.setdefault((o.temperature, o.top_k, o.top_p), []).append(int(row))
        for (temperature, top_k, top_p), rows in groups.items():
            uniforms = None if temperature == 0 else np.array([streams[r].rng.random() for r in rows])
            try:
                tokens[rows] = sample_tokens(logits[rows], None, temperature, top_k, top_p, banned, uniforms)
            except Exception as exc:  # these rows' own failure: only their readers hear of it
                for row in rows:
                    streams[row].pieces.put(exc)
                keep[rows] = False
        for row in np.flatnonzero(keep):
            stream, o = streams[row], streams[row].options
            stream.text += vocabulary[tokens[row]]
            stream.position += 1
            finished = stream.position >= o.length
            for stop in o.stop:
                if stream.text.endswith(stop):
                    stream.text, finished = stream.text[: -len(stop)], True
                    break
            safe = len(stream.text) if finished else len(stream.text) - _held_back(stream.text, o.stop)
            if safe > stream.emitted:
                stream.pieces.put(stream.text[stream.emitted:safe])
                stream.emitted = safe
            if finished:
                stream.pieces.put(_DONE)
                keep[row] = False
        return keep, tokens

    def _count(self, rows: int) -> None:
        self.stats.steps += 1
        self.stats.chars += rows
        self.stats.largest = max(self.stats.largest, rows)

    def __repr__(self) -> str:
        return f"StreamBatcher({self.generator.name!r}, max_streams={self.max_streams})"
