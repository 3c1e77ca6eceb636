"""The JSON <-> numpy codec of the Ray Serve deployment (numpy only: runs without Ray)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from toolkit.errors import InputError
from toolkit.serve.codec import batch_key, decode_inputs, encode_outputs, parse_body, to_b64, wants_b64
from toolkit.tensors import TensorInfo

STEP = [TensorInfo("token", (None,), "int64"), TensorInfo("state", (None, 3), "float32", value_range=(-1, 1))]


def test_lists_and_base64_decode_to_the_declared_dtypes() -> None:
    state = np.array([[0.25, -0.5, 1.0]], np.float32)
    arrays = decode_inputs({"inputs": {"token": [7], "state": state.tolist()}}, STEP, "m/step")
    assert arrays["token"].dtype == np.int64 and arrays["token"].tolist() == [7]
    assert arrays["state"].dtype == np.float32 and np.array_equal(arrays["state"], state)
    binary = json.loads(json.dumps({"inputs": {"token": to_b64(np.array([7, 8])), "state": to_b64(np.vstack([state, state]))}}))
    arrays = decode_inputs(binary, STEP, "m/step")
    assert arrays["token"].tolist() == [7, 8] and np.array_equal(arrays["state"], np.vstack([state, state]))


def test_outputs_encode_as_lists_with_null_for_nonfinite_or_as_base64() -> None:
    out = {"logits": np.array([[1.5, np.nan, -np.inf]], np.float32)}
    assert encode_outputs(out) == {"logits": [[1.5, None, None]]}
    packed = encode_outputs({"x": np.arange(6, dtype=np.float32).reshape(2, 3)}, b64=True)["x"]
    assert packed["dtype"] == "float32" and packed["shape"] == [2, 3]
    tensor = TensorInfo("x", (None, 3))
    again = decode_inputs({"inputs": {"x": packed}}, [tensor], "w")["x"]
    assert np.array_equal(again, np.arange(6, dtype=np.float32).reshape(2, 3))


@pytest.mark.parametrize("inputs, words", [
    ({"token": [1.5], "state": [[0, 0, 0]]}, ["'token'", "whole numbers"]),
    ({"token": [2**70], "state": [[0, 0, 0]]}, ["'token'"]),
    ({"token": [1], "state": [[0, 0], [0, 0, 0]]}, ["'state'", "rectangular"]),
    ({"token": [1], "state": [["a", "b", "c"]]}, ["'state'", "not numbers"]),
    ({"token": [1]}, ["missing input 'state'", "float32[N, 3]"]),
    ({"token": [1], "state": [[0, 0, 0]], "extra": [1]}, ["unknown input", "'extra'"]),
    ({"token": [1], "state": {"dtype": "float64", "shape": [1, 3], "b64": ""}}, ["'state'", "float64", "float32"]),
    ({"token": [1], "state": {"dtype": "float32", "shape": [1, 3], "b64": "AAAA"}}, ["3 bytes", "12 bytes"]),
    ({"token": [1], "state": {"dtype": "float32", "shape": [1, 3], "b64": "***"}}, ["not valid base64"]),
    ({"token": [1], "state": {"dtype": "float32", "shape": [1, -3], "b64": ""}}, ["shape must be"]),
    ({"token": [1], "state": {"shape": [1, 3]}}, ["binary tensor", "b64"]),
])
def test_bad_inputs_are_refused_naming_the_problem(inputs, words) -> None:
    with pytest.raises(InputError) as caught:
        decode_inputs({"inputs": inputs}, STEP, "m/step")
    message = str(caught.value)
    assert message.startswith("m/step") and all(word in message for word in words), message


def test_bodies_and_encodings() -> None:
    assert parse_body(b'{"inputs": {}}') == {"inputs": {}}
    for body, words in [(b"", "empty request body"), (b"{oops", "not valid JSON"), (b"[1]", "JSON object")]:
        with pytest.raises(InputError, match=words):
            parse_body(body)
    with pytest.raises(InputError, match='"inputs" object with token: int64'):
        decode_inputs({"input": {}}, STEP, "m/step")
    assert wants_b64({"encoding": "b64"}) and not wants_b64({})
    with pytest.raises(InputError, match='"encoding" must be'):
        wants_b64({"encoding": "hex"})


def test_batch_key_ignores_only_the_batch_axis() -> None:
    a = {"x": np.zeros((1, 4, 5), np.float32)}
    assert batch_key(a) == batch_key({"x": np.zeros((7, 4, 5), np.float32)})
    assert batch_key(a) != batch_key({"x": np.zeros((1, 5, 4), np.float32)})
    assert batch_key(a) != batch_key({"x": np.zeros((1, 4, 5), np.int64)})
