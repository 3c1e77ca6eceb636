"""``autoencoder``: the dense autoencoder of the course.

flatten -> 128 -> 64 -> 32 (ReLU) is the encoder, 32 -> 64 -> 128 -> 784 (sigmoid) -> reshape the
decoder, trained with MSE. The encoder and decoder are exported separately (so a consumer can
edit codes between them) and the whole model too (one call for reconstruction).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from toolkit.config import TrainingConfig
from toolkit.hookspecs import hookimpl
from toolkit.spec import Dataset, ExportSpec, FitData, ModelSpec
from toolkit.tensors import TensorInfo

PREPROCESSING = ("grey image, float32 in [0, 1], white digit on black centred in a 20/28 box "
                 "(MNIST layout); dark-on-light drawings must be inverted")


@dataclass
class AutoencoderConfig(TrainingConfig):
    image_size: int = field(default=28, metadata={"help": "input side in pixels", "min": 8, "max": 64})
    hidden: tuple[int, ...] = field(default=(128, 64), metadata={"help": "encoder hidden layers (decoder mirrors)",
                                                                 "min": 1})
    latent_dim: int = field(default=32, metadata={"help": "code size", "min": 1})
    learning_rate: float = field(default=2e-3, metadata={"min": 0.0})
    epochs: int = field(default=150, metadata={"min": 1})


class DenseAutoencoder(ModelSpec):
    name = "autoencoder"
    task = "autoencoder"
    description = "Dense autoencoder (784-128-64-32 ReLU encoder, mirrored sigmoid decoder, MSE)."
    config_class = AutoencoderConfig
    data_kind = "images"
    default_data = "mnist-5k"
    channels = 1

    def build(self, config: AutoencoderConfig, data_info: dict[str, Any]) -> Any:
        from toolkit.tf_setup import import_keras

        keras = import_keras()
        layers = keras.layers
        side = config.image_size
        image = keras.Input((side, side, 1), name="image")
        x = layers.Flatten()(image)
        for i, units in enumerate(config.hidden):
            x = layers.Dense(units, activation="relu", name=f"enc{i}")(x)
        code = layers.Dense(config.latent_dim, activation="relu", name="code")(x)
        encoder = keras.Model(image, code, name="encoder")

        code_in = keras.Input((config.latent_dim,), name="code")
        y = code_in
        for i, units in enumerate(reversed(config.hidden)):
            y = layers.Dense(units, activation="relu", name=f"dec{i}")(y)
        y = layers.Dense(side * side, activation="sigmoid", name="pixels")(y)
        decoder = keras.Model(code_in, layers.Reshape((side, side, 1))(y), name="decoder")

        model = keras.Model(image, decoder(encoder(image)), name="autoencoder")
        model.compile(optimizer=keras.optimizers.Adam(config.learning_rate), loss="mse")
        return model

    def fit_data(self, config: AutoencoderConfig, data: Dataset | None, data_info: dict[str, Any]) -> FitData:
        assert data is not None
        return FitData(x=data.x_train, y=data.x_train, validation=(data.x_test, data.x_test),
                       batch_size=config.batch_size)

    def evaluate(self, model: Any, config: AutoencoderConfig, data: Dataset | None,
                 data_info: dict[str, Any]) -> dict[str, Any]:
        assert data is not None
        encoder = model.get_layer("encoder")
        recon = np.asarray(model.predict(data.x_test, batch_size=256, verbose=0))
        codes = np.asarray(encoder.predict(data.x_train, batch_size=256, verbose=0))
        return {
            "test_mse": float(np.mean((recon - data.x_test) ** 2)),
            "test_size": int(len(data.x_test)),
            "compression_factor": (config.image_size ** 2) / config.latent_dim,
            # Where the codes live (ReLU codes are not centred): the runtime's latent grid spans these.
            "latent_mean": codes.mean(axis=0).round(5).tolist(),
            "latent_std": codes.std(axis=0).round(5).tolist(),
        }

    def exports(self, model: Any, config: AutoencoderConfig, data_info: dict[str, Any]) -> list[ExportSpec]:
        encoder, decoder = model.get_layer("encoder"), model.get_layer("decoder")
        side, latent = config.image_size, config.latent_dim
        image = TensorInfo("image", (None, side, side, 1), value_range=(0.0, 1.0), meaning=PREPROCESSING)
        code = TensorInfo("code", (None, latent), meaning="latent code (ReLU, >= 0 for real images)")
        out = TensorInfo("image", (None, side, side, 1), value_range=(0.0, 1.0), meaning="reconstructed image")
        return [
            ExportSpec("encoder", lambda x: encoder(x, training=False), [image],
                       [TensorInfo("code", code.shape, meaning=code.meaning)], "image -> latent code"),
            ExportSpec("decoder", lambda z: decoder(z, training=False), [code],
                       [TensorInfo("reconstruction", out.shape, value_range=(0.0, 1.0), meaning="decoded image")],
                       "latent code -> image"),
            ExportSpec("autoencoder", lambda x: model(x, training=False), [image],
                       [TensorInfo("reconstruction", out.shape, value_range=(0.0, 1.0), meaning=out.meaning)],
                       "image -> reconstructed image (encoder and decoder in one call)"),
        ]

    def export_info(self, model: Any, config: AutoencoderConfig, data_info: dict[str, Any]) -> dict[str, Any]:
        side = config.image_size
        return {
            "latent_dim": config.latent_dim,
            "image_shape": [side, side, 1],
            "compression_factor": side * side / config.latent_dim,
            "preprocessing": PREPROCESSING,
            "value_range": [0.0, 1.0],
            "background": "black",
            "labels": list(data_info.get("labels", [])),
        }


@hookimpl
def register_models(register: Any) -> None:
    register(DenseAutoencoder())
