"""``vae``: a convolutional variational autoencoder (Kingma & Welling), keras-io style.

The encoder maps an image to the mean and log-variance of a Gaussian over the latent space; a
sample ``z = mu + exp(logvar / 2) * eps`` (reparameterisation) is decoded; the loss is the
reconstruction error (binary cross-entropy summed over pixels) plus the KL divergence to N(0, I).
The decoder upsamples with ``Conv2DTranspose`` (ONNX ConvTranspose): ``UpSampling2D`` exports as
slow Tile/Gather chains.
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
class VAEConfig(TrainingConfig):
    latent_dim: int = field(default=8, metadata={"help": "latent size", "min": 1, "max": 256})
    filters: tuple[int, ...] = field(default=(32, 64), metadata={"help": "conv filters (two stride-2 blocks)",
                                                                 "min": 1})
    dense: int = field(default=128, metadata={"help": "dense layer before mu/logvar", "min": 1})
    beta: float = field(default=1.0, metadata={"help": "weight of the KL term", "min": 0.0})
    epochs: int = field(default=60, metadata={"min": 1})

    def __post_init__(self) -> None:
        if len(self.filters) != 2:
            raise ValueError("filters: give exactly two values (28 -> 14 -> 7)")


def build_vae(config: VAEConfig) -> Any:
    """Build the encoder, the decoder and the training model (a ``keras.Model`` with ``train_step``)."""
    from toolkit.tf_setup import import_keras

    keras = import_keras()
    import tensorflow as tf

    layers, ops = keras.layers, keras.ops
    f1, f2 = config.filters
    image = keras.Input((28, 28, 1), name="image")
    x = layers.Conv2D(f1, 3, strides=2, padding="same", activation="relu", name="conv1")(image)
    x = layers.Conv2D(f2, 3, strides=2, padding="same", activation="relu", name="conv2")(x)
    x = layers.Flatten()(x)
    x = layers.Dense(config.dense, activation="relu", name="dense")(x)
    mu = layers.Dense(config.latent_dim, name="mu")(x)
    logvar = layers.Dense(config.latent_dim, name="logvar")(x)
    encoder = keras.Model(image, [mu, logvar], name="encoder")

    z = keras.Input((config.latent_dim,), name="z")
    y = layers.Dense(7 * 7 * f2, activation="relu", name="project")(z)
    y = layers.Reshape((7, 7, f2))(y)
    y = layers.Conv2DTranspose(f2, 3, strides=2, padding="same", activation="relu", name="up1")(y)
    y = layers.Conv2DTranspose(f1, 3, strides=2, padding="same", activation="relu", name="up2")(y)
    y = layers.Conv2D(1, 3, padding="same", activation="sigmoid", name="pixels")(y)
    decoder = keras.Model(z, y, name="decoder")

    class VAE(keras.Model):
        """Encoder + decoder with the ELBO computed in ``train_step`` (keras-io's VAE example)."""

        def __init__(self, encoder: Any, decoder: Any, beta: float, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.encoder, self.decoder, self.beta = encoder, decoder, beta
            self.seed_generator = keras.random.SeedGenerator(config.seed)
            self.trackers = {name: keras.metrics.Mean(name=name) for name in ("loss", "reconstruction", "kl")}

        def get_config(self) -> dict[str, Any]:
            # Checkpoints are reloaded by rebuilding from the run's config and loading weights,
            # so the config stored inside checkpoint.keras only needs to be JSON.
            return {"name": self.name, "beta": self.beta}

        @property
        def metrics(self) -> list[Any]:
            return list(self.trackers.values())

        def call(self, inputs: Any, training: bool = False) -> Any:
            mean, _ = self.encoder(inputs, training=training)
            return self.decoder(mean, training=training)

        def losses_for(self, data: Any, training: bool) -> tuple[Any, Any]:
            mean, log_var = self.encoder(data, training=training)
            eps = keras.random.normal(ops.shape(mean), seed=self.seed_generator)
            recon = self.decoder(mean + ops.exp(0.5 * log_var) * eps, training=training)
            bce = keras.losses.binary_crossentropy(data, recon, axis=-1)  # per pixel
            reconstruction = ops.mean(ops.sum(bce, axis=(1, 2)))
            kl = ops.mean(-0.5 * ops.sum(1 + log_var - ops.square(mean) - ops.exp(log_var), axis=1))
            return reconstruction, kl

        def _record(self, reconstruction: Any, kl: Any) -> dict[str, Any]:
            self.trackers["loss"].update_state(reconstruction + self.beta * kl)
            self.trackers["reconstruction"].update_state(reconstruction)
            self.trackers["kl"].update_state(kl)
            return {name: tracker.result() for name, tracker in self.trackers.items()}

        def train_step(self, data: Any) -> dict[str, Any]:
            if isinstance(data, tuple):
                data = data[0]
            with tf.GradientTape() as tape:
                reconstruction, kl = self.losses_for(data, training=True)
                total = reconstruction + self.beta * kl
            grads = tape.gradient(total, self.trainable_weights)
            self.optimizer.apply_gradients(zip(grads, self.trainable_weights))
            return self._record(reconstruction, kl)

        def test_step(self, data: Any) -> dict[str, Any]:
            if isinstance(data, tuple):
                data = data[0]
            return self._record(*self.losses_for(data, training=False))

    model = VAE(encoder, decoder, config.beta, name="vae")
    model.compile(optimizer=keras.optimizers.Adam(config.learning_rate))
    model(keras.ops.zeros((1, 28, 28, 1)))  # build, so a checkpoint can load into it
    return model


class ConvVAE(ModelSpec):
    name = "vae"
    task = "vae"
    description = "Convolutional VAE (encoder -> mu, logvar; Conv2DTranspose decoder z -> image)."
    config_class = VAEConfig
    data_kind = "images"
    default_data = "mnist-5k"
    image_size, channels = 28, 1


    def build(self, config: VAEConfig, data_info: dict[str, Any]) -> Any:
        return build_vae(config)

    def fit_data(self, config: VAEConfig, data: Dataset | None, data_info: dict[str, Any]) -> FitData:
        assert data is not None
        return FitData(x=data.x_train, batch_size=config.batch_size)

    def evaluate(self, model: Any, config: VAEConfig, data: Dataset | None, data_info: dict[str, Any]) -> dict[str, Any]:
        assert data is not None
        mu, logvar = (np.asarray(a) for a in model.encoder.predict(data.x_test, batch_size=256, verbose=0))
        recon = np.asarray(model.decoder.predict(mu, batch_size=256, verbose=0))
        kl = -0.5 * np.sum(1 + logvar - mu ** 2 - np.exp(logvar), axis=1)
        train_mu = np.asarray(model.encoder.predict(data.x_train, batch_size=256, verbose=0)[0])
        return {
            # Spread of the means over the training images per dimension: collapsed dimensions
            # (ignored by the decoder) have ~0; the runtime's latent grid prefers active ones.
            "latent_std": train_mu.std(axis=0).round(5).tolist(),
            "test_mse": float(np.mean((recon - data.x_test) ** 2)),
            "test_kl": float(kl.mean()),
            "test_size": int(len(data.x_test)),
            "compression_factor": 784 / config.latent_dim,
        }

    def exports(self, model: Any, config: VAEConfig, data_info: dict[str, Any]) -> list[ExportSpec]:
        encoder, decoder = model.encoder, model.decoder
        latent = config.latent_dim
        return [
            ExportSpec(
                "encoder", lambda x: tuple(encoder(x, training=False)),
                [TensorInfo("image", (None, 28, 28, 1), value_range=(0.0, 1.0), meaning=PREPROCESSING)],
                [TensorInfo("mu", (None, latent), meaning="mean of q(z|x)"),
                 TensorInfo("logvar", (None, latent), meaning="log-variance of q(z|x)")],
                "image -> mean and log-variance of the latent Gaussian",
            ),
            ExportSpec(
                "decoder", lambda z: decoder(z, training=False),
                [TensorInfo("z", (None, latent), meaning="latent vector; the prior is N(0, I)")],
                [TensorInfo("image", (None, 28, 28, 1), value_range=(0.0, 1.0), meaning="decoded image")],
                "latent vector -> image",
            ),
        ]

    def export_info(self, model: Any, config: VAEConfig, data_info: dict[str, Any]) -> dict[str, Any]:
        return {
            "latent_dim": config.latent_dim,
            "image_shape": [28, 28, 1],
            "prior": "standard normal N(0, I)",
            "compression_factor": 784 / config.latent_dim,
            "preprocessing": PREPROCESSING,
            "value_range": [0.0, 1.0],
            "background": "black",
            "labels": list(data_info.get("labels", [])),
        }


@hookimpl
def register_models(register: Any) -> None:
    register(ConvVAE())
