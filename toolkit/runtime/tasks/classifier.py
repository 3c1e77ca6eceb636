"""``Classifier``: top-k classes with probabilities, and penultimate features, from a classifier export."""

from __future__ import annotations

from typing import Any

import numpy as np

from toolkit.errors import InputError
from toolkit.runtime.base import Pipeline
from toolkit.runtime.prepare import as_batch, prepare_digit

class Classifier(Pipeline):
    batchable = ("classifier",)

    @property
    def label_names(self) -> list[str]:
        return list(self.info["labels"])

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return tuple(self.info["image_shape"])  # type: ignore[return-value]

    @property
    def feature_dim(self) -> int:
        return int(self.info["feature_dim"])

    def prepare(self, image: Any, invert: bool | str = "auto") -> np.ndarray:
        """Any picture of one digit -> ``[1, H, W, 1]`` model input (see :mod:`toolkit.runtime.prepare`)."""
        return prepare_digit(image, self.image_shape[0], invert=invert)[None]

    def outputs(self, images: Any) -> dict[str, np.ndarray]:
        """Both outputs (``probabilities``, ``features``) for a batch, run in bounded chunks."""
        return self.session("classifier").run_chunked({"image": as_batch(images, self.image_shape)})

    def probabilities(self, images: Any) -> np.ndarray:
        """float32 ``[N, classes]`` in the order of :attr:`label_names`."""
        return self.outputs(images)["probabilities"]

    def predict(self, images: Any, k: int = 3) -> tuple[np.ndarray, np.ndarray]:
        """``(class_ids int64[N, k], probabilities float32[N, k])``, most likely first."""
        n_classes = len(self.label_names)
        if not isinstance(k, (int, np.integer)) or not 1 <= k <= n_classes:
            raise InputError(f"k must be an integer from 1 to {n_classes}, got {k!r}")
        probabilities = self.probabilities(images)
        ids = np.argsort(-probabilities, axis=1, kind="stable")[:, :k].astype(np.int64)
        return ids, np.take_along_axis(probabilities, ids, axis=1).astype(np.float32)

    def features(self, images: Any) -> np.ndarray:
        """float32 ``[N, F]``: the penultimate layer, the quality metric's feature space."""
        return self.outputs(images)["features"]

    def top_k(self, image: Any, k: int = 3, invert: bool | str = "auto") -> list[tuple[str, float]]:
        """One picture (any size, prepared MNIST-style) -> ``[(label, probability), …]`` highest first."""
        ids, probabilities = self.predict(self.prepare(image, invert=invert), k)
        return [(self.label_names[i], float(p)) for i, p in zip(ids[0], probabilities[0])]
