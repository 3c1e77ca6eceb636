"""The ``mtcnn`` model: the pretrained MTCNN cascade converted to three ONNX files.

Nothing is trained (``data_kind = None``). ``onnxkit train mtcnn`` builds P-Net, R-Net and O-Net
in Keras, copies the weights shipped in the ``mtcnn`` package's wheel into them and saves that as
the run's checkpoint (one "epoch" that only loads weights), so the ordinary
``onnxkit export RUN --out exported/mtcnn`` converts them with the project's parity check.
The detection algorithm itself (pyramid, NMS, refinement) lives in the runtime:
:class:`toolkit.runtime.tasks.faces.FaceDetector`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from toolkit.config import TrainingConfig
from toolkit.hookspecs import hookimpl
from toolkit.spec import Dataset, ExportSpec, FitData, ModelSpec
from toolkit.tensors import TensorInfo

#: Pixel normalisation the networks were trained with: (rgb - 127.5) / 128, so about [-1, 1].
PIXEL_RANGE = (-1.0, 1.0)


@dataclass
class MTCNNConfig(TrainingConfig):
    weights_dir: str = field(default="", metadata={
        "help": "folder with pnet.lz4, rnet.lz4, onet.lz4 (default: the installed mtcnn package's assets)"})
    epochs: int = field(default=1, metadata={"help": "ignored beyond 1: loading weights takes one step", "min": 1})


class MTCNN(ModelSpec):
    name = "mtcnn"
    task = "face-detector"
    description = "MTCNN face detector (P-Net/R-Net/O-Net) with the pretrained weights of the mtcnn package"
    config_class = MTCNNConfig
    data_kind = None

    def build(self, config: MTCNNConfig, data_info: dict[str, Any]) -> Any:
        from pathlib import Path

        from plugins.mtcnn.networks import BUILDERS, load_package_weights
        from toolkit.pretrained import ImportedWeights

        weights_dir = Path(config.weights_dir) if config.weights_dir else None
        nets = {}
        for name, builder in BUILDERS.items():
            nets[name] = builder()
            load_package_weights(nets[name], name, weights_dir)
        model = ImportedWeights(name="mtcnn", **nets)
        model(np.zeros((1, 1), "float32"))
        model.compile(optimizer="sgd")
        return model

    def fit_data(self, config: MTCNNConfig, data: Dataset | None, data_info: dict[str, Any]) -> FitData:
        return FitData(x=np.zeros((1, 1), "float32"), batch_size=1, shuffle=False)

    def evaluate(self, model: Any, config: MTCNNConfig, data: Dataset | None, data_info: dict[str, Any]) -> dict[str, Any]:
        return {f"{name}_parameters": int(getattr(model, name).count_params()) for name in ("pnet", "rnet", "onet")}

    def exports(self, model: Any, config: MTCNNConfig, data_info: dict[str, Any]) -> list[ExportSpec]:
        def pixels(shape: tuple[int | None, ...], name: str) -> TensorInfo:
            return TensorInfo(name, shape, value_range=PIXEL_RANGE,
                              meaning="RGB pixels normalised as (value - 127.5) / 128")

        def uniform(*shape: int) -> Any:
            return lambda rng, batch: [rng.uniform(-1, 1, (batch, *shape)).astype("float32")]

        return [
            ExportSpec(
                name="pnet",
                function=lambda x: tuple(model.pnet(x, training=False)),
                inputs=[pixels((None, None, None, 3), "image")],
                outputs=[
                    TensorInfo("regression", (None, None, None, 4),
                               meaning="per 12x12 window (stride 2): x1, y1, x2, y2 offsets in window sizes"),
                    TensorInfo("probability", (None, None, None, 2), value_range=(0.0, 1.0),
                               meaning="per window: [not face, face] probabilities"),
                ],
                description="P-Net: proposals over a whole (rescaled) image; any height and width >= 12",
                make_inputs=uniform(37, 53, 3),
            ),
            ExportSpec(
                name="rnet",
                function=lambda x: tuple(model.rnet(x, training=False)),
                inputs=[pixels((None, 24, 24, 3), "crops")],
                outputs=[
                    TensorInfo("regression", (None, 4), meaning="box offsets in box sizes"),
                    TensorInfo("probability", (None, 2), value_range=(0.0, 1.0), meaning="[not face, face]"),
                ],
                description="R-Net: refines 24x24 crops of P-Net proposals",
                make_inputs=uniform(24, 24, 3),
            ),
            ExportSpec(
                name="onet",
                function=lambda x: tuple(model.onet(x, training=False)),
                inputs=[pixels((None, 48, 48, 3), "crops")],
                outputs=[
                    TensorInfo("regression", (None, 4), meaning="box offsets in box sizes"),
                    TensorInfo("landmarks", (None, 10),
                               meaning="x of left eye, right eye, nose, mouth left, mouth right, then their y; "
                                       "fractions of the crop"),
                    TensorInfo("probability", (None, 2), value_range=(0.0, 1.0), meaning="[not face, face]"),
                ],
                description="O-Net: final boxes, scores and five landmarks from 48x48 crops",
                make_inputs=uniform(48, 48, 3),
            ),
        ]

    def export_info(self, model: Any, config: MTCNNConfig, data_info: dict[str, Any]) -> dict[str, Any]:
        from importlib.metadata import PackageNotFoundError, version

        try:
            source = f"mtcnn {version('mtcnn')} (PyPI, MIT licence), assets/weights/*.lz4"
        except PackageNotFoundError:  # pragma: no cover
            source = "mtcnn package weights"
        return {
            "weights_source": source,
            "preprocessing": "RGB uint8 -> (value - 127.5) / 128; P-Net on an area-resized image pyramid, "
                             "R-Net/O-Net on bilinear 24x24 / 48x48 crops",
            "landmarks": ["left_eye", "right_eye", "nose", "mouth_left", "mouth_right"],
            "defaults": {"min_face_size": 20, "thresholds": [0.6, 0.7, 0.7], "scale_factor": 0.709,
                         "nms": {"pnet_scale": 0.5, "pnet_all": 0.7, "rnet": 0.7, "onet_min": 0.7}},
        }


@hookimpl
def register_models(register: Any) -> None:
    register(MTCNN())
