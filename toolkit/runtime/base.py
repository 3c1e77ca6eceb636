"""The base of every task pipeline.

``toolkit.runtime.load`` reads a manifest, then builds the pipeline its task's
:class:`~toolkit.tasks.TaskSpec` names (which also says what files the export must hold).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from toolkit.errors import InputError
from toolkit.manifest import Manifest
from toolkit.runtime.batching import BatchPolicy
from toolkit.runtime.session import ModelSession


class Pipeline:
    """An export opened for use: its manifest and one :class:`ModelSession` per ONNX file.

    Subclasses add task methods (``sample``, ``predict``, ``generate`` …). ``run(file, **inputs)``
    stays available for anything the task methods do not cover.
    """

    #: onnxruntime intra-op threads when the caller names none (None: onnxruntime's default).
    #: Pipelines of many tiny runs (MTCNN's cascade) are faster single-threaded.
    default_threads: int | None = None
    #: Files whose calls concurrent users may share (row-wise models: each output row depends on
    #: its own input row only); :meth:`enable_batching` merges their concurrent runs.
    batchable: tuple[str, ...] = ()

    def __init__(self, manifest: Manifest, sessions: dict[str, ModelSession]) -> None:
        self.manifest = manifest
        self.sessions = sessions

    @property
    def name(self) -> str:
        return self.manifest.name

    @property
    def task(self) -> str:
        return self.manifest.task

    @property
    def info(self) -> dict[str, Any]:
        return self.manifest.info

    @property
    def providers(self) -> dict[str, str]:
        """The execution provider each file really runs on."""
        return {name: s.provider for name, s in self.sessions.items()}

    @property
    def provider(self) -> str:
        providers = set(self.providers.values())
        return providers.pop() if len(providers) == 1 else ", ".join(sorted(providers))

    def session(self, name: str) -> ModelSession:
        try:
            return self.sessions[name]
        except KeyError:
            raise InputError(f"export {self.name!r} has no file {name!r} (it has: {', '.join(self.sessions)})") from None

    def run(self, file: str, **inputs: Any) -> dict[str, np.ndarray]:
        return self.session(file).run(inputs)

    def enable_batching(self, policy: BatchPolicy | None = None) -> dict[str, Any]:
        """Merge concurrent calls of the :attr:`batchable` files into one run each (a server's
        many users share a model run); returns the batchers by file name (empty: nothing to merge)."""
        return {name: self.sessions[name].enable_batching(policy) for name in self.batchable if name in self.sessions}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}, task={self.task!r}, provider={self.provider!r})"


class GenericPipeline(Pipeline):
    """For tasks with no dedicated pipeline: call files by name with ``run``."""
