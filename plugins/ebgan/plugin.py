"""The ``ebgan`` plugin: energy-based GAN (Zhao, Mathieu and LeCun, 2017).

The discriminator is an autoencoder whose reconstruction error is the energy: low on real images,
pushed above a margin on generated ones. The generator minimises the energy of its images plus the
pulling-away term, which penalises codes of one batch pointing the same way (against mode collapse).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from toolkit.gan.config import GANConfig
from toolkit.gan.spec import GANSpec
from toolkit.hookspecs import hookimpl


@dataclass
class EBGANConfig(GANConfig):
    margin: float = field(default=0.3, metadata={"help": "energy margin for generated images (per-pixel MSE)",
                                                 "min": 0.0})
    pt_weight: float = field(default=0.1, metadata={"help": "weight of the pulling-away term", "min": 0.0})
    code_dim: int = field(default=64, metadata={"help": "autoencoder code size", "min": 2, "max": 1024})


class EBGAN(GANSpec):
    name = "ebgan"
    description = "Energy-based GAN: autoencoder discriminator, margin loss, pulling-away term."
    config_class = EBGANConfig
    default_data = "mnist-5k"

    def make_trainer(self, config: EBGANConfig, data_info: dict[str, Any]) -> Any:
        from toolkit.gan import networks
        from toolkit.gan.trainers import EBGANTrainer

        shape = self.image_shape(data_info)
        return EBGANTrainer(networks.conv_generator(config.latent_dim, shape, config.filters),
                            networks.autoencoder_discriminator(shape, config.filters, config.code_dim),
                            config.latent_dim, seed=config.seed, ema=config.ema, margin=config.margin,
                            pt_weight=config.pt_weight)


@hookimpl
def register_models(register: Any) -> None:
    register(EBGAN())
