"""``GANSpec``: the ModelSpec base every GAN plugin extends.

It owns what GANs have in common — the data request, checks on the data, the [-1, 1] scaling,
the per-epoch sample grid and collapse warning, and the export of the *generator alone*
(``z`` [+ ``labels``] -> images in [0, 1], tanh rescaled inside the graph so consumers never see
[-1, 1]). A plugin supplies ``make_trainer`` (networks + training loop) and its config class.
No TensorFlow at import time.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from toolkit.errors import DatasetError, ExportError
from toolkit.gan.config import GANConfig
from toolkit.gan.diversity import diversity_ratio, mean_pairwise_distance
from toolkit.images import make_grid, png_bytes
from toolkit.spec import Dataset, ExportSpec, FitData, ModelSpec
from toolkit.tensors import TensorInfo
from toolkit.tf_setup import import_keras

#: z is standard normal; exports declare (and the runtime draws) values clipped to +-Z_LIMIT.
Z_LIMIT = 5.0
#: Seed of the z behind the committed ``samples.png`` of an export.
ASSET_SEED = 1


def draw_z(n: int, latent_dim: int, seed: int) -> np.ndarray:
    """Standard normal z clipped to the declared range (the same recipe as the runtime's)."""
    rng = np.random.default_rng(seed)
    return np.clip(rng.standard_normal((n, latent_dim)), -Z_LIMIT, Z_LIMIT).astype(np.float32)


class GANSpec(ModelSpec):
    """Shared data handling, callbacks and export for GANs (see the module docstring)."""

    task = "image-generator"
    data_kind = "images"
    config_class = GANConfig
    #: Conditional models (cgan) take a label vector as a second generator input.
    conditional = False

    # -- to be supplied by the plugin -----------------------------------------------------------------
    def make_trainer(self, config: Any, data_info: dict[str, Any]) -> Any:
        """Return an uncompiled trainer (a ``toolkit.gan.trainers`` model) for this config and data."""
        raise NotImplementedError

    # -- data -----------------------------------------------------------------------------------------
    def describe_data(self, config: GANConfig, data: Dataset | None) -> dict[str, Any]:
        if data is None or data.kind != "images":
            raise DatasetError(f"{self.name} trains on images")
        x = data.x_train
        if not isinstance(x, np.ndarray) or x.ndim != 4 or len(x) == 0:
            raise DatasetError(f"dataset {data.name!r} gave no [N, H, W, C] training images")
        want = (config.image_size, config.image_size, config.channels)
        if tuple(x.shape[1:]) != want:
            raise DatasetError(f"dataset {data.name!r} gives images of shape {tuple(x.shape[1:])}, but the "
                               f"config asks for {want} (image_size, image_size, channels)")
        info = data.describe()
        info["image_shape"] = list(want)
        rng = np.random.default_rng(config.seed)
        subset = x[rng.permutation(len(x))[:128]]
        info["reference_diversity"] = mean_pairwise_distance(subset)
        if self.conditional:
            info.update(self.describe_labels(config, data))
        return info

    def describe_labels(self, config: Any, data: Dataset) -> dict[str, Any]:
        """Label facts a conditional model needs (names, single/multi-label); cgan overrides it."""
        if not data.label_names or data.y_train is None:
            raise DatasetError(f"{self.name} needs labelled images, but dataset {data.name!r} has no labels")
        return {"labels": list(data.label_names), "multi_label": bool(data.multi_label)}

    def label_vectors(self, config: Any, data: Dataset, data_info: dict[str, Any]) -> np.ndarray:
        """The training labels as float32 one-hot / multi-hot rows."""
        y = np.asarray(data.y_train)
        n_labels = len(data_info["labels"])
        if data_info["multi_label"]:
            return y.astype(np.float32)
        return np.eye(n_labels, dtype=np.float32)[y.astype(np.int64)]

    def fit_data(self, config: GANConfig, data: Dataset | None, data_info: dict[str, Any]) -> FitData:
        assert data is not None
        x = (np.asarray(data.x_train, np.float32) * 2.0 - 1.0).astype(np.float32)  # tanh range
        y = self.label_vectors(config, data, data_info) if self.conditional else None
        return FitData(x=x, y=y, batch_size=config.batch_size)

    # -- model ----------------------------------------------------------------------------------------
    def build(self, config: GANConfig, data_info: dict[str, Any]) -> Any:
        keras = import_keras()
        trainer = self.make_trainer(config, data_info)
        trainer.compile(
            d_optimizer=keras.optimizers.Adam(config.learning_rate, beta_1=config.beta_1),
            g_optimizer=keras.optimizers.Adam(config.learning_rate, beta_1=config.beta_1),
        )
        # One call builds the subclassed model, so checkpoints load into it (export, resume).
        inputs = self.fixed_inputs(config, data_info, 2, seed=0)
        trainer(inputs if len(inputs) > 1 else inputs[0])
        return trainer

    def image_shape(self, data_info: dict[str, Any]) -> tuple[int, int, int]:
        return tuple(int(d) for d in data_info["image_shape"])  # type: ignore[return-value]

    def fixed_inputs(self, config: Any, data_info: dict[str, Any], n: int, seed: int) -> list[np.ndarray]:
        """z (and, if conditional, labels) for a grid: for single-label data row r shows class r."""
        z = draw_z(n, config.latent_dim, seed)
        if not self.conditional:
            return [z]
        names = data_info["labels"]
        if data_info["multi_label"]:
            rows = np.asarray(data_info["sample_labels"], np.float32)
            labels = rows[np.arange(n) % len(rows)]
        else:
            columns = self.grid_columns(n, data_info)
            labels = np.eye(len(names), dtype=np.float32)[(np.arange(n) // columns) % len(names)]
        return [z, labels]

    def grid_columns(self, n: int, data_info: dict[str, Any]) -> int:
        if self.conditional and not data_info.get("multi_label"):
            return max(1, n // len(data_info["labels"]))
        return int(np.ceil(np.sqrt(n)))

    @staticmethod
    def generate(model: Any, inputs: list[np.ndarray]) -> np.ndarray:
        """Generator output (inference mode) rescaled to [0, 1], as the export computes it."""
        out = model.sampler(inputs if len(inputs) > 1 else inputs[0], training=False)
        return ((np.asarray(out) + 1.0) * 0.5).astype(np.float32)

    def callbacks(self, model: Any, config: GANConfig, data_info: dict[str, Any], run_dir: Path) -> list[Any]:
        from toolkit.gan.callbacks import SampleGrid

        if config.init_generator and _epochs_done(run_dir) == 0:
            warm_start_generator(model, Path(config.init_generator))
        inputs = self.fixed_inputs(config, data_info, config.grid_samples, seed=config.seed + 12345)
        return [SampleGrid(lambda: self.generate(model, inputs), run_dir / "samples",
                           reference_diversity=float(data_info["reference_diversity"]),
                           threshold=config.collapse_threshold, warmup=config.collapse_after,
                           columns=self.grid_columns(config.grid_samples, data_info))]

    def evaluate(self, model: Any, config: GANConfig, data: Dataset | None, data_info: dict[str, Any]) -> dict[str, Any]:
        images = self.generate(model, self.fixed_inputs(config, data_info, 128, seed=config.seed + 999))
        return {"diversity_ratio": diversity_ratio(images, float(data_info["reference_diversity"]))}

    # -- export ---------------------------------------------------------------------------------------
    def exports(self, model: Any, config: Any, data_info: dict[str, Any]) -> list[ExportSpec]:
        import tensorflow as tf

        generator = model.sampler  # the EMA generator when the run keeps one
        height, width, channels = self.image_shape(data_info)
        z_info = TensorInfo("z", (None, config.latent_dim), value_range=(-Z_LIMIT, Z_LIMIT),
                            meaning=f"latent vector, standard normal clipped to +-{Z_LIMIT:g}")
        out = TensorInfo("images", (None, height, width, channels), value_range=(0.0, 1.0),
                         meaning="generated images, NHWC, " + ("grey" if channels == 1 else "RGB") + ", 0 = black")
        if not self.conditional:
            return [ExportSpec(
                name="generator",
                function=lambda z: tf.clip_by_value((generator(z, training=False) + 1.0) * 0.5, 0.0, 1.0),
                inputs=[z_info], outputs=[out], description="z -> images in [0, 1]",
            )]
        names = data_info["labels"]
        multi = bool(data_info["multi_label"])
        labels_info = TensorInfo(
            "labels", (None, len(names)), value_range=(0.0, 1.0),
            meaning=("multi-hot attribute vector (1 = has the attribute), order as info.labels" if multi
                     else "one-hot class vector, order as info.labels"))

        def make_inputs(rng: np.random.Generator, batch: int) -> list[np.ndarray]:
            z = np.clip(rng.standard_normal((batch, config.latent_dim)), -Z_LIMIT, Z_LIMIT).astype(np.float32)
            if multi:
                labels = (rng.random((batch, len(names))) < 0.5).astype(np.float32)
            else:
                labels = np.eye(len(names), dtype=np.float32)[rng.integers(0, len(names), batch)]
            return [z, labels]

        return [ExportSpec(
            name="generator",
            function=lambda z, labels: tf.clip_by_value((generator([z, labels], training=False) + 1.0) * 0.5, 0.0, 1.0),
            inputs=[z_info, labels_info], outputs=[out], make_inputs=make_inputs,
            description="(z, labels) -> images in [0, 1]",
        )]

    def export_info(self, model: Any, config: Any, data_info: dict[str, Any]) -> dict[str, Any]:
        info: dict[str, Any] = {
            "latent_dim": int(config.latent_dim),
            "image_shape": list(self.image_shape(data_info)),
            "z_distribution": "normal",
            "z_range": [-Z_LIMIT, Z_LIMIT],
            "output_range": [0.0, 1.0],
            "conditional": self.conditional,
            "labels": list(data_info.get("labels", [])) if self.conditional else [],
            "multi_label": bool(data_info.get("multi_label", False)) if self.conditional else False,
            "preprocessing": "none: feed z ~ N(0, 1) clipped to the z range"
                             + (" and a one-hot/multi-hot labels vector" if self.conditional else "")
                             + "; images come out in [0, 1] (the generator's tanh is rescaled in the graph)",
            "dataset": data_info.get("name"),
        }
        return info

    def export_assets(self, model: Any, config: Any, data_info: dict[str, Any], run_dir: Path | None) -> dict[str, bytes]:
        """``samples.png``: a grid from z drawn with seed ASSET_SEED (regenerable from the ONNX file)."""
        n = 100 if self.conditional and not data_info.get("multi_label") and len(data_info["labels"]) == 10 else 64
        images = self.generate(model, self.fixed_inputs(config, data_info, n, seed=ASSET_SEED))
        if not np.isfinite(images).all():
            raise ExportError("the generator produces non-finite images; not exporting it")
        return {"samples.png": png_bytes(make_grid(images, self.grid_columns(n, data_info)))}


def _epochs_done(run_dir: Path) -> int:
    import json

    try:
        return int(json.loads((Path(run_dir) / "state.json").read_text()).get("epochs_done", 0))
    except (OSError, ValueError):
        return 0


def warm_start_generator(model: Any, source_run: Path) -> None:
    """Copy the generator weights of another GAN run (its EMA generator when it kept one) into this
    run's generator (and EMA generator) before the first epoch.

    Why: the autoencoder-discriminator GANs (EBGAN, BEGAN) can sit for many epochs at a degenerate
    point (grey or all-black images that their autoencoder reconstructs well) before any digit
    appears; starting their generator from a trained one of the same network lets their own losses
    shape it within a 2-core budget. Only at the start of a run: a resumed run keeps its checkpoint.
    """
    from toolkit.errors import ConfigError, TrainingError
    from toolkit.registry import get_registry
    from toolkit.training import load_checkpoint, open_run

    try:
        run = open_run(source_run, get_registry())
    except TrainingError as exc:
        raise ConfigError(f"init_generator: {exc}") from None
    if not isinstance(run.spec, GANSpec):
        raise ConfigError(f"init_generator: {source_run} is a {run.spec.name} run, not a GAN run")
    source = run.spec.build(run.config, run.data_info)
    load_checkpoint(source, source_run)
    weights = source.sampler.get_weights()
    shapes = [w.shape for w in weights]
    if shapes != [tuple(w.shape) for w in model.generator.weights]:
        raise ConfigError(f"init_generator: the generator of {source_run} ({run.spec.name}) does not have this "
                          f"run's generator shapes (same latent_dim, filters and image_size are needed)")
    model.generator.set_weights(weights)
    if getattr(model, "ema_generator", None) is not None:
        model.ema_generator.set_weights(weights)
