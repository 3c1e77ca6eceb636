"""onnxkit: train generative, text and face models in Keras, export them to ONNX, serve them fast.

The training side (``toolkit.training``, ``toolkit.export``) needs TensorFlow; the serving side
(``toolkit.runtime``) needs only numpy, onnxruntime and Pillow.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("onnxkit")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0"

__all__ = ["__version__"]
