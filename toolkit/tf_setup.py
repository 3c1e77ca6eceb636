"""One place that imports TensorFlow for the training side, quietly and deterministically.

TensorFlow's native libraries log to the process's stderr before absl's logging is initialised
("Could not find cuda drivers…", oneDNN and CPU-feature notices), and no environment variable
(``TF_CPP_MIN_LOG_LEVEL`` included, measured on TensorFlow 2.21) turns those lines off. So the
first import runs with file descriptor 2 pointed at /dev/null; ``onnxkit train --verbose`` (or
``ONNXKIT_TF_LOGS=1``) keeps them.
"""

from __future__ import annotations

import contextlib
import os
import random
import sys
from collections.abc import Iterator
from typing import Any

#: Set to 1 to see TensorFlow's native start-up log lines (``--verbose`` sets it).
VERBOSE_ENV = "ONNXKIT_TF_LOGS"


def show_tf_logs(verbose: bool = True) -> None:
    """Let (or stop) TensorFlow's native start-up lines reach stderr; call before the first import."""
    os.environ[VERBOSE_ENV] = "1" if verbose else "0"


@contextlib.contextmanager
def native_stderr_silenced() -> Iterator[None]:
    """Point file descriptor 2 at /dev/null for the block (what C++ libraries write to), then restore it."""
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def import_keras() -> Any:
    """Import Keras on TensorFlow with TensorFlow's start-up noise turned down."""
    verbose = os.environ.get(VERBOSE_ENV) == "1"
    if not verbose:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")  # bit-stable results across runs
    first = "tensorflow" not in sys.modules
    with contextlib.nullcontext() if verbose or not first else native_stderr_silenced():
        import keras
        import tensorflow as tf

        tf.config.list_physical_devices()  # the device probe logs its CUDA notice now, not mid-run
    if not verbose:
        tf.get_logger().setLevel("ERROR")
        try:
            import absl.logging

            absl.logging.set_verbosity(absl.logging.ERROR)
        except ImportError:  # pragma: no cover
            pass
    return keras


def seed_everything(seed: int) -> None:
    """Seed Python, numpy, TensorFlow and Keras so a run is repeatable on the same machine."""
    keras = import_keras()
    random.seed(seed)
    keras.utils.set_random_seed(seed)
