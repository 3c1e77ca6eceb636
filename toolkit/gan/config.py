"""Config fields shared by every GAN plugin (a dataclass base the plugins extend)."""

from __future__ import annotations

from dataclasses import dataclass, field

from toolkit.config import TrainingConfig


@dataclass
class GANConfig(TrainingConfig):
    """What every GAN needs (beyond :class:`TrainingConfig`); plugins subclass it to add their own knobs."""

    latent_dim: int = field(default=100, metadata={"help": "size of the latent vector z", "min": 2, "max": 1024})
    image_size: int = field(default=28, metadata={"help": "image side in pixels (the data is resized to it)",
                                                  "min": 8, "max": 128})
    channels: int = field(default=1, metadata={"help": "1 (grey) or 3 (colour)", "choices": (1, 3)})
    filters: int = field(default=32, metadata={"help": "width of the first/last convolution", "min": 4, "max": 512})
    learning_rate: float = field(default=2e-4, metadata={"help": "Adam learning rate (both networks)", "min": 0.0})
    beta_1: float = field(default=0.5, metadata={"help": "Adam beta_1 (DCGAN paper: 0.5)", "min": 0.0, "max": 1.0})
    batch_size: int = field(default=64, metadata={"min": 1})
    epochs: int = field(default=20, metadata={"min": 1})
    ema: float = field(default=0.0, metadata={
        "help": "keep an exponential moving average of the generator weights with this decay (e.g. 0.999) and "
                "sample/export it; 0 = off", "min": 0.0, "max": 0.99999})
    init_generator: str = field(default="", metadata={
        "help": "run directory of a GAN run with the same generator network: its generator weights start this "
                "run (warm start; EBGAN/BEGAN on a 2-core budget)"})
    grid_samples: int = field(default=64, metadata={"help": "images in the per-epoch sample grid (fixed z)",
                                                    "min": 4, "max": 400})
    collapse_threshold: float = field(
        default=0.25, metadata={"help": "warn when sample diversity falls below this fraction of the data's",
                                "min": 0.0, "max": 1.0})
    collapse_after: int = field(
        default=3, metadata={"help": "epochs before the collapse warning is armed (untrained generators are "
                                     "uniform, which is not a collapse)", "min": 0})

    def __post_init__(self) -> None:
        from toolkit.gan.networks import upsampling_plan

        upsampling_plan(self.image_size)  # raises ConfigError for sizes the nets cannot make
