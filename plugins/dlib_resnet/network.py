"""dlib's face recognition ResNet rebuilt as a Keras 3 functional model from :func:`read_dat`'s layers.

Layer for layer as dlib computes it (``dlib/dnn/layers.h``):

- input: 150x150 RGB; the model takes values in [0, 1] (what the runtime's embedder feeds) and
  maps them to dlib's ``(pixel - mean) / 256`` with one :class:`Rescaling` layer;
- ``con``: cross-correlation with bias; 3x3 stride 1 pads 1 ("same"); stride 2 pads nothing, and
  where dlib's size formula ``1 + (n - k) / s`` (C division) wants an output the input is too
  small for, the missing rows/columns at the end read as zeros, as in dlib's im2col;
- ``affine``: batch norm folded into a per-channel scale and shift (a depthwise multiply-add);
- ``add_prev``: dlib adds tensors of different shapes by padding the smaller one with zeros at
  the end of channels, height and width (``tt::add``); :class:`PadTo` does that padding.

Imported lazily (it imports Keras).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from plugins.dlib_resnet.dat import Layer
from toolkit.tf_setup import import_keras

keras = import_keras()
SIZE = 150


@keras.saving.register_keras_serializable(package="dlib_resnet")
class PadTo(keras.layers.Layer):
    """Zero-pad an NHWC tensor at the end of height, width and channels to ``shape`` (dlib's add)."""

    def __init__(self, shape: tuple[int, int, int], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.shape = tuple(int(s) for s in shape)

    def call(self, x: Any) -> Any:
        ops = keras.ops
        pads = [[0, 0]] + [[0, target - int(have)] for target, have in zip(self.shape, x.shape[1:])]
        return ops.pad(x, pads)

    def compute_output_shape(self, input_shape: Any) -> Any:
        return (input_shape[0], *self.shape)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "shape": list(self.shape)}


@keras.saving.register_keras_serializable(package="dlib_resnet")
class Affine(keras.layers.Layer):
    """``x * gamma + beta`` per channel: dlib's ``affine_`` (batch norm at inference, folded)."""

    def build(self, input_shape: Any) -> None:
        channels = int(input_shape[-1])
        self.gamma = self.add_weight(name="gamma", shape=(channels,), initializer="ones")
        self.beta = self.add_weight(name="beta", shape=(channels,), initializer="zeros")

    def call(self, x: Any) -> Any:
        return x * self.gamma + self.beta


def _c_div(a: int, b: int) -> int:
    """C integer division (truncates toward zero), as dlib's output-size formula uses."""
    return int(a / b)


def _conv(L: Any, x: Any, layer: Layer, name: str) -> Any:
    size, stride, filters = layer.attrs["size"], layer.attrs["stride"], layer.attrs["filters"]
    if stride == 1:
        return L.Conv2D(filters, size, padding="same", name=name)(x)
    height, width = int(x.shape[1]), int(x.shape[2])
    out_h, out_w = 1 + _c_div(height - size, stride), 1 + _c_div(width - size, stride)
    pad_h, pad_w = max(0, (out_h - 1) * stride + size - height), max(0, (out_w - 1) * stride + size - width)
    if pad_h or pad_w:
        x = L.ZeroPadding2D(((0, pad_h), (0, pad_w)), name=f"{name}_pad")(x)
    return L.Conv2D(filters, size, strides=stride, padding="valid", name=name)(x)


def _padded_add(L: Any, a: Any, b: Any, name: str) -> Any:
    target = tuple(max(int(p), int(q)) for p, q in zip(a.shape[1:], b.shape[1:]))
    a = a if tuple(a.shape[1:]) == target else PadTo(target, name=f"{name}_pad_a")(a)
    b = b if tuple(b.shape[1:]) == target else PadTo(target, name=f"{name}_pad_b")(b)
    return L.Add(name=name)([a, b])


def build_network(layers: list[Layer]) -> tuple[Any, dict[str, list[np.ndarray]]]:
    """The Keras model (input ``[N, 150, 150, 3]`` in [0, 1] -> 128-d descriptor) and its weights by layer name."""
    L = keras.layers
    first = layers[0]
    means = np.array([first.attrs["mean_red"], first.attrs["mean_green"], first.attrs["mean_blue"]], np.float32)
    inputs = keras.Input((SIZE, SIZE, 3), name="faces")
    x = L.Rescaling(scale=255.0 / 256.0, offset=(-means / 256.0).tolist(), name="dlib_input")(inputs)
    tags: dict[int, Any] = {}
    weights: dict[str, list[np.ndarray]] = {}
    counts: dict[str, int] = {}
    for layer in layers[1:]:
        counts[layer.kind] = counts.get(layer.kind, 0) + 1
        name = f"{layer.kind}{counts[layer.kind]}"
        if layer.kind == "con":
            x = _conv(L, x, layer, name)
            weights[name] = [layer.params["filters"].transpose(2, 3, 1, 0), layer.params["bias"]]
        elif layer.kind == "affine":
            x = Affine(name=name)(x)
            weights[name] = [layer.params["gamma"], layer.params["beta"]]
        elif layer.kind == "relu":
            x = L.ReLU(name=name)(x)
        elif layer.kind == "max_pool":
            x = L.MaxPooling2D(layer.attrs["size"], layer.attrs["stride"], padding="valid", name=name)(x)
        elif layer.kind == "avg_pool" and layer.attrs["size"] == 0:
            x = L.GlobalAveragePooling2D(name=name)(x)
        elif layer.kind == "avg_pool":
            x = L.AveragePooling2D(layer.attrs["size"], layer.attrs["stride"], padding="valid", name=name)(x)
        elif layer.kind == "tag":
            tags[layer.attrs["id"]] = x
        elif layer.kind == "skip":
            x = tags[layer.attrs["id"]]
        elif layer.kind == "add_prev":
            x = _padded_add(L, x, tags[layer.attrs["tag"]], name)
        elif layer.kind == "fc":
            x = L.Dense(layer.attrs["outputs"], use_bias=False, name="descriptor")(x)
            weights["descriptor"] = [layer.params["weights"]]
        else:  # pragma: no cover - read_dat only yields the kinds above
            raise AssertionError(layer.kind)
    model = keras.Model(inputs, x, name="dlib_face_resnet")
    for name, arrays in weights.items():
        model.get_layer(name).set_weights(arrays)
    return model, weights


__all__ = ["build_network", "PadTo", "Affine", "SIZE"]
