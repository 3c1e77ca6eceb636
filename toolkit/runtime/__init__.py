"""Serving side: open an export directory and use it. Needs numpy and onnxruntime only.

    >>> from toolkit import runtime
    >>> generator = runtime.load("exported/dcgan-mnist")
    >>> generator.provider          # 'CUDAExecutionProvider' or 'CPUExecutionProvider'
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path

from toolkit.errors import ManifestError
from toolkit.manifest import Manifest, read_manifest
from toolkit.runtime.base import GenericPipeline, Pipeline
from toolkit.runtime.session import ModelSession, preferred_providers
from toolkit.tasks import get_tasks

__all__ = ["GenericPipeline", "Manifest", "ModelSession", "Pipeline", "load", "open_sessions", "pipeline_class", "preferred_providers"]


def pipeline_class(task: str) -> type[Pipeline]:
    """The pipeline class registered for ``task``; ``GenericPipeline`` (with a warning) when no
    installed plugin registers it, so an export of a new task still opens and runs by file name."""
    spec = get_tasks().task(task)
    if spec is None:
        warnings.warn(f"task {task!r} is not registered by any installed plugin; opening it as a "
                      "GenericPipeline (call its files with run())", stacklevel=3)
        return GenericPipeline
    return spec.pipeline_class()


def open_sessions(manifest: Manifest, providers: Sequence[str] | None = None,
                  threads: int | None = None) -> dict[str, ModelSession]:
    assert manifest.root is not None
    return {
        name: ModelSession(manifest.root / entry.path, entry.inputs, entry.outputs, name=name,
                           providers=providers, threads=threads)
        for name, entry in manifest.files.items()
    }


def load(path: str | Path, *, expect: str | Sequence[str] | None = None, providers: Sequence[str] | None = None,
         threads: int | None = None, verify: bool = True) -> Pipeline:
    """Open an export directory: validate its manifest and hashes, open sessions, return its pipeline.

    ``providers`` overrides the automatic choice (CUDA when it really works, else CPU);
    ``pipeline.provider`` tells which one each session got. ``threads`` sets onnxruntime's
    intra-op threads (default: the pipeline's ``default_threads``, else onnxruntime's choice).
    ``expect`` (a task or several) refuses an export of any other task, before opening a session.
    """
    manifest = read_manifest(path, verify_hashes=verify)
    if expect is not None:
        expected = (expect,) if isinstance(expect, str) else tuple(expect)
        if manifest.task not in expected:
            raise ManifestError(f"{path}: export {manifest.name!r} has task {manifest.task!r}; "
                                f"expected {' or '.join(expected)}")
    cls = pipeline_class(manifest.task)
    if threads is None:
        threads = cls.default_threads
    sessions = open_sessions(manifest, providers=providers, threads=threads)
    try:
        return cls(manifest, sessions)
    except (KeyError, TypeError) as exc:
        raise ManifestError(f"{path}: manifest lacks what a {manifest.task} pipeline needs ({exc})") from None
