"""The shipped models a demo serves: found in ``exported/``, opened once, shared by every request.

onnxruntime sessions are thread-safe for ``run``, so one pipeline per export serves all users;
opening them per request would cost a model load each time. Exports are found by the ``task`` in
their manifests, not by name, so a Space built from any subset of exports just works, and an
export that is missing or broken becomes a clear "not available" message in its tab instead of a
crash at start.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from toolkit import runtime
from toolkit.errors import OnnxkitError
from toolkit.runtime.batching import BatchPolicy
from toolkit.manifest import MANIFEST_NAME, read_manifest
from toolkit.runtime.exports import default_exported_dir

log = logging.getLogger("apps")

#: Environment variable for onnxruntime intra-op threads per session (default: SERVING_THREADS).
THREADS_ENV = "ONNXKIT_THREADS"
#: Where a demo face gallery may live inside the exports directory (file or directory).
GALLERY_NAMES = ("face-gallery.npz", "face-gallery")


#: One intra-op thread per session: a demo runs requests side by side (and merges them into batched
#: runs), so splitting one run over the cores gains nothing, while each session's extra pool thread
#: spins after every run and takes CPU from the server's event loop. Measured with load_test.py
#: 500/50 at load average ~39: onnxruntime's default (2 threads here) 491/500 (9 uploads timed out
#: at the client), 153 s; one thread 500/500, 118 s, p95 18.5 s instead of 28.6 s.
SERVING_THREADS = 1


def default_threads() -> int:
    value = os.environ.get(THREADS_ENV, "").strip()
    return int(value) if value.isdigit() and int(value) > 0 else SERVING_THREADS


class ModelStore:
    """Every export under one directory, opened at construction.

    ``pipelines`` maps export name -> pipeline; ``problems`` maps export name -> why it could not be
    opened; ``gallery`` is the demo face gallery (or None, with ``gallery_problem`` saying why).
    With ``batching``, concurrent requests' calls of each row-wise model are merged into one
    onnxruntime run (:mod:`toolkit.runtime.batching`); None runs every call on its own.
    """

    def __init__(self, root: str | os.PathLike[str] | None = None, *, threads: int | None = None,
                 parallel: bool = True, batching: BatchPolicy | None = None) -> None:
        self.root = Path(root) if root is not None else default_exported_dir()
        self.threads = threads if threads is not None else default_threads()
        self.batching = batching
        self.pipelines: dict[str, runtime.Pipeline] = {}
        self.problems: dict[str, str] = {}
        self.tasks: dict[str, str] = {}
        self.gallery: Any = None
        self.gallery_problem = "no demo face gallery (face-gallery.npz) in the exports directory"
        self.load_seconds = 0.0
        start = time.perf_counter()
        self._load_all(parallel)
        self._load_gallery()
        self.load_seconds = time.perf_counter() - start

    # -- loading -----------------------------------------------------------------------------
    def _export_dirs(self) -> list[Path]:
        if not self.root.is_dir():
            return []
        return sorted(p for p in self.root.iterdir() if (p / MANIFEST_NAME).is_file())

    def _open(self, path: Path) -> tuple[str, runtime.Pipeline | None, str]:
        try:
            task = read_manifest(path, verify_hashes=False).task
            self.tasks[path.name] = task
            pipeline = runtime.load(path, threads=self.threads)
            if self.batching is not None:
                pipeline.enable_batching(self.batching)
            return path.name, pipeline, ""
        except OnnxkitError as exc:
            return path.name, None, str(exc)
        except Exception as exc:  # a pipeline bug must not take the whole demo down
            log.exception("loading %s failed", path)
            return path.name, None, f"{type(exc).__name__}: {exc}"

    def _load_all(self, parallel: bool) -> None:
        dirs = self._export_dirs()
        if parallel and len(dirs) > 1:
            # onnxruntime releases the GIL while it builds sessions: loading side by side
            # shortens the cold start on a multi-core machine.
            with ThreadPoolExecutor(max_workers=min(4, len(dirs))) as pool:
                results = list(pool.map(self._open, dirs))
        else:
            results = [self._open(d) for d in dirs]
        for name, pipeline, problem in results:
            if pipeline is not None:
                self.pipelines[name] = pipeline
            else:
                self.problems[name] = problem
                log.warning("export %s not available: %s", name, problem)

    def _load_gallery(self) -> None:
        path = next((self.root / n for n in GALLERY_NAMES if (self.root / n).exists()), None)
        if path is None:
            return
        try:
            from toolkit.runtime.faces.gallery import Gallery
        except ImportError as exc:
            self.gallery_problem = f"face runtime not installed ({exc})"
            return
        try:
            self.gallery = Gallery.load(path)
            self.gallery_path = path
        except OnnxkitError as exc:
            self.gallery_problem = f"{path.name}: {exc}"

    # -- queries -----------------------------------------------------------------------------
    def by_task(self, *tasks: str) -> dict[str, runtime.Pipeline]:
        """Loaded pipelines whose task is one of ``tasks``, by export name (sorted)."""
        return {name: p for name, p in sorted(self.pipelines.items()) if p.task in tasks}

    def first(self, task: str) -> runtime.Pipeline | None:
        return next(iter(self.by_task(task).values()), None)

    def get(self, name: str, tasks: Iterable[str]) -> runtime.Pipeline:
        """The pipeline ``name`` if it is loaded and of one of ``tasks``; a clear error otherwise."""
        from apps.limits import LimitError

        tasks = tuple(tasks)
        pipeline = self.pipelines.get(name or "")
        if pipeline is None or pipeline.task not in tasks:
            known = ", ".join(self.by_task(*tasks)) or "none"
            raise LimitError(f"model {name!r} is not available here (available: {known})")
        return pipeline

    def missing(self, what: str, tasks: Iterable[str]) -> str:
        """A Markdown message for a tab whose models are absent: what is missing and why."""
        tasks = tuple(tasks)
        broken = [f"- `{n}`: {msg}" for n, msg in sorted(self.problems.items()) if self.tasks.get(n) in tasks]
        head = (f"**{what}: model not available.** No export of task {' / '.join(tasks)} "
                f"could be opened in `{self.root}`.")
        if broken:
            return head + "\n\nExports that failed to open:\n" + "\n".join(broken)
        return head + "\n\nShip one with `onnxkit export ... --out exported/NAME` and restart the app."

    def summary(self) -> str:
        loaded = ", ".join(f"{n} ({p.task}, {p.provider})" for n, p in sorted(self.pipelines.items()))
        return (f"{len(self.pipelines)} export(s) from {self.root} in {self.load_seconds:.2f} s: {loaded or 'none'}"
                + (f"; {len(self.problems)} failed" if self.problems else ""))
