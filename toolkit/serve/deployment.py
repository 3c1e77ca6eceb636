"""One Ray Serve deployment per export: HTTP + JSON in front of the export's ONNX files.

Routes, under the application's prefix (``/<export name>``)::

    GET  /            what the export takes and gives (from its manifest) and the batching settings
    GET  /-/stats     this replica's batch sizes so far (requests per onnxruntime run)
    POST /FILE        run one ONNX file: {"inputs": {NAME: nested lists}} -> {"outputs": {...}, "batch": {...}}
                      (tensors may travel as base64 bytes instead: see toolkit.serve.codec)

Requests are validated exactly as :meth:`ModelSession.validate` does in-process (a bad one gets a
400 naming the problem, before it joins a batch); valid ones are queued by ``@serve.batch``, which
hands the replica up to ``max_batch_size`` of them at once; requests for the same row-wise file
(:func:`row_wise_files`) with the same per-row shapes are stacked into one onnxruntime run and split
again. Every answer says how many requests shared its run (``batch.requests``), so a client or a
test sees batching happen.

A text generator's ``step`` file is served like any other: the GRU state travels in the request
and the response, so any replica can take any step and steps of many streams share one run.
"""

from __future__ import annotations

import asyncio
import collections
import json
import logging
from typing import Any

import numpy as np
from ray import serve
from starlette.requests import Request
from starlette.responses import JSONResponse

from toolkit.errors import InputError, OnnxkitError
from toolkit.serve.codec import MAX_BODY_BYTES, batch_key, decode_inputs, encode_outputs, parse_body, wants_b64

log = logging.getLogger("onnxkit.serve")

DEFAULT_MAX_BATCH_SIZE = 16
DEFAULT_BATCH_WAIT_MS = 5.0


def row_wise_files(pipeline: Any) -> set[str]:
    """Files whose requests may be stacked into one run: each output row depends on its own input
    row only. The pipeline's ``batchable`` files (what the in-process micro-batcher merges), and a
    text generator's ``step`` (one GRU step per row: the point of carrying the state). Other files'
    requests still share a replica's batch queue but each gets a run of its own."""
    files = set(getattr(pipeline, "batchable", ()))
    if pipeline.task == "text-generator" and "step" in pipeline.sessions:
        files.add("step")
    return files


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


