"""onnxruntime sessions that pick a working provider, say which one they got, and check inputs.

Kept to numpy + onnxruntime: this is what a Hugging Face Space imports.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort

from toolkit.errors import InputError, ModelFileError
from toolkit.runtime.batching import BatchPolicy, MicroBatcher
from toolkit.tensors import TensorInfo

#: Set to "cpu" to force the CPU provider, or "cuda" to require CUDA (error if it does not work).
PROVIDER_ENV = "ONNXKIT_PROVIDER"
_RANGE_SLACK = 1e-3  # float inputs may overshoot a declared range by rounding noise

ort.set_default_logger_severity(3)


#: Rows per onnxruntime call in :meth:`ModelSession.run_chunked` (one constant for every pipeline).
CHUNK_ROWS = 256


def preferred_providers() -> list[str]:
    """Providers to try, best first, from what this onnxruntime build offers and ``ONNXKIT_PROVIDER``."""
    wanted = os.environ.get(PROVIDER_ENV, "auto").strip().lower()
    available = ort.get_available_providers()
    if wanted == "cpu":
        return ["CPUExecutionProvider"]
    if wanted not in ("auto", "cuda"):
        raise InputError(f"{PROVIDER_ENV}={wanted!r}: expected auto, cpu or cuda")
    providers = []
    if "CUDAExecutionProvider" in available and _cuda_usable():
        providers.append("CUDAExecutionProvider")
    elif wanted == "cuda":
        raise InputError(f"{PROVIDER_ENV}=cuda but CUDA does not work here (available: {', '.join(available)})")
    providers.append("CPUExecutionProvider")
    return providers


_cuda_checked: bool | None = None


def _cuda_usable() -> bool:
    """onnxruntime-gpu lists CUDA even where no driver exists; probe for a driver once, cheaply."""
    global _cuda_checked
    if _cuda_checked is None:
        import ctypes.util

        _cuda_checked = bool(ctypes.util.find_library("cuda")) or Path("/dev/nvidia0").exists()
    return _cuda_checked


class ModelSession:
    """One ONNX file with its declared inputs/outputs.

    ``provider`` is the provider onnxruntime really runs first (not merely the one asked for).
    ``run`` validates every input against the manifest's :class:`TensorInfo` before running.
    """

    def __init__(self, path: str | Path, inputs: Sequence[TensorInfo], outputs: Sequence[TensorInfo],
                 *, name: str | None = None, providers: Sequence[str] | None = None,
                 threads: int | None = None) -> None:
        self.path = Path(path)
        self.name = name or self.path.stem
        self.inputs = list(inputs)
        self.outputs = list(outputs)
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3
        if threads:
            options.intra_op_num_threads = threads
        wanted = list(providers or preferred_providers())
        try:
            self.session = ort.InferenceSession(str(self.path), options, providers=wanted)
        except Exception as exc:  # InvalidProtobuf, Fail, NoSuchFile …: all mean a bad file
            raise ModelFileError(f"{self.path}: not a loadable ONNX model ({_short(exc)})") from None
        self.provider = self.session.get_providers()[0]
        self.batcher: MicroBatcher | None = None
        self._check_signature()

    def _check_signature(self) -> None:
        actual_in = {i.name for i in self.session.get_inputs()}
        actual_out = {o.name for o in self.session.get_outputs()}
        declared_in = {t.name for t in self.inputs}
        declared_out = {t.name for t in self.outputs}
        if actual_in != declared_in or not declared_out <= actual_out:
            raise ModelFileError(
                f"{self.path}: its inputs {sorted(actual_in)} / outputs {sorted(actual_out)} do not match "
                f"the manifest's {sorted(declared_in)} / {sorted(declared_out)} (foreign or replaced file?)"
            )

    @property
    def metadata(self) -> dict[str, str]:
        return dict(self.session.get_modelmeta().custom_metadata_map)

    def validate(self, feeds: Mapping[str, Any]) -> dict[str, np.ndarray]:
        """Check names, dtype, rank, fixed dims, batch agreement, finiteness and range."""
        unknown = set(feeds) - {t.name for t in self.inputs}
        if unknown:
            raise InputError(f"{self.name}: unknown input(s) {sorted(unknown)}; expected {[t.name for t in self.inputs]}")
        checked: dict[str, np.ndarray] = {}
        batch: int | None = None
        for tensor in self.inputs:
            if tensor.name not in feeds:
                raise InputError(f"{self.name}: missing input {tensor.name!r} ({tensor.describe()})")
            value = feeds[tensor.name]
            if not isinstance(value, np.ndarray):
                raise InputError(f"{self.name}: input {tensor.name!r} must be a numpy array, got {type(value).__name__}")
            if value.dtype != np.dtype(tensor.dtype):
                raise InputError(f"{self.name}: input {tensor.name!r} has dtype {value.dtype}, expected {tensor.dtype}")
            if value.ndim != len(tensor.shape):
                raise InputError(
                    f"{self.name}: input {tensor.name!r} has shape {value.shape}, expected rank {len(tensor.shape)} "
                    f"({tensor.describe()})"
                )
            for axis, (want, have) in enumerate(zip(tensor.shape, value.shape)):
                if want is not None and want != have:
                    raise InputError(
                        f"{self.name}: input {tensor.name!r} has shape {value.shape}, axis {axis} must be {want} "
                        f"({tensor.describe()})"
                    )
            if value.shape[0] == 0:
                raise InputError(f"{self.name}: input {tensor.name!r} is empty (batch of 0)")
            if batch is None:
                batch = value.shape[0]
            elif value.shape[0] != batch:
                raise InputError(f"{self.name}: inputs disagree on batch size ({batch} vs {value.shape[0]})")
            if value.dtype.kind == "f" and not np.isfinite(value).all():
                raise InputError(f"{self.name}: input {tensor.name!r} contains NaN or infinity")
            if tensor.value_range is not None and value.size:
                low, high = tensor.value_range
                slack = _RANGE_SLACK * max(1.0, high - low) if value.dtype.kind == "f" else 0
                vmin, vmax = value.min(), value.max()
                if vmin < low - slack or vmax > high + slack:
                    raise InputError(
                        f"{self.name}: input {tensor.name!r} has values in [{vmin:g}, {vmax:g}], "
                        f"outside its range [{low:g}, {high:g}]"
                    )
            checked[tensor.name] = value
        return checked

    def run(self, feeds: Mapping[str, Any], outputs: Sequence[str] | None = None,
            *, validate: bool = True) -> dict[str, np.ndarray]:
        """Run the model; return the requested outputs (all declared ones by default) by name."""
        names = list(outputs) if outputs is not None else [t.name for t in self.outputs]
        checked = self.validate(feeds) if validate else dict(feeds)
        if self.batcher is not None:  # validated here, in the caller's thread: its errors stay its own
            return self.batcher.run(checked, names)
        return self._run_now(checked, names)

    def run_chunked(self, feeds: Mapping[str, Any], outputs: Sequence[str] | None = None, *,
                    chunk: int | None = None, validate: bool = True) -> dict[str, np.ndarray]:
        """:meth:`run` on at most ``chunk`` rows at a time (every feed split along its batch axis),
        outputs concatenated: bounds the memory of one call whatever the caller asks for. An empty
        batch runs once, so the error is the session's own."""
        rows = chunk or CHUNK_ROWS
        total = len(next(iter(feeds.values()))) if feeds else 0
        parts = [self.run({k: v[start:start + rows] for k, v in feeds.items()}, outputs, validate=validate)
                 for start in range(0, max(total, 1), rows)]
        return {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}

    def _run_now(self, feeds: Mapping[str, Any], names: Sequence[str]) -> dict[str, np.ndarray]:
        return dict(zip(names, self.session.run(list(names), dict(feeds))))

    def enable_batching(self, policy: BatchPolicy | None = None) -> MicroBatcher:
        """From now on, concurrent :meth:`run` calls are merged into one onnxruntime run (see
        :mod:`toolkit.runtime.batching`); the batcher (its ``stats``) is returned."""
        self.batcher = MicroBatcher(self._run_now, policy, name=self.name)
        return self.batcher

    def disable_batching(self) -> None:
        self.batcher = None

    def __repr__(self) -> str:
        return f"ModelSession({self.path.name!r}, provider={self.provider!r})"


def _short(exc: Exception) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:300]
