"""``classifier``: a CNN digit classifier that reports the top-k classes with probabilities.

Besides the class probabilities it exports its penultimate layer as ``features``: the quality
metric (``toolkit.metrics.frechet``) measures generated digits in that feature space, the way
TF-GAN's Fréchet Inception Distance uses Inception's pool layer — a feature space trained on the
very data we generate is far more sensitive for 28x28 digits than Inception's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from toolkit.config import TrainingConfig
from toolkit.hookspecs import hookimpl
from toolkit.spec import Dataset, ExportSpec, FitData, ModelSpec
from toolkit.tensors import TensorInfo

PREPROCESSING = ("grey image, 28x28, float32 in [0, 1], white digit on black centred in a 20x20 box "
                 "(MNIST layout); dark-on-light drawings must be inverted")


@dataclass
class ClassifierConfig(TrainingConfig):
    image_size: int = field(default=28, metadata={"help": "input side in pixels", "min": 16, "max": 64})
    filters: tuple[int, ...] = field(default=(32, 64), metadata={"help": "conv filters per block", "min": 1})
    features: int = field(default=128, metadata={"help": "size of the penultimate (features) layer", "min": 2})
    dropout: float = field(default=0.3, metadata={"min": 0.0, "max": 0.9})
    augment: float = field(default=0.08, metadata={"help": "random shift (fraction of the side) and "
                                                     "rotation (fraction of a turn / 2) in training", "min": 0.0,
                                                     "max": 0.3})
    learning_rate: float = field(default=2e-3, metadata={"min": 0.0})
    epochs: int = field(default=30, metadata={"min": 1})


class DigitClassifier(ModelSpec):
    name = "classifier"
    task = "classifier"
    description = "A CNN image classifier (top-k classes with probabilities, plus a features output)."
    config_class = ClassifierConfig
    data_kind = "images"
    default_data = "mnist-5k"
    channels = 1

    def describe_data(self, config: ClassifierConfig, data: Dataset | None) -> dict[str, Any]:
        assert data is not None
        if not data.label_names or data.multi_label:
            from toolkit.errors import DatasetError

            raise DatasetError(f"classifier needs a single-label dataset with class names; {data.name!r} is not")
        return data.describe()

    def build(self, config: ClassifierConfig, data_info: dict[str, Any]) -> Any:
        from toolkit.tf_setup import import_keras

        keras = import_keras()
        layers = keras.layers
        n_classes = len(data_info["labels"])
        inputs = keras.Input((config.image_size, config.image_size, 1), name="image")
        x = inputs
        if config.augment > 0:  # identity at inference, so it costs the export nothing
            x = layers.RandomTranslation(config.augment, config.augment, fill_mode="constant", name="shift")(x)
            x = layers.RandomRotation(config.augment, fill_mode="constant", name="rotate")(x)
        for i, filters in enumerate(config.filters):
            x = layers.Conv2D(filters, 3, padding="same", activation="relu", name=f"conv{i}a")(x)
            x = layers.Conv2D(filters, 3, padding="same", activation="relu", name=f"conv{i}b")(x)
            x = layers.MaxPooling2D(2, name=f"pool{i}")(x)
        x = layers.Flatten(name="flatten")(x)
        features = layers.Dense(config.features, activation="relu", name="features")(x)
        x = layers.Dropout(config.dropout, name="dropout")(features)
        probabilities = layers.Dense(n_classes, activation="softmax", name="probabilities")(x)
        model = keras.Model(inputs, probabilities, name="classifier")
        model.compile(optimizer=keras.optimizers.Adam(config.learning_rate),
                      loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        return model

    def fit_data(self, config: ClassifierConfig, data: Dataset | None, data_info: dict[str, Any]) -> FitData:
        assert data is not None
        return FitData(x=data.x_train, y=data.y_train, validation=(data.x_test, data.y_test),
                       batch_size=config.batch_size)

    def callbacks(self, model: Any, config: ClassifierConfig, data_info: dict[str, Any], run_dir: Any) -> list[Any]:
        from toolkit.tf_setup import import_keras

        keras = import_keras()
        # Halve the rate when the training loss stalls: small data, so a late fine phase helps.
        return [keras.callbacks.ReduceLROnPlateau(monitor="loss", factor=0.5, patience=3, min_lr=1e-5, verbose=0)]

    def evaluate(self, model: Any, config: ClassifierConfig, data: Dataset | None,
                 data_info: dict[str, Any]) -> dict[str, Any]:
        assert data is not None
        probabilities = np.asarray(model.predict(data.x_test, batch_size=256, verbose=0))
        order = np.argsort(-probabilities, axis=1)
        y = np.asarray(data.y_test)
        top1 = float(np.mean(order[:, 0] == y))
        top3 = float(np.mean((order[:, :3] == y[:, None]).any(axis=1)))
        nll = float(-np.mean(np.log(np.clip(probabilities[np.arange(len(y)), y], 1e-12, 1.0))))
        return {"test_accuracy": top1, "test_top3_accuracy": top3, "test_loss": nll, "test_size": int(len(y))}

    def _feature_model(self, model: Any) -> Any:
        from toolkit.tf_setup import import_keras

        keras = import_keras()
        return keras.Model(model.input, [model.output, model.get_layer("features").output])

    def exports(self, model: Any, config: ClassifierConfig, data_info: dict[str, Any]) -> list[ExportSpec]:
        both = self._feature_model(model)
        size, n_classes = config.image_size, len(data_info["labels"])
        return [ExportSpec(
            name="classifier",
            function=lambda image: tuple(both(image, training=False)),
            inputs=[TensorInfo("image", (None, size, size, 1), value_range=(0.0, 1.0), meaning=PREPROCESSING)],
            outputs=[
                TensorInfo("probabilities", (None, n_classes), value_range=(0.0, 1.0),
                           meaning="class probabilities (softmax), in the order of info.labels"),
                TensorInfo("features", (None, config.features),
                           meaning="penultimate-layer activations (ReLU), the quality metric's feature space"),
            ],
            description="image -> class probabilities and penultimate features",
        )]

    def export_info(self, model: Any, config: ClassifierConfig, data_info: dict[str, Any]) -> dict[str, Any]:
        return {
            "labels": list(data_info["labels"]),
            "image_shape": [config.image_size, config.image_size, 1],
            "feature_dim": config.features,
            "preprocessing": PREPROCESSING,
            "value_range": [0.0, 1.0],
            "background": "black",
        }


@hookimpl
def register_models(register: Any) -> None:
    register(DigitClassifier())
