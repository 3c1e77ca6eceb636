"""The ``began`` plugin: boundary-equilibrium GAN (Berthelot, Schumm and Metz, 2017).

Autoencoder discriminator with an L1 reconstruction loss; the control variable k_t keeps
``gamma * L(real) = L(fake)`` in balance, and the convergence measure
``M = L(real) + |gamma L(real) - L(fake)|`` is logged every epoch (``convergence`` in history.json).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
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
    default_data = "mnist-5k"

    def make_trainer(self, config: BEGANConfig, data_info: dict[str, Any]) -> Any:
        from toolkit.gan import networks
        from toolkit.gan.trainers import BEGANTrainer

        shape = self.image_shape(data_info)
        return BEGANTrainer(networks.conv_generator(config.latent_dim, shape, config.filters),
                            networks.autoencoder_discriminator(shape, config.filters, config.code_dim),
                            config.latent_dim, seed=config.seed, ema=config.ema, gamma=config.gamma,
                            lambda_k=config.lambda_k)

    def export_assets(self, model: Any, config: BEGANConfig, data_info: dict[str, Any],
                      run_dir: Path | None) -> dict[str, bytes]:
        """``samples.png`` plus ``convergence.json``: the run's per-epoch M and k_t, because the
        convergence curve is BEGAN's own quality signal and the run directory is not shipped."""
        assets = super().export_assets(model, config, data_info, run_dir)
        history_path = Path(run_dir) / "history.json" if run_dir is not None else None
        if history_path is not None and history_path.is_file():
            history = json.loads(history_path.read_text())
            keys = [k for k in ("convergence", "k", "d_loss", "g_loss") if k in history]
            if keys:
                curve = {"epoch": list(range(1, len(history[keys[0]]) + 1)), "gamma": config.gamma,
                         **{k: [round(float(v), 6) for v in history[k]] for k in keys}}
                assets["convergence.json"] = (json.dumps(curve, indent=1) + "\n").encode()
        return assets


@hookimpl
def register_models(register: Any) -> None:
    register(BEGAN())
