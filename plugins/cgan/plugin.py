"""The ``cgan`` plugin: a conditional GAN whose discriminator is also the classifier (AC-GAN).

The generator takes z plus a one-hot class vector (single-label data such as ``digits``) or a
multi-hot attribute vector (multi-label data such as CelebA's 40 attributes); the discriminator has
a real/fake head and a class head (softmax per class, or one sigmoid per attribute) and uses
spectral normalisation. The export is the generator alone: ``(z, labels) -> images in [0, 1]``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from toolkit.errors import DatasetError
from toolkit.gan.config import GANConfig
from toolkit.gan.spec import GANSpec
from toolkit.hookspecs import hookimpl
from toolkit.spec import Dataset

#: Label rows of multi-label data kept with the run for sample grids (no dataset needed at export).
SAMPLE_LABEL_ROWS = 64


@dataclass
class CGANConfig(GANConfig):
    class_weight: float = field(default=1.0, metadata={"help": "weight of the class losses", "min": 0.0})
    spectral: bool = field(default=True, metadata={"help": "spectral normalisation on the discriminator"})
    attributes: str = field(default="", metadata={
        "help": "multi-label data: comma-separated attributes to condition on (default: all)"})


class CGAN(GANSpec):
    name = "cgan"
    task = "conditional-generator"
    description = "Conditional AC-GAN with spectral normalisation: class or attribute labels -> images."
    config_class = CGANConfig
    default_data = "mnist-5k"
    conditional = True

    def describe_labels(self, config: CGANConfig, data: Dataset) -> dict[str, Any]:
        info = super().describe_labels(config, data)
        names = info["labels"]
        if not info["multi_label"]:
            if config.attributes:
                raise DatasetError(f"attributes={config.attributes!r} applies to multi-label data only; "
                                   f"dataset {data.name!r} has single labels")
            return info
        columns = list(range(len(names)))
        if config.attributes:
            wanted = [a.strip() for a in config.attributes.split(",") if a.strip()]
            unknown = [a for a in wanted if a not in names]
            if unknown:
                raise DatasetError(f"unknown attribute(s) {unknown}; dataset {data.name!r} has: {', '.join(names)}")
            columns = [names.index(a) for a in wanted]
        rows = np.asarray(data.y_train)[:SAMPLE_LABEL_ROWS][:, columns]
        return {"labels": [names[c] for c in columns], "multi_label": True, "label_columns": columns,
                "sample_labels": rows.astype(int).tolist()}

    def label_vectors(self, config: CGANConfig, data: Dataset, data_info: dict[str, Any]) -> np.ndarray:
        if data_info["multi_label"]:
            return np.asarray(data.y_train, np.float32)[:, data_info["label_columns"]]
        return super().label_vectors(config, data, data_info)

    def make_trainer(self, config: CGANConfig, data_info: dict[str, Any]) -> Any:
        from toolkit.gan import networks
        from toolkit.gan.trainers import ACGANTrainer

        shape = self.image_shape(data_info)
        n_labels = len(data_info["labels"])
        return ACGANTrainer(
            networks.conv_generator(config.latent_dim, shape, config.filters, label_dim=n_labels),
            networks.conv_discriminator(shape, config.filters, classes=n_labels, spectral=config.spectral),
            config.latent_dim, seed=config.seed, ema=config.ema, multi_label=bool(data_info["multi_label"]),
            class_weight=config.class_weight,
        )


@hookimpl
def register_models(register: Any) -> None:
    register(CGAN())
