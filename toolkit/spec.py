"""What a plugin declares: models (:class:`ModelSpec`), datasets (:class:`DatasetSpec`) and the
ONNX files a trained model exports (:class:`ExportSpec`).

This module must stay importable without TensorFlow: ``onnxkit models`` lists specs without
paying for a TensorFlow import. Plugins should likewise import Keras inside their methods (or in a
separate module they import lazily), not at module top level.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from toolkit.config import training_fields
from toolkit.tensors import TensorInfo


@dataclass(frozen=True)
class DataRequest:
    """What a model needs from a dataset: loaders resize and limit accordingly."""

    image_size: int | None = None
    channels: int | None = None
    seed: int = 0
    limit: int | None = None  # keep at most this many training examples (tiny test configs)


@dataclass
class Dataset:
    """A loaded dataset, split into train and test.

    For images ``x_*`` are float32 arrays ``[N, H, W, C]`` scaled to [0, 1] and ``y_*`` are int64
    class ids ``[N]`` or float32 multi-hot ``[N, L]`` (``multi_label``), or None. For text ``x_*``
    are strings and ``y_*`` None.
    """

    name: str
    kind: str  # "images" | "text"
    source: str  # where it came from, in words, for the manifest
    x_train: Any
    x_test: Any
    y_train: Any = None
    y_test: Any = None
    label_names: list[str] = field(default_factory=list)
    multi_label: bool = False
    info: dict[str, Any] = field(default_factory=dict)

    def describe(self) -> dict[str, Any]:
        """A JSON summary recorded with a run and in the manifest."""
        summary: dict[str, Any] = {
            "name": self.name,
            "kind": self.kind,
            "source": self.source,
            "train_size": len(self.x_train),
            "test_size": len(self.x_test),
        }
        if isinstance(self.x_train, np.ndarray):
            summary["shape"] = list(self.x_train.shape[1:])
        if self.label_names:
            summary["labels"] = list(self.label_names)
            summary["multi_label"] = self.multi_label
        summary.update(self.info)
        return summary


@dataclass(frozen=True)
class DatasetSpec:
    """A named dataset loader.

    ``load(source, request)`` gets ``source`` = the PATH part of ``--data NAME:PATH`` (or None) and
    must raise :class:`~toolkit.errors.DatasetError` for missing, malformed or empty data.
    ``accepts(path)`` lets a bare ``--data PATH`` find its loader.
    """

    name: str
    kind: str
    description: str
    load: Callable[[str | None, DataRequest], Dataset]
    accepts: Callable[[Path], bool] | None = None
    plugin: str = ""


@dataclass
class ExportSpec:
    """One ONNX file to export: a Keras callable with an explicit input signature.

    ``function`` takes the inputs positionally (as tensors) and returns one tensor or a tuple of
    tensors, named in order by ``outputs``. The batch axis (axis 0) must be ``None``. Parity is
    checked on ``make_inputs(rng, batch)`` when given, else on random values inside each input's
    ``value_range``.
    """

    name: str
    function: Callable[..., Any]
    inputs: list[TensorInfo]
    outputs: list[TensorInfo]
    description: str = ""
    tolerance: float = 1e-4
    make_inputs: Callable[[np.random.Generator, int], list[np.ndarray]] | None = None


@dataclass
class FitData:
    """What ``keras.Model.fit`` gets: ``x`` (and ``y``) arrays or a ``tf.data.Dataset``."""

    x: Any
    y: Any = None
    validation: Any = None
    batch_size: int | None = 32
    shuffle: bool = True


class ModelSpec:
    """Base class for a plugin's model. Subclass it, set the class attributes, override the methods.

    The training driver calls, in order: ``data_request`` -> (dataset loaded) -> ``describe_data``
    (saved with the run, so export never needs the dataset again) -> ``build`` -> ``fit_data`` ->
    ``callbacks`` -> ``keras.Model.fit`` -> ``evaluate``. The export stage calls ``build`` (then
    loads the checkpoint), ``exports``, ``export_info`` and ``check_export``.
    """

    name: ClassVar[str]
    task: ClassVar[str]
    description: ClassVar[str]
    config_class: ClassVar[type]
    #: Dataset kind this model trains on ("images", "text", or None for models that train on nothing).
    data_kind: ClassVar[str | None] = "images"
    default_data: ClassVar[str | None] = None
    #: Image side and channels the data is resized to when the config has no such fields (None: as stored).
    image_size: ClassVar[int | None] = None
    channels: ClassVar[int | None] = None
    #: Filled in by the plugin manager: the plugin (entry point name) that registered this spec.
    plugin: str = ""
    plugin_version: str = ""

    # -- training ---------------------------------------------------------------------------------
    def data_request(self, config: Any) -> DataRequest:
        """Seed and limit from the training fields; image size and channels from the config's
        ``image_size`` / ``channels`` fields where it has them, else this class's."""
        fields = training_fields(config)
        return DataRequest(image_size=getattr(config, "image_size", self.image_size),
                           channels=getattr(config, "channels", self.channels), seed=fields.seed, limit=fields.limit)

    def describe_data(self, config: Any, data: Dataset | None) -> dict[str, Any]:
        """Facts about the data the model needs to be rebuilt and exported (labels, vocabulary…)."""
        return data.describe() if data is not None else {}

    def build(self, config: Any, data_info: dict[str, Any]) -> Any:
        """Return a compiled ``keras.Model`` ready for ``fit``."""
        raise NotImplementedError

    def fit_data(self, config: Any, data: Dataset | None, data_info: dict[str, Any]) -> FitData:
        raise NotImplementedError

    def callbacks(self, model: Any, config: Any, data_info: dict[str, Any], run_dir: Path) -> list[Any]:
        """Extra Keras callbacks (e.g. a sample grid per epoch written into ``run_dir/samples``)."""
        return []

    def evaluate(self, model: Any, config: Any, data: Dataset | None, data_info: dict[str, Any]) -> dict[str, Any]:
        """Test-set metrics recorded in the run and the manifest."""
        return {}

    # -- export -----------------------------------------------------------------------------------
    def exports(self, model: Any, config: Any, data_info: dict[str, Any]) -> list[ExportSpec]:
        raise NotImplementedError

    def export_info(self, model: Any, config: Any, data_info: dict[str, Any]) -> dict[str, Any]:
        """Task facts for the manifest's ``info`` (labels, vocabulary, latent size, preprocessing)."""
        return {}

    def export_assets(self, model: Any, config: Any, data_info: dict[str, Any], run_dir: Path | None) -> dict[str, bytes]:
        """Extra files to ship in the export directory (sample grids, a gallery), by file name."""
        return {}

    def check_export(
        self, model: Any, config: Any, data_info: dict[str, Any], onnx_files: dict[str, Path]
    ) -> dict[str, Any]:
        """Extra parity checks beyond the per-file random-input check (e.g. a long rollout).

        Return figures to record; raise :class:`~toolkit.errors.ExportError` to fail the export.
        """
        return {}
