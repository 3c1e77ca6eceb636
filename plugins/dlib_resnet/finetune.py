"""Transfer learning from dlib's network: dlib's own metric loss on a folder of identities. Imports Keras.

dlib trained the network with ``loss_metric_`` (``dlib/dnn/loss.h``): over every pair of faces in
a batch, a pair of one person is pushed closer than ``threshold - margin`` and a pair of two
people further than ``threshold + margin`` (hinge on the Euclidean distance; dlib's file stores
margin 0.04, threshold 0.6). Keeping that loss keeps the exported descriptor's meaning: the 0.6
threshold and the calibrated match % still apply after fine-tuning.
"""

from __future__ import annotations

from typing import Any

from toolkit.tf_setup import import_keras

keras = import_keras()


def metric_loss(threshold: float, margin: float) -> Any:
    """Keras loss ``(labels [N], descriptors [N, D]) -> scalar``: the mean hinge over same-person
    pairs plus the mean hinge over different-person pairs (each pair once, a face never with itself)."""
    ops = keras.ops

    def loss(labels: Any, descriptors: Any) -> Any:
        labels = ops.reshape(ops.cast(labels, "int32"), (-1,))
        squares = ops.sum(descriptors * descriptors, axis=1)
        squared = squares[:, None] + squares[None, :] - 2.0 * ops.matmul(descriptors, ops.transpose(descriptors))
        distance = ops.sqrt(ops.maximum(squared, 1e-12))
        n = ops.shape(labels)[0]
        upper = ops.cast(ops.triu(ops.ones((n, n)), k=1), "float32")
        same = ops.cast(ops.equal(labels[:, None], labels[None, :]), "float32") * upper
        different = (1.0 - ops.cast(ops.equal(labels[:, None], labels[None, :]), "float32")) * upper
        pull = ops.relu(distance - (threshold - margin)) * same
        push = ops.relu((threshold + margin) - distance) * different
        return (ops.sum(pull) / ops.maximum(ops.sum(same), 1.0)
                + ops.sum(push) / ops.maximum(ops.sum(different), 1.0))

    return loss


def freeze_all_but(net: Any, trainable_layers: int) -> list[str]:
    """Train only the last ``trainable_layers`` layers that hold weights (the 128-d projection is the
    last); returns their names."""
    weighted = [layer for layer in net.layers if layer.weights]
    chosen = {layer.name for layer in weighted[-trainable_layers:]} if trainable_layers > 0 else set()
    for layer in net.layers:
        layer.trainable = layer.name in chosen
    return [layer.name for layer in weighted if layer.name in chosen]
