"""MobileFaceNet-like embedder and its ArcFace (additive angular margin) trainer. Imports Keras.

MobileFaceNet (Chen et al., 2018): inverted-residual depthwise blocks, PReLU, and a global
depthwise convolution (GDC) instead of global average pooling, so the embedding keeps where on the
face each feature was. Here at a configurable, much smaller width so it trains on a CPU in minutes.

ArcFace (Deng et al., 2019): logits ``s * cos(theta_y + m)`` for the true class and ``s * cos(theta_j)``
for the others, over normalised embeddings and class centres.
"""

from __future__ import annotations

import math
from typing import Any

from toolkit.tf_setup import import_keras


def build_embedder(size: int = 112, width: int = 16, embedding_dim: int = 128) -> Any:
    """[N, size, size, 3] RGB in [0, 1] -> [N, embedding_dim] (not normalised; export adds the L2 norm)."""
    keras = import_keras()
    L = keras.layers

    def conv_bn(x: Any, filters: int, kernel: int, stride: int, name: str, act: bool = True) -> Any:
        x = L.Conv2D(filters, kernel, stride, padding="same", use_bias=False, name=f"{name}_conv")(x)
        x = L.BatchNormalization(momentum=0.9, name=f"{name}_bn")(x)
        return L.PReLU(shared_axes=[1, 2], name=f"{name}_prelu")(x) if act else x

    def depthwise_bn(x: Any, stride: int, name: str, kernel: int = 3, padding: str = "same", act: bool = True) -> Any:
        x = L.DepthwiseConv2D(kernel, stride, padding=padding, use_bias=False, name=f"{name}_dw")(x)
        x = L.BatchNormalization(momentum=0.9, name=f"{name}_bn")(x)
        return L.PReLU(shared_axes=[1, 2], name=f"{name}_prelu")(x) if act else x

    def bottleneck(x: Any, filters: int, stride: int, expand: int, name: str) -> Any:
        inputs = x
        x = conv_bn(x, x.shape[-1] * expand, 1, 1, f"{name}_expand")
        x = depthwise_bn(x, stride, f"{name}_depthwise")
        x = conv_bn(x, filters, 1, 1, f"{name}_project", act=False)
        if stride == 1 and inputs.shape[-1] == filters:
            x = L.Add(name=f"{name}_add")([inputs, x])
        return x

    # BatchNorm momentum 0.9 (not Keras' 0.99): with a few hundred steps per run the moving
    # statistics must converge, or inference-mode embeddings differ from training-mode ones.
    w = width
    inputs = keras.Input((size, size, 3), name="faces")
    x = L.Rescaling(2.0, offset=-1.0, name="to_pm1")(inputs)
    # 112 -> 56 by averaging first: 4x less compute for the whole network, so it trains on a CPU
    # (MobileFaceNet proper starts with a stride-2 conv at full resolution).
    x = L.AveragePooling2D(2, name="half")(x)
    x = conv_bn(x, w * 2, 3, 2, "stem")                       # 28
    x = depthwise_bn(x, 1, "stem_dw")
    x = bottleneck(x, w * 2, 1, 2, "block1a")
    x = bottleneck(x, w * 4, 2, 4, "block2a")                 # 14
    x = bottleneck(x, w * 4, 1, 2, "block2b")
    x = bottleneck(x, w * 4, 2, 2, "block3a")                 # 7
    x = bottleneck(x, w * 4, 1, 2, "block3b")
    x = conv_bn(x, w * 16, 1, 1, "head")
    spatial = int(x.shape[1])
    x = depthwise_bn(x, 1, "gdc", kernel=spatial, padding="valid", act=False)  # global depthwise conv
    x = L.Conv2D(embedding_dim, 1, use_bias=False, name="embedding_conv")(x)
    x = L.Flatten(name="flatten")(x)
    x = L.BatchNormalization(momentum=0.9, name="embedding_bn")(x)
    return keras.Model(inputs, x, name="face_embedder")


def trainer_class() -> type:
    keras = import_keras()
    import tensorflow as tf

    class ArcFaceTrainer(keras.Model):
        """Embedder + ArcFace head; ``train_step`` applies the additive angular margin loss."""

        def __init__(self, embedder: Any, classes: int, scale: float = 30.0, margin: float = 0.3,
                     flip: bool = True, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.embedder = embedder
            self.classes = classes
            self.scale = scale
            self.margin = margin
            self.flip = flip
            dim = int(embedder.output.shape[-1])
            self.centres = self.add_weight(shape=(dim, classes), initializer="glorot_uniform", name="arcface_centres")
            self.loss_tracker = keras.metrics.Mean(name="loss")
            self.accuracy_tracker = keras.metrics.SparseCategoricalAccuracy(name="accuracy")

        def get_config(self) -> dict[str, Any]:  # checkpoints are read back with load_weights only
            return {"name": self.name}

        @property
        def metrics(self) -> list[Any]:
            return [self.loss_tracker, self.accuracy_tracker]

        def call(self, inputs: Any, training: bool = False) -> Any:
            return self.embedder(inputs, training=training)

        def arcface_logits(self, embeddings: Any, labels: Any) -> Any:
            e = tf.math.l2_normalize(embeddings, axis=1)
            c = tf.math.l2_normalize(self.centres, axis=0)
            cosine = tf.clip_by_value(tf.matmul(e, c), -1.0 + 1e-7, 1.0 - 1e-7)
            sine = tf.sqrt(1.0 - cosine * cosine)
            cos_m, sin_m = math.cos(self.margin), math.sin(self.margin)
            with_margin = cosine * cos_m - sine * sin_m
            # Beyond theta > pi - m, cos(theta + m) is no longer decreasing: use the CosFace-style fallback.
            with_margin = tf.where(cosine > math.cos(math.pi - self.margin), with_margin,
                                   cosine - math.sin(math.pi - self.margin) * self.margin)
            onehot = tf.one_hot(tf.cast(tf.reshape(labels, [-1]), tf.int32), self.classes)
            return self.scale * (onehot * with_margin + (1.0 - onehot) * cosine), cosine

        def _step(self, data: Any, training: bool) -> dict[str, Any]:
            x, y = data
            if training and self.flip:
                x = tf.where(tf.random.uniform([tf.shape(x)[0], 1, 1, 1]) < 0.5, tf.reverse(x, axis=[2]), x)
            with tf.GradientTape() as tape:
                embeddings = self.embedder(x, training=training)
                logits, cosine = self.arcface_logits(embeddings, y)
                loss = tf.reduce_mean(tf.keras.losses.sparse_categorical_crossentropy(y, logits, from_logits=True))
            if training:
                variables = self.trainable_variables
                self.optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
            self.loss_tracker.update_state(loss)
            self.accuracy_tracker.update_state(y, cosine)
            return {m.name: m.result() for m in self.metrics}

        def train_step(self, data: Any) -> dict[str, Any]:
            return self._step(data, training=True)

        def test_step(self, data: Any) -> dict[str, Any]:
            return self._step(data, training=False)

    return ArcFaceTrainer
