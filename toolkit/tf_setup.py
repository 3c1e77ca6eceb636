"""One place that imports TensorFlow for the training side, quietly and deterministically."""

from __future__ import annotations

import os
import random
from typing import Any


def import_keras() -> Any:
    """Import Keras on TensorFlow with TensorFlow's start-up noise turned down."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")  # bit-stable results across runs
    import keras
    import tensorflow as tf

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
