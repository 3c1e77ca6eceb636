"""The ``gan`` plugin: the course's first MNIST GAN (dense generator and discriminator).

Alternating updates: one discriminator step on real and generated images, then one generator step
with the non-saturating loss. Exported like every GAN: ``z -> images in [0, 1]``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from toolkit.gan.config import GANConfig
from toolkit.gan.spec import GANSpec
from toolkit.hookspecs import hookimpl


@dataclass
class DenseGANConfig(GANConfig):
    units: int = field(default=256, metadata={"help": "width of the dense layers", "min": 8, "max": 4096})
    label_smoothing: float = field(default=0.1, metadata={"min": 0.0, "max": 0.5})


class DenseGAN(GANSpec):
    name = "gan"
    description = "The first MNIST GAN: dense generator and discriminator, alternating updates."
    config_class = DenseGANConfig
    default_data = "mnist-5k"

    def make_trainer(self, config: DenseGANConfig, data_info: dict[str, Any]) -> Any:
        from toolkit.gan import networks
        from toolkit.gan.trainers import GANTrainer

        shape = self.image_shape(data_info)
        return GANTrainer(networks.dense_generator(config.latent_dim, shape, config.units),
                          networks.dense_discriminator(shape, config.units),
                          config.latent_dim, seed=config.seed, ema=config.ema, label_smoothing=config.label_smoothing)


@hookimpl
def register_models(register: Any) -> None:
    register(DenseGAN())
