"""Dynamic batching: concurrent calls of one model merged into one onnxruntime run.

A server answering N users at once would otherwise make N small runs of the same model, each
paying the per-call overhead and competing for the same cores. :class:`MicroBatcher` queues the
calls; one worker thread takes every queued call whose inputs can be stacked (same input names,
dtypes and shapes past the batch axis, same outputs asked for), up to ``max_batch`` rows, waiting
at most ``max_wait_s`` for company after the first one, runs them as one batch and hands each
caller its own rows back.

Each caller's rows are computed from its inputs alone (models here are row-wise), so a result
never depends on who else was in the batch. A failure of the merged run is retried call by call,
so an error reaches only the caller whose input caused it. numpy + the standard library only.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field

import numpy as np

from toolkit.errors import InputError

#: ``run(feeds, output_names) -> {name: array}``: what the batcher calls (a session's run).
RunFn = Callable[[Mapping[str, np.ndarray], Sequence[str]], Mapping[str, np.ndarray]]


@dataclass(frozen=True)
class BatchPolicy:
    """How far calls may be merged: at most ``max_batch`` rows per run, and the first call of a
    batch waits at most ``max_wait_s`` for others to join it (0: only calls already queued)."""

    max_batch: int = 64
    max_wait_s: float = 0.002

    def __post_init__(self) -> None:
        if isinstance(self.max_batch, bool) or not isinstance(self.max_batch, int) or self.max_batch < 1:
            raise InputError(f"max_batch must be a whole number >= 1, got {self.max_batch!r}")
        if not 0 <= self.max_wait_s <= 1:
            raise InputError(f"max_wait_s must be between 0 and 1 second, got {self.max_wait_s!r}")


@dataclass
class BatchStats:
    """What the batcher has done: merged runs, calls and rows served (for benchmarks and logs)."""

    runs: int = 0
    calls: int = 0
    rows: int = 0
    largest: int = 0

    @property
    def calls_per_run(self) -> float:
        return self.calls / self.runs if self.runs else 0.0


@dataclass
class _Call:
    feeds: dict[str, np.ndarray]
    outputs: tuple[str, ...]
    rows: int
    key: tuple
    future: Future = field(default_factory=Future)


def _key(feeds: Mapping[str, np.ndarray], outputs: tuple[str, ...]) -> tuple:
    """Calls with equal keys can be stacked along axis 0."""
    return outputs, tuple(sorted((name, a.dtype.str, a.shape[1:]) for name, a in feeds.items()))


class MicroBatcher:
    """Merge concurrent ``run(feeds, outputs)`` calls into one call of ``run_fn`` (see the module
    docstring). Thread-safe; the worker thread starts on first use and sleeps when idle."""

    def __init__(self, run_fn: RunFn, policy: BatchPolicy | None = None, *, name: str = "model") -> None:
        self.run_fn = run_fn
        self.policy = policy or BatchPolicy()
        self.name = name
        self.stats = BatchStats()
        self._queue: deque[_Call] = deque()
        self._wakeup = threading.Condition()
        self._worker: threading.Thread | None = None

    def run(self, feeds: Mapping[str, np.ndarray], outputs: Sequence[str]) -> dict[str, np.ndarray]:
        """Run ``feeds`` (every input with the same number of rows) as part of the next batch;
        block until this call's own rows of ``outputs`` are back."""
        arrays = {name: np.asarray(value) for name, value in feeds.items()}
        if not arrays or any(a.ndim == 0 for a in arrays.values()):
            raise InputError(f"{self.name}: batched inputs need a batch axis")
        rows = {a.shape[0] for a in arrays.values()}
        if len(rows) != 1:
            raise InputError(f"{self.name}: inputs disagree on batch size ({sorted(rows)})")
        names = tuple(outputs)
        call = _Call(arrays, names, rows.pop(), _key(arrays, names))
        if call.rows >= self.policy.max_batch:  # a full batch on its own: nothing to wait for
            return self._alone(call)
        with self._wakeup:
            self._queue.append(call)
            if self._worker is None:
                self._worker = threading.Thread(target=self._serve, name=f"batcher-{self.name}", daemon=True)
                self._worker.start()
            self._wakeup.notify()
        return call.future.result()

    # -- the worker ----------------------------------------------------------------------------
    def _serve(self) -> None:
        while True:
            batch = self._next_batch()
            try:
                self._execute(batch)
            except BaseException as exc:  # noqa: BLE001 - no caller may wait forever
                for call in batch:
                    if not call.future.done():
                        call.future.set_exception(exc)

    def _next_batch(self) -> list[_Call]:
        """The oldest queued call and every queued call that stacks with it, up to max_batch rows,
        after waiting up to max_wait_s (from the oldest call's arrival) for more to come."""
        policy = self.policy
        with self._wakeup:
            while not self._queue:
                self._wakeup.wait()
            key = self._queue[0].key
            deadline = time.monotonic() + policy.max_wait_s
            while sum(c.rows for c in self._queue if c.key == key) < policy.max_batch:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._wakeup.wait(left)
            batch, rows, rest = [], 0, deque()
            while self._queue:
                call = self._queue.popleft()
                if call.key == key and rows + call.rows <= policy.max_batch:
                    batch.append(call)
                    rows += call.rows
                else:
                    rest.append(call)
            self._queue.extendleft(reversed(rest))
            return batch

    def _execute(self, batch: list[_Call]) -> None:
        if len(batch) == 1:
            self._settle(batch[0], self._alone)
            return
        try:
            feeds = {name: np.concatenate([c.feeds[name] for c in batch]) for name in batch[0].feeds}
            results = self.run_fn(feeds, batch[0].outputs)
            total = sum(c.rows for c in batch)
            if any(np.asarray(v).shape[:1] != (total,) for v in results.values()):
                raise ValueError("an output has no batch axis")  # not row-wise: run each call alone
        except Exception:
            for call in batch:  # each caller gets its own result, or its own error
                self._settle(call, self._alone)
            return
        self._count(len(batch), total)
        start = 0
        for call in batch:
            part = {name: np.asarray(value)[start:start + call.rows] for name, value in results.items()}
            start += call.rows
            if not call.future.cancelled():
                call.future.set_result(part)

    def _alone(self, call: _Call) -> dict[str, np.ndarray]:
        result = dict(self.run_fn(call.feeds, call.outputs))
        self._count(1, call.rows)
        return result

    def _count(self, calls: int, rows: int) -> None:
        with self._wakeup:
            self.stats.runs += 1
            self.stats.calls += calls
            self.stats.rows += rows
            self.stats.largest = max(self.stats.largest, rows)

    @staticmethod
    def _settle(call: _Call, fn: Callable[[_Call], dict[str, np.ndarray]]) -> None:
        try:
            call.future.set_result(fn(call))
        except BaseException as exc:  # noqa: BLE001 - handed to the caller, who re-raises it
            call.future.set_exception(exc)

    def __repr__(self) -> str:
        return f"MicroBatcher({self.name!r}, {self.policy})"
