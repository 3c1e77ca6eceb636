"""The ``dcgan`` plugin: DCGAN (Radford et al., 2016) for grey digits or colour image folders.

Transposed-convolution generator from a 100-d z, strided-convolution discriminator, batch norm,
LeakyReLU, Adam(2e-4, beta_1=0.5). Resolution (28, 32, 64…) and channels (1 or 3) come from the
config, so one plugin covers ``digits`` and colour sets such as ``shapes`` or a CelebA folder.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from toolkit.gan.config import GANConfig
from toolkit.gan.spec import GANSpec
from toolkit.hookspecs import hookimpl


@dataclass
class DCGANConfig(GANConfig):
    label_smoothing: float = field(default=0.1, metadata={
        "help": "one-sided label smoothing of the real targets (Salimans et al.)", "min": 0.0, "max": 0.5})
    dropout: float = field(default=0.0, metadata={"help": "dropout before the discriminator's head",
                                                  "min": 0.0, "max": 0.9})


class DCGAN(GANSpec):
    name = "dcgan"
    description = "DCGAN: transposed-convolution generator, strided-convolution discriminator (grey or colour)."
    config_class = DCGANConfig
    default_data = "mnist-5k"

    def make_trainer(self, config: DCGANConfig, data_info: dict[str, Any]) -> Any:
        from toolkit.gan import networks
        from toolkit.gan.trainers import GANTrainer

        shape = self.image_shape(data_info)
        return GANTrainer(
            networks.conv_generator(config.latent_dim, shape, config.filters),
            networks.conv_discriminator(shape, config.filters, dropout=config.dropout),
            config.latent_dim, seed=config.seed, ema=config.ema, label_smoothing=config.label_smoothing,
        )


@hookimpl
def register_models(register: Any) -> None:
    register(DCGAN())
