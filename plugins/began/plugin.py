"""The ``began`` plugin: boundary-equilibrium GAN (Berthelot, Schumm and Metz, 2017).

Autoencoder discriminator with an L1 reconstruction loss; the control variable k_t keeps
``gamma * L(real) = L(fake)`` in balance, and the convergence measure
``M = L(real) + |gamma L(real) - L(fake)|`` is logged every epoch (``convergence`` in history.json).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from toolkit.gan.config import GANConfig
from toolkit.gan.spec import GANSpec
from toolkit.hookspecs import hookimpl


@dataclass
class BEGANConfig(GANConfig):
    gamma: float = field(default=0.5, metadata={"help": "diversity ratio gamma = E[L(fake)] / E[L(real)]",
                                                "min": 0.0, "max": 1.0})
    lambda_k: float = field(default=0.001, metadata={"help": "learning rate of k_t", "min": 0.0})
    code_dim: int = field(default=64, metadata={"help": "autoencoder code size", "min": 2, "max": 1024})
    learning_rate: float = field(default=1e-4, metadata={"help": "Adam learning rate (both networks)", "min": 0.0})


class BEGAN(GANSpec):
    name = "began"
    description = "Boundary-equilibrium GAN: L1 autoencoder discriminator, k_t control, convergence measure."
    config_class = BEGANConfig
    default_data = "digits"

    def make_trainer(self, config: BEGANConfig, data_info: dict[str, Any]) -> Any:
        from toolkit.gan import networks
        from toolkit.gan.trainers import BEGANTrainer

        shape = self.image_shape(data_info)
        return BEGANTrainer(networks.conv_generator(config.latent_dim, shape, config.filters),
                            networks.autoencoder_discriminator(shape, config.filters, config.code_dim),
                            config.latent_dim, seed=config.seed, gamma=config.gamma, lambda_k=config.lambda_k)


@hookimpl
def register_models(register: Any) -> None:
    register(BEGAN())
