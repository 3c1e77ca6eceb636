"""A ``keras.Model`` for plugins whose weights are imported, not learned (MTCNN, dlib's ResNet).

Imported lazily, like :mod:`toolkit.callbacks`: importing it imports Keras.
"""

from __future__ import annotations

from typing import Any

from toolkit.tf_setup import import_keras

keras = import_keras()


class ImportedWeights(keras.Model):
    """Holds named networks (``ImportedWeights(name=..., pnet=..., rnet=...)`` -> ``model.pnet``)
    whose training step changes nothing, so the standard training driver runs one step and writes
    a checkpoint of the imported weights, and export, resume and ``onnxkit info`` work as for any
    trained model."""

    def __init__(self, name: str, **nets: Any) -> None:
        super().__init__(name=name)
        for attribute, net in nets.items():
            setattr(self, attribute, net)

    def get_config(self) -> dict[str, Any]:  # the checkpoint is only read back with load_weights
        return {"name": self.name}

    def call(self, inputs: Any) -> Any:  # only here so Keras considers the model usable
        return inputs

    def train_step(self, data: Any) -> dict[str, Any]:
        return {"weights_loaded": 1.0}
