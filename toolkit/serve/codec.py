"""JSON in, numpy out (and back) for one ONNX file of an export, with errors that name the problem.

A request body is ``{"inputs": {NAME: nested lists}}`` with a leading batch axis (one row is a
batch of one). A large tensor may instead be sent as ``{"dtype": "float32", "shape": [...], "b64":
BASE64 of its little-endian C-order bytes}`` (a 112x112 RGB face is 0.2 MB that way instead of
~0.7 MB of JSON numbers that cost more to parse than the model costs to run); ``"encoding": "b64"``
in the body asks for the outputs in that form too. Shapes and dtypes come from the manifest; the
arrays then go through the same
:meth:`~toolkit.runtime.session.ModelSession.validate` as in-process calls, so a server answers a
bad request exactly as ``toolkit.runtime`` would raise. numpy only (no Ray): unit-testable alone.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from toolkit.errors import InputError
from toolkit.tensors import TensorInfo

#: Largest request body a deployment reads (a batch of 64 112x112 RGB faces as JSON is ~40 MB).
MAX_BODY_BYTES = 64 * 1024 * 1024


def parse_body(body: bytes) -> dict[str, Any]:
    """The request's JSON object; bad JSON or a non-object says so."""
    if len(body) > MAX_BODY_BYTES:
        raise InputError(f"request body is {len(body)} bytes, more than the {MAX_BODY_BYTES} allowed")
    if not body:
        raise InputError('empty request body; send JSON like {"inputs": {"NAME": [[...]]}}')
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"request body is not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise InputError(f"request body must be a JSON object, got {type(data).__name__}")
    return data


def decode_inputs(data: Mapping[str, Any], tensors: Sequence[TensorInfo], where: str) -> dict[str, np.ndarray]:
    """``data["inputs"]`` as numpy arrays of the declared dtypes (shape checks are left to
    ``ModelSession.validate``). Floats sent for an integer input and ragged lists are refused."""
    inputs = data.get("inputs")
    if not isinstance(inputs, dict):
        expected = ", ".join(t.describe() for t in tensors)
        raise InputError(f'{where}: the body needs an "inputs" object with {expected}')
    declared = {t.name: t for t in tensors}
    unknown = sorted(set(inputs) - set(declared))
    if unknown:
        raise InputError(f"{where}: unknown input(s) {unknown}; expected {sorted(declared)}")
    arrays: dict[str, np.ndarray] = {}
    for name, tensor in declared.items():
        if name not in inputs:
            raise InputError(f"{where}: missing input {name!r} ({tensor.describe()})")
        arrays[name] = _to_array(inputs[name], tensor, where)
    return arrays


def _to_array(value: Any, tensor: TensorInfo, where: str) -> np.ndarray:
    if isinstance(value, dict):
        return _from_b64(value, tensor, where)
    try:
        raw = np.asarray(value)
    except ValueError:  # ragged nesting
        raw = None
    if raw is None or raw.dtype == object:
        raise InputError(f"{where}: input {tensor.name!r} is not a rectangular array of numbers that fit "
                         f"{tensor.dtype} ({tensor.describe()})")
    if raw.dtype.kind not in "biuf":
        raise InputError(f"{where}: input {tensor.name!r} holds {raw.dtype.kind!r}-kind values, not numbers")
    want = np.dtype(tensor.dtype)
    if want.kind in "iu" and raw.dtype.kind == "f":
        raise InputError(f"{where}: input {tensor.name!r} must hold whole numbers ({tensor.dtype}), got floats")
    if want.kind == "b" and raw.dtype.kind != "b":
        raise InputError(f"{where}: input {tensor.name!r} must hold true/false values")
    if want.kind in "iu" and raw.size:
        info = np.iinfo(want)
        if raw.min() < info.min or raw.max() > info.max:
            raise InputError(f"{where}: input {tensor.name!r} has values outside {tensor.dtype}")
    return raw.astype(want, copy=False)


def _from_b64(value: dict[str, Any], tensor: TensorInfo, where: str) -> np.ndarray:
    at = f"{where}: input {tensor.name!r}"
    if set(value) != {"dtype", "shape", "b64"}:
        raise InputError(f'{at}: a binary tensor is {{"dtype", "shape", "b64"}}, got keys {sorted(value)}')
    if value["dtype"] != tensor.dtype:
        raise InputError(f"{at} has dtype {value['dtype']!r}, expected {tensor.dtype}")
    shape = value["shape"]
    if not isinstance(shape, list) or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape):
        raise InputError(f"{at}: shape must be a list of whole numbers >= 0, got {shape!r}")
    if not isinstance(value["b64"], str):
        raise InputError(f"{at}: b64 must be a base64 string")
    try:
        raw = base64.b64decode(value["b64"], validate=True)
    except (binascii.Error, ValueError):
        raise InputError(f"{at}: b64 is not valid base64") from None
    dtype = np.dtype(tensor.dtype).newbyteorder("<")
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(raw) != expected:
        raise InputError(f"{at}: {len(raw)} bytes do not make shape {shape} of {tensor.dtype} ({expected} bytes)")
    return np.frombuffer(raw, dtype=dtype).reshape(shape).astype(tensor.dtype, copy=False)


def wants_b64(data: Mapping[str, Any]) -> bool:
    encoding = data.get("encoding", "lists")
    if encoding not in ("lists", "b64"):
        raise InputError(f'"encoding" must be "lists" or "b64", got {encoding!r}')
    return encoding == "b64"


def to_b64(array: np.ndarray) -> dict[str, Any]:
    """The binary form of a tensor (see the module docstring); also what clients send."""
    little = np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<"))
    return {"dtype": array.dtype.name, "shape": list(array.shape), "b64": base64.b64encode(little.tobytes()).decode()}


def encode_outputs(outputs: Mapping[str, np.ndarray], b64: bool = False) -> dict[str, Any]:
    """Arrays as nested lists (a non-finite float becomes null: JSON has no NaN), or in binary form."""
    if b64:
        return {name: to_b64(array) for name, array in outputs.items()}
    encoded: dict[str, Any] = {}
    for name, array in outputs.items():
        if array.dtype.kind == "f" and not np.isfinite(array).all():
            encoded[name] = _nulls_for_nonfinite(array.tolist())
        else:
            encoded[name] = array.tolist()
    return encoded


def _nulls_for_nonfinite(value: Any) -> Any:
    if isinstance(value, list):
        return [_nulls_for_nonfinite(v) for v in value]
    return value if math.isfinite(value) else None


def batch_key(arrays: Mapping[str, np.ndarray]) -> tuple[Any, ...]:
    """Requests whose arrays agree on everything but the batch axis can be stacked into one run."""
    return tuple((name, a.dtype.str, a.shape[1:]) for name, a in sorted(arrays.items()))
