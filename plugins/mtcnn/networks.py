"""The three MTCNN networks as Keras functional models, layer for layer as in ``mtcnn`` 1.0.0.

The ``mtcnn`` package (PyPI, MIT) defines P-Net, R-Net and O-Net as Keras subclassed models and
ships their pretrained weights as joblib/lz4 lists in ``mtcnn/assets/weights/{pnet,rnet,onet}.lz4``.
We rebuild the same graphs as functional models (which tf2onnx traces cleanly, P-Net with dynamic
height and width) and copy the weights layer by layer, by name, so an ordering change in the
package fails loudly instead of silently scrambling kernels.

Imported lazily (it imports Keras).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from toolkit.errors import TrainingError
from toolkit.tf_setup import import_keras

#: Layer names in the order of each weight file's array list (each conv/dense: kernel, bias; prelu: alpha).
WEIGHT_LAYERS = {
    "pnet": ["conv1", "prelu1", "conv2", "prelu2", "conv3", "prelu3", "conv4-1", "conv4-2"],
    "rnet": ["conv1", "prelu1", "conv2", "prelu2", "conv3", "prelu3", "fc4", "prelu4", "fc5-1", "fc5-2"],
    "onet": ["conv1", "prelu1", "conv2", "prelu2", "conv3", "prelu3", "conv4", "prelu4", "fc5", "prelu5",
             "fc6-1", "fc6-2", "fc6-3"],
}


def _conv_prelu(L: Any, x: Any, filters: int, kernel: int, index: int) -> Any:
    x = L.Conv2D(filters, kernel, padding="valid", name=f"conv{index}")(x)
    return L.PReLU(shared_axes=[1, 2], name=f"prelu{index}")(x)


def build_pnet() -> Any:
    """P-Net: fully convolutional, any H x W >= 12 -> a (H-10)/2 x (W-10)/2 map of proposals."""
    keras = import_keras()
    L = keras.layers
    inputs = keras.Input((None, None, 3), name="image")
    x = _conv_prelu(L, inputs, 10, 3, 1)
    x = L.MaxPooling2D(2, 2, padding="same", name="maxpooling1")(x)
    x = _conv_prelu(L, x, 16, 3, 2)
    x = _conv_prelu(L, x, 32, 3, 3)
    regression = L.Conv2D(4, 1, name="conv4-1")(x)
    probability = L.Conv2D(2, 1, activation="softmax", name="conv4-2")(x)
    return keras.Model(inputs, [regression, probability], name="pnet")


def build_rnet() -> Any:
    """R-Net: 24 x 24 crops -> box offsets and face probability."""
    keras = import_keras()
    L = keras.layers
    inputs = keras.Input((24, 24, 3), name="crops")
    x = _conv_prelu(L, inputs, 28, 3, 1)
    x = L.MaxPooling2D(3, 2, padding="same", name="maxpooling1")(x)
    x = _conv_prelu(L, x, 48, 3, 2)
    x = L.MaxPooling2D(3, 2, padding="valid", name="maxpooling2")(x)
    x = _conv_prelu(L, x, 64, 2, 3)
    x = L.Permute((2, 1, 3), name="permute")(x)  # Caffe's (C)HW flattening order, as the weights expect
    x = L.Flatten(name="flatten3")(x)
    x = L.Dense(128, name="fc4")(x)
    x = L.PReLU(name="prelu4")(x)
    regression = L.Dense(4, name="fc5-1")(x)
    probability = L.Dense(2, activation="softmax", name="fc5-2")(x)
    return keras.Model(inputs, [regression, probability], name="rnet")


def build_onet() -> Any:
    """O-Net: 48 x 48 crops -> box offsets, five landmarks (x1..x5, y1..y5 in the crop) and face probability."""
    keras = import_keras()
    L = keras.layers
    inputs = keras.Input((48, 48, 3), name="crops")
    x = _conv_prelu(L, inputs, 32, 3, 1)
    x = L.MaxPooling2D(3, 2, padding="same", name="maxpooling1")(x)
    x = _conv_prelu(L, x, 64, 3, 2)
    x = L.MaxPooling2D(3, 2, padding="valid", name="maxpooling2")(x)
    x = _conv_prelu(L, x, 64, 3, 3)
    x = L.MaxPooling2D(2, 2, padding="same", name="maxpooling3")(x)
    x = _conv_prelu(L, x, 128, 2, 4)
    x = L.Permute((2, 1, 3), name="permute")(x)
    x = L.Flatten(name="flatten4")(x)
    x = L.Dense(256, name="fc5")(x)
    x = L.PReLU(name="prelu5")(x)
    regression = L.Dense(4, name="fc6-1")(x)
    landmarks = L.Dense(10, name="fc6-2")(x)
    probability = L.Dense(2, activation="softmax", name="fc6-3")(x)
    return keras.Model(inputs, [regression, landmarks, probability], name="onet")


BUILDERS = {"pnet": build_pnet, "rnet": build_rnet, "onet": build_onet}


def package_weights_dir() -> Path:
    """Where the installed ``mtcnn`` package keeps its weight files (without importing it: it imports TF)."""
    import importlib.util

    spec = importlib.util.find_spec("mtcnn")
    if spec is None or not spec.submodule_search_locations:
        raise TrainingError("the `mtcnn` package is not installed (pip install mtcnn==1.0.0); its weights are needed")
    return Path(next(iter(spec.submodule_search_locations))) / "assets" / "weights"


def read_package_weights(name: str, weights_dir: Path | None = None) -> list[Any]:
    """The list of numpy arrays stored in ``<name>.lz4`` (joblib + lz4)."""
    import joblib

    path = (weights_dir or package_weights_dir()) / f"{name}.lz4"
    if not path.is_file():
        raise TrainingError(f"{path}: MTCNN weight file is missing")
    try:
        arrays = joblib.load(path)
    except Exception as exc:
        raise TrainingError(f"{path}: cannot read MTCNN weights ({type(exc).__name__}: {exc})") from None
    if not isinstance(arrays, list):
        raise TrainingError(f"{path}: expected a list of arrays, got {type(arrays).__name__}")
    return arrays


def load_package_weights(model: Any, name: str, weights_dir: Path | None = None) -> None:
    """Copy the package's pretrained arrays into ``model`` layer by layer, checking every shape."""
    arrays = read_package_weights(name, weights_dir)
    position = 0
    for layer_name in WEIGHT_LAYERS[name]:
        layer = model.get_layer(layer_name)
        count = len(layer.weights)
        chunk = arrays[position:position + count]
        expected = [tuple(w.shape) for w in layer.weights]
        got = [tuple(a.shape) for a in chunk]
        if got != expected:
            raise TrainingError(f"{name}.lz4: layer {layer_name!r} expects shapes {expected}, the file has {got}")
        layer.set_weights(chunk)
        position += count
    if position != len(arrays):
        raise TrainingError(f"{name}.lz4: holds {len(arrays)} arrays, the network uses {position}")
