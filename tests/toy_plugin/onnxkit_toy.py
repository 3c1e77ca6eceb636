"""A tiny third-party-style plugin used by the tests: a dense model on synthetic points.

It exercises every hook and the whole flow (train -> export -> load -> run) in seconds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from toolkit.config import TrainingConfig
from toolkit.errors import DatasetError
from toolkit.hookspecs import hookimpl
from toolkit.spec import (
    DataRequest,
    Dataset,
    DatasetSpec,
    ExportSpec,
    FitData,
    ModelSpec,
)
from toolkit.tensors import TensorInfo

FEATURES = 4


def load_blobs(source: str | None, request: DataRequest) -> Dataset:
    """Two Gaussian blobs; ``toy-blobs:N`` asks for N points (0 gives the empty-dataset error)."""
    n = int(source) if source else 256
    if n <= 0:
        raise DatasetError("toy-blobs: dataset is empty (asked for 0 points)")
    rng = np.random.default_rng(request.seed)
    y = rng.integers(0, 2, size=n)
    x = rng.normal(size=(n, FEATURES)).astype("float32") + (y[:, None] * 2.0 - 1.0)
    x = np.clip(x, -4, 4).astype("float32")
    split = max(1, n // 5)
    return Dataset(name="toy-blobs", kind="vectors", source="synthetic blobs", x_train=x[split:],
                   y_train=y[split:], x_test=x[:split], y_test=y[:split], label_names=["a", "b"])


@dataclass
class ToyConfig(TrainingConfig):
    hidden: int = field(default=8, metadata={"help": "hidden units", "min": 1, "max": 512})
    activation: str = field(default="relu", metadata={"choices": ("relu", "tanh")})
    learning_rate: float = field(default=0.01, metadata={"min": 0.0})
    epochs: int = 2
    explode_at_epoch: int = field(default=0, metadata={"help": "1-based epoch whose learning rate blows up (NaN test)"})
    optimizer: str = field(default="adam", metadata={"choices": ("adam", "sgd")})
    custom_step: bool = field(default=False, metadata={"help": "train with a keras-io style train_step (loss: half a Loss object, half tf.reduce_mean)"})


def _custom_step_model(keras: Any) -> type:
    """A model with its own ``train_step`` in the keras-io style (a ``tf.GradientTape``). Its loss
    is half through a ``keras.losses.Loss`` object (which Keras scales by 1/workers under a
    distribution strategy) and half through ``tf.reduce_mean`` (which it does not, like the GAN
    trainers), so a distributed step is right only if both kinds come out right."""
    import tensorflow as tf

    class CustomStep(keras.Model):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.loss_fn = keras.losses.SparseCategoricalCrossentropy()
            self.loss_tracker = keras.metrics.Mean(name="loss")

        def train_step(self, data: Any) -> dict[str, Any]:
            x, y = data
            with tf.GradientTape() as tape:
                probabilities = self(x, training=True)
                plain = tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(y, probabilities))
                loss = 0.5 * self.loss_fn(y, probabilities) + 0.5 * plain
            grads = tape.gradient(loss, self.trainable_weights)
            self.optimizer.apply_gradients(zip(grads, self.trainable_weights))
            self.loss_tracker.update_state(loss)
            return {"loss": self.loss_tracker.result()}

    return CustomStep


class ToyDense(ModelSpec):
    name = "toy-dense"
    task = "generic"
    description = "A two-layer dense classifier on synthetic points (for tests)."
    config_class = ToyConfig
    data_kind = "vectors"
    default_data = "toy-blobs"

    def build(self, config: ToyConfig, data_info: dict[str, Any]) -> Any:
        import keras

        inputs = keras.Input((FEATURES,), name="x")
        hidden = keras.layers.Dense(config.hidden, activation=config.activation)(inputs)
        outputs = keras.layers.Dense(len(data_info["labels"]), activation="softmax")(hidden)
        optimizer = (keras.optimizers.SGD(config.learning_rate) if config.optimizer == "sgd"
                     else keras.optimizers.Adam(config.learning_rate))
        if config.custom_step:
            model = _custom_step_model(keras)(inputs, outputs)
            model.compile(optimizer=optimizer)
            return model
        model = keras.Model(inputs, outputs)
        model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        return model

    def fit_data(self, config: ToyConfig, data: Dataset | None, data_info: dict[str, Any]) -> FitData:
        assert data is not None
        return FitData(x=data.x_train, y=data.y_train, batch_size=config.batch_size)

    def callbacks(self, model: Any, config: ToyConfig, data_info: dict[str, Any], run_dir: Any) -> list[Any]:
        if not config.explode_at_epoch:
            return []
        import keras

        class Explode(keras.callbacks.Callback):
            """Set an absurd learning rate so the loss diverges to NaN, as a bad config would."""

            def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
                if epoch + 1 == config.explode_at_epoch:
                    self.model.optimizer.learning_rate.assign(1e38)

        return [Explode()]

    def evaluate(self, model: Any, config: ToyConfig, data: Dataset | None, data_info: dict[str, Any]) -> dict[str, Any]:
        assert data is not None
        if config.custom_step:  # no compiled loss or metrics: count the hits
            hits = np.argmax(np.asarray(model(data.x_test)), axis=1) == data.y_test
            return {"test_accuracy": float(hits.mean())}
        loss, accuracy = model.evaluate(data.x_test, data.y_test, verbose=0)
        return {"test_loss": float(loss), "test_accuracy": float(accuracy)}

    def exports(self, model: Any, config: ToyConfig, data_info: dict[str, Any]) -> list[ExportSpec]:
        return [ExportSpec(
            name="model",
            function=lambda x: model(x, training=False),
            inputs=[TensorInfo("x", (None, FEATURES), value_range=(-4.0, 4.0), meaning="a point")],
            outputs=[TensorInfo("probabilities", (None, len(data_info["labels"])), value_range=(0.0, 1.0))],
            description="point -> class probabilities",
        )]

    def export_info(self, model: Any, config: ToyConfig, data_info: dict[str, Any]) -> dict[str, Any]:
        return {"labels": data_info["labels"]}


@hookimpl
def register_models(register: Any) -> None:
    register(ToyDense())


@hookimpl
def register_datasets(register: Any) -> None:
    register(DatasetSpec(name="toy-blobs", kind="vectors", description="synthetic 2-class points (tests)",
                         load=load_blobs))