@serve.deployment(max_ongoing_requests=64)
class ExportDeployment:
    """Serves one export directory (see the module docstring). ``threads`` = onnxruntime intra-op
    threads per replica (None: onnxruntime's choice; 1 is best when replicas share few cores)."""

    def __init__(self, export_dir: str, max_batch_size: int = DEFAULT_MAX_BATCH_SIZE,
                 batch_wait_ms: float = DEFAULT_BATCH_WAIT_MS, threads: int | None = None) -> None:
        from toolkit import runtime

        self.pipeline = runtime.load(export_dir, threads=threads)
        self.max_batch_size = int(max_batch_size)
        self.batch_wait_ms = float(batch_wait_ms)
        self._run_batch.set_max_batch_size(self.max_batch_size)
        self._run_batch.set_batch_wait_timeout_s(self.batch_wait_ms / 1000.0)
        self.replica = serve.get_replica_context().replica_id.unique_id
        self.stackable = row_wise_files(self.pipeline)
        self.batch_sizes: collections.Counter[int] = collections.Counter()

    # -- HTTP -------------------------------------------------------------------------------------
    async def __call__(self, request: Request) -> JSONResponse:
        root = request.scope.get("root_path", "")
        path = request.url.path[len(root):] if request.url.path.startswith(root) else request.url.path
        route = path.strip("/")
        try:
            if route == "":
                return self._only(request, "GET") or JSONResponse(self.describe())
            if route == "-/stats":
                return self._only(request, "GET") or JSONResponse(self.stats())
            if route not in self.pipeline.sessions:
                return _error(404, f"export {self.pipeline.name!r} has no file {route!r} "
                                   f"(POST to one of: {', '.join('/' + f for f in self.pipeline.sessions)})")
            wrong = self._only(request, "POST")
            if wrong is not None:
                return wrong
            declared = request.headers.get("content-length", "0")
            if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
                return _error(413, f"request body is {declared} bytes, more than the {MAX_BODY_BYTES} allowed")
            session = self.pipeline.sessions[route]
            where = f"{self.pipeline.name}/{route}"
            data = parse_body(await request.body())
            b64 = wants_b64(data)
            arrays = session.validate(decode_inputs(data, session.inputs, where))
        except OnnxkitError as exc:
            return _error(400, str(exc))
        result = await self._run_batch((route, arrays, b64))
        if isinstance(result, Exception):
            status = 400 if isinstance(result, InputError) else 500
            return _error(status, f"{type(result).__name__}: {result}")
        return JSONResponse(result)

    def _only(self, request: Request, method: str) -> JSONResponse | None:
        if request.method != method:
            return _error(405, f"use {method} here, not {request.method}")
        return None

    def describe(self) -> dict[str, Any]:
        manifest = self.pipeline.manifest
        return {
            "name": manifest.name,
            "task": manifest.task,
            "files": {name: {"inputs": [t.to_json() for t in entry.inputs],
                             "outputs": [t.to_json() for t in entry.outputs]}
                      for name, entry in manifest.files.items()},
            "info": {k: v for k, v in manifest.info.items() if isinstance(v, (str, int, float, bool, list))},
            "stacked_files": sorted(self.stackable),
            "max_batch_size": self.max_batch_size,
            "batch_wait_ms": self.batch_wait_ms,
        }

    def stats(self) -> dict[str, Any]:
        runs = sum(self.batch_sizes.values())
        requests = sum(size * count for size, count in self.batch_sizes.items())
        return {
            "replica": self.replica,
            "runs": runs,
            "requests": requests,
            "max_batch": max(self.batch_sizes, default=0),
            "batch_sizes": {str(size): count for size, count in sorted(self.batch_sizes.items())},
        }

    # -- batching ---------------------------------------------------------------------------------
    @serve.batch(max_batch_size=DEFAULT_MAX_BATCH_SIZE, batch_wait_timeout_s=DEFAULT_BATCH_WAIT_MS / 1000)
    async def _run_batch(self, items: list[tuple[str, dict[str, np.ndarray], bool]]) -> list[Any]:
        """Group the queued requests by file and row shapes, run each group once, split the results."""
        groups: dict[tuple[Any, ...], list[int]] = collections.defaultdict(list)
        for index, (file, arrays, _) in enumerate(items):
            groups[(file, batch_key(arrays) if file in self.stackable else index)].append(index)
        results: list[Any] = [None] * len(items)
        for (file, _), members in groups.items():
            try:
                outputs = await asyncio.to_thread(self._run_group, file, [items[i][1] for i in members],
                                                  [items[i][2] for i in members])
            except Exception as exc:  # an onnxruntime failure answers every member, never drops one
                log.exception("run of %s failed", file)
                for i in members:
                    results[i] = exc if isinstance(exc, OnnxkitError) else RuntimeError(str(exc)[:500])
                continue
            self.batch_sizes[len(members)] += 1
            rows = sum(len(next(iter(items[i][1].values()))) for i in members)
            info = {"requests": len(members), "rows": rows, "replica": self.replica}
            for i, output in zip(members, outputs):
                results[i] = {"outputs": output, "batch": info}
        return results

    def _run_group(self, file: str, feeds: list[dict[str, np.ndarray]], b64: list[bool]) -> list[dict[str, Any]]:
        session = self.pipeline.sessions[file]
        sizes = [len(next(iter(f.values()))) for f in feeds]
        stacked = {name: np.concatenate([f[name] for f in feeds]) if len(feeds) > 1 else feeds[0][name]
                   for name in feeds[0]}
        outputs = session.run(stacked, validate=False)
        bounds = np.cumsum([0, *sizes])
        return [encode_outputs({name: value[start:stop] for name, value in outputs.items()}, binary)
                for start, stop, binary in zip(bounds[:-1], bounds[1:], b64)]


def build_app(args: dict[str, Any]) -> Any:
    """Application builder for ``serve deploy`` / ``serve run`` config files:
    ``import_path: toolkit.serve.deployment:build_app`` with ``args: {export: DIR, ...}``."""
    export = args.get("export")
    if not isinstance(export, str):
        raise ValueError(f"args.export must be the export directory, got {json.dumps(export)}")
    options = {k: args[k] for k in ("max_batch_size", "batch_wait_ms", "threads") if k in args}
    return ExportDeployment.bind(export, **options)
