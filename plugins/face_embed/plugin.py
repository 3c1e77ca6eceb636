"""The ``face-embed`` model: a compact MobileFaceNet-like face embedder trained with ArcFace.

Trains on a folder-per-identity dataset (``--data faces:DIR``, the LFW / VGGFace2 layout) or the
offline ``lfw-subset`` (pseudo-identities, see :mod:`toolkit.datasets.faces`). Transfer learning:
``--set base=runs/face-embed/RUN/embedder.keras`` starts from a trained embedder (saved beside
every checkpoint) and fine-tunes it with a fresh ArcFace head for the new identities;
``--set freeze_base=true`` trains only the embedding layers.

Export: ``embed.onnx``, aligned 112x112 RGB faces in [0, 1] -> L2-normalised embeddings.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from toolkit.errors import ConfigError, TrainingError
from toolkit.config import TrainingConfig
from toolkit.hookspecs import hookimpl
from toolkit.spec import Dataset, ExportSpec, FitData, ModelSpec
from toolkit.tensors import TensorInfo

SIZE = 112
EMBEDDING_LAYERS = ("gdc_dw", "gdc_bn", "embedding_conv", "embedding_bn")


@dataclass
class FaceEmbedConfig(TrainingConfig):
    embedding_dim: int = field(default=128, metadata={"help": "embedding size", "min": 8, "max": 1024})
    width: int = field(default=16, metadata={"help": "channel width multiplier of the network", "min": 4, "max": 64})
    margin: float = field(default=0.3, metadata={"help": "ArcFace additive angular margin (radians)", "min": 0.0, "max": 1.0})
    scale: float = field(default=30.0, metadata={"help": "ArcFace logit scale s", "min": 1.0})
    learning_rate: float = field(default=0.002, metadata={"min": 0.0})
    batch_size: int = field(default=64, metadata={"min": 2})
    epochs: int = 12
    base: str = field(default="", metadata={"help": "embedder.keras of an earlier run to fine-tune (transfer learning)"})
    freeze_base: bool = field(default=False, metadata={"help": "with base: train only the embedding layers"})
    limit: int | None = field(default=None, metadata={"help": "keep at most this many identities (tiny tests)"})


class FaceEmbed(ModelSpec):
    name = "face-embed"
    task = "face-embedder"
    description = "MobileFaceNet-like face embedder trained with an ArcFace margin loss (aligned 112x112 faces)"
    config_class = FaceEmbedConfig
    data_kind = "images"
    default_data = "lfw-subset"
    image_size, channels = SIZE, 3

    def describe_data(self, config: FaceEmbedConfig, data: Dataset | None) -> dict[str, Any]:
        assert data is not None
        if data.y_train is None or len(data.label_names) < 2:
            raise TrainingError(f"dataset {data.name!r} has no identity labels; face-embed needs a folder per identity")
        if tuple(data.x_train.shape[1:]) != (SIZE, SIZE, 3):
            raise TrainingError(f"dataset {data.name!r} gives images of shape {data.x_train.shape[1:]}, need {SIZE}x{SIZE}x3")
        info = data.describe()
        info["classes"] = len(data.label_names)
        return info

    def build(self, config: FaceEmbedConfig, data_info: dict[str, Any]) -> Any:
        from toolkit.tf_setup import import_keras

        from plugins.face_embed.model import build_embedder, trainer_class

        keras = import_keras()
        embedder = build_embedder(SIZE, config.width, config.embedding_dim)
        if config.base:
            self._load_base(embedder, Path(config.base), freeze=config.freeze_base)
        elif config.freeze_base:
            raise ConfigError("freeze_base=true needs base=PATH (an embedder.keras to start from)")
        model = trainer_class()(embedder, classes=int(data_info["classes"]), scale=config.scale,
                                margin=config.margin, name="face_embed_trainer")
        model(np.zeros((1, SIZE, SIZE, 3), np.float32))
        model.compile(optimizer=keras.optimizers.Adam(config.learning_rate))
        return model

    @staticmethod
    def _load_base(embedder: Any, path: Path, freeze: bool) -> None:
        from toolkit.tf_setup import import_keras

        keras = import_keras()
        if not path.is_file():
            raise ConfigError(f"base={path}: no such file (give the embedder.keras saved in a face-embed run)")
        try:
            base = keras.models.load_model(str(path), compile=False)
        except Exception as exc:
            raise ConfigError(
                f"base={path}: cannot load a Keras model ({type(exc).__name__}: {str(exc)[:150]}); give the "
                "embedder.keras saved beside a face-embed checkpoint, not checkpoint.keras"
            ) from None
        want = [tuple(w.shape) for w in embedder.weights]
        have = [tuple(w.shape) for w in base.weights]
        if want != have:
            raise ConfigError(f"base={path}: its architecture differs from this config (width/embedding_dim must match)")
        embedder.set_weights(base.get_weights())
        if freeze:
            for layer in embedder.layers:
                layer.trainable = layer.name in EMBEDDING_LAYERS

    def fit_data(self, config: FaceEmbedConfig, data: Dataset | None, data_info: dict[str, Any]) -> FitData:
        assert data is not None
        validation = (data.x_test, data.y_test) if data.x_test is not None and len(data.x_test) else None
        return FitData(x=data.x_train, y=data.y_train, validation=validation, batch_size=config.batch_size)

    def callbacks(self, model: Any, config: FaceEmbedConfig, data_info: dict[str, Any], run_dir: Path) -> list[Any]:
        """After each epoch write ``embedder.keras`` (a plain functional model) beside the checkpoint,
        so a later run can fine-tune from it with ``--set base=...``."""
        from toolkit.tf_setup import import_keras

        def save_embedder(epoch: int, logs: Any = None) -> None:
            tmp = run_dir / ".embedder.tmp.keras"
            model.embedder.save(str(tmp))
            os.replace(tmp, run_dir / "embedder.keras")

        return [import_keras().callbacks.LambdaCallback(on_epoch_end=save_embedder)]

    def evaluate(self, model: Any, config: FaceEmbedConfig, data: Dataset | None, data_info: dict[str, Any]) -> dict[str, Any]:
        """Verification on the held-out views: same/different pairs, 10-fold accuracy at the best threshold."""
        from toolkit.runtime.faces.verification import kfold_accuracy, pair_scores_from_labels

        assert data is not None
        if data.x_test is None or len(data.x_test) < 4:
            return {}
        embeddings = np.asarray(model.embedder.predict(data.x_test, batch_size=128, verbose=0))
        embeddings /= np.linalg.norm(embeddings, axis=1, keepdims=True)
        from toolkit.errors import InputError

        try:
            scores, same = pair_scores_from_labels(embeddings, data.y_test, seed=config.seed)
            result = kfold_accuracy(scores, same, folds=min(10, len(scores)))
        except InputError:  # e.g. one test image per identity: no same-identity pair to score
            return {}
        return {"verification_accuracy": result["accuracy"], "verification_accuracy_std": result["accuracy_std"],
                "verification_threshold": result["threshold"], "verification_pairs": int(len(scores))}

    def exports(self, model: Any, config: FaceEmbedConfig, data_info: dict[str, Any]) -> list[ExportSpec]:
        import tensorflow as tf

        return [ExportSpec(
            name="embed",
            function=lambda x: tf.math.l2_normalize(model.embedder(x, training=False), axis=1),
            inputs=[TensorInfo("faces", (None, SIZE, SIZE, 3), value_range=(0.0, 1.0),
                               meaning="RGB face crops aligned to the ArcFace 5-point template, values in [0, 1]")],
            outputs=[TensorInfo("embedding", (None, config.embedding_dim), value_range=(-1.0, 1.0),
                                meaning="L2-normalised face embedding; compare with dot products (cosine)")],
            description="aligned face -> unit embedding",
        )]

    def export_info(self, model: Any, config: FaceEmbedConfig, data_info: dict[str, Any]) -> dict[str, Any]:
        return {
            "embedding_dim": config.embedding_dim,
            "input_size": SIZE,
            "alignment": "arcface-5-point (toolkit.runtime.faces.align.align_face, 112x112)",
            "preprocessing": "RGB in [0, 1]; the model maps it to [-1, 1] itself",
            "loss": f"ArcFace (s={config.scale:g}, m={config.margin:g})",
            "trained_on": data_info.get("source", data_info.get("name")),
            "identities": data_info.get("classes"),
            "pseudo_identities": bool(data_info.get("pseudo_identities", False)),
        }


@hookimpl
def register_models(register: Any) -> None:
    register(FaceEmbed())
