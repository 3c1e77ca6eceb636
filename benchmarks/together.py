"""Run calls in threads released at the same moment: what N concurrent users look like in-process."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import Any


def run_together(calls: Sequence[Callable[[], Any]]) -> tuple[float, list[Any]]:
    """Start one thread per call, release them together; (seconds until the last one finished,
    the results in order). The clock starts at the release, not at thread creation."""
    results: list[Any] = [None] * len(calls)
    gate = threading.Barrier(len(calls) + 1)

    def work(i: int) -> None:
        gate.wait()
        results[i] = calls[i]()

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    gate.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    return time.perf_counter() - began, results
