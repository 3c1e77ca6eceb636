"""Serving side: open an export directory and use it. Needs numpy and onnxruntime only.

    >>> from toolkit import runtime
    >>> generator = runtime.load("exported/dcgan-digits")
    >>> generator.provider          # 'CUDAExecutionProvider' or 'CPUExecutionProvider'
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Sequence
from pathlib import Path

from toolkit.errors import ManifestError
from toolkit.manifest import Manifest, read_manifest
from toolkit.runtime.base import (
    GenericPipeline,
    Pipeline,
    pipeline_for,
    registered_pipelines,
)
from toolkit.runtime.session import ModelSession, preferred_providers

__all__ = ["Manifest", "ModelSession", "Pipeline", "load", "open_sessions", "pipeline_for", "preferred_providers"]

_tasks_imported = False


def _import_task_modules() -> None:
    global _tasks_imported
    if _tasks_imported:
        return
    import toolkit.runtime.tasks as package

    for module in pkgutil.iter_modules(package.__path__):
        importlib.import_module(f"{package.__name__}.{module.name}")
    _tasks_imported = True


def open_sessions(manifest: Manifest, providers: Sequence[str] | None = None,
                  threads: int | None = None) -> dict[str, ModelSession]:
    assert manifest.root is not None
    return {
        name: ModelSession(manifest.root / entry.path, entry.inputs, entry.outputs, name=name,
                           providers=providers, threads=threads)
        for name, entry in manifest.files.items()
    }


def load(path: str | Path, *, providers: Sequence[str] | None = None, threads: int | None = None,
         verify: bool = True) -> Pipeline:
    """Open an export directory: validate its manifest and hashes, open sessions, return its pipeline.

    ``providers`` overrides the automatic choice (CUDA when it really works, else CPU);
    ``pipeline.provider`` tells which one each session got. ``threads`` sets onnxruntime's
    intra-op threads (default: the pipeline's ``default_threads``, else onnxruntime's choice).
    """
    manifest = read_manifest(path, verify_hashes=verify)
    _import_task_modules()
    pipelines = registered_pipelines()
    cls = pipelines.get(manifest.task, GenericPipeline)
    if threads is None:
        threads = cls.default_threads
    sessions = open_sessions(manifest, providers=providers, threads=threads)
    try:
        return cls(manifest, sessions)
    except (KeyError, TypeError) as exc:
        raise ManifestError(f"{path}: manifest lacks what a {manifest.task} pipeline needs ({exc})") from None
