"""Dynamic batching: concurrent calls of one model merged into one onnxruntime run.

A server answering N users at once would otherwise make N small runs of the same model, each
paying the per-call overhead and competing for the same cores. :class:`MicroBatcher` runs one
batch at a time: a call that finds the model idle runs at once in its own thread (after waiting at
most ``max_wait_s`` for company), and calls that arrive meanwhile queue up. When a run ends, the
oldest queued caller leads the next one: it takes every queued call whose inputs stack with its
own (same input names, dtypes and shapes past the batch axis, same outputs asked for), up to
``max_batch`` rows, runs them as one batch and hands each caller its own rows back. No thread of
its own: a lone call costs no hand-over between threads, which on a busy machine is a wait for a
core each time.

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
    max_wait_s: float = 0.0

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
    turn: threading.Event = field(default_factory=threading.Event)
    leads: bool = False


def _key(feeds: Mapping[str, np.ndarray], outputs: tuple[str, ...]) -> tuple:
    """Calls with equal keys can be stacked along axis 0."""
    return outputs, tuple(sorted((name, a.dtype.str, a.shape[1:]) for name, a in feeds.items()))


class MicroBatcher:
    """Merge concurrent ``run(feeds, outputs)`` calls into one call of ``run_fn`` (see the module
    docstring). Thread-safe; runs in its callers' threads."""

    def __init__(self, run_fn: RunFn, policy: BatchPolicy | None = None, *, name: str = "model") -> None:
        self.run_fn = run_fn
        self.policy = policy or BatchPolicy()
        self.name = name
        self.stats = BatchStats()
        self._queue: deque[_Call] = deque()
        self._wakeup = threading.Condition()
        self._running = False  # a caller is leading a run

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
        if call.rows >= self.policy.max_batch:  # a full batch on its own: nothing to merge
            return self._alone(call)
        call.future.add_done_callback(lambda _: call.turn.set())
        with self._wakeup:
            self._queue.append(call)
            self._wakeup.notify_all()
            call.leads = not self._running
            self._running = True
        if call.leads:
            self._await_company(call)
        while not call.future.done():
            if call.leads:
                self._lead()
            else:
                call.turn.wait()  # this call's result, or its turn to lead the next run
                call.turn.clear()
        return call.future.result()

    def _await_company(self, call: _Call) -> None:
        """The first call after an idle spell waits up to max_wait_s for stackable calls."""
        deadline = time.monotonic() + self.policy.max_wait_s
        with self._wakeup:
            while sum(c.rows for c in self._queue if c.key == call.key) < self.policy.max_batch:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._wakeup.wait(left)

    def _lead(self) -> None:
        """Run the next batch (the oldest queued call, which is this one, and all that stack with
        it), then pass the lead to the oldest call still queued, or go idle."""
        with self._wakeup:
            key, batch, rows, rest = self._queue[0].key, [], 0, deque()
            while self._queue:
                queued = self._queue.popleft()
                if queued.key == key and rows + queued.rows <= self.policy.max_batch:
                    batch.append(queued)
                    rows += queued.rows
                else:
                    rest.append(queued)
            self._queue.extendleft(reversed(rest))
        try:
            self._execute(batch)
        except BaseException as exc:  # noqa: BLE001 - no caller may wait forever
            for queued in batch:
                if not queued.future.done():
                    queued.future.set_exception(exc)
        finally:
            with self._wakeup:
                if self._queue:
                    self._queue[0].leads = True
                    self._queue[0].turn.set()
                else:
                    self._running = False

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
