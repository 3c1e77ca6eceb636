"""The export stage: ``onnxkit export RUN_DIR --out exported/NAME``.

Each of the plugin's :class:`~toolkit.spec.ExportSpec` callables is traced as a ``tf.function``
with an explicit input signature (dynamic batch axis) and converted with tf2onnx's
``from_function`` (``from_keras`` fails on Keras 3 ``Sequential`` models). Every file is checked by
``onnx.checker``, its outputs renamed to the declared names, its metadata filled in, and its
outputs compared with Keras on the same random inputs. Only when every file passes is the export
directory (ONNX files + ``manifest.json``) renamed into place.
"""

from __future__ import annotations

import datetime as _dt
import json
import platform
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from toolkit.config import config_to_json
from toolkit.errors import ExportError, OnnxkitError
from toolkit.fsutil import atomic_directory, sha256_file
from toolkit.manifest import MANIFEST_NAME, OPSET, FileEntry, Manifest
from toolkit.onnx_meta import metadata_for_file
from toolkit.registry import Registry, get_registry
from toolkit.spec import ExportSpec, ModelSpec
from toolkit.tasks import get_tasks
from toolkit.tensors import TensorInfo
from toolkit.tf_setup import import_keras
from toolkit.training import load_checkpoint, open_run, read_history, read_run_json

PARITY_BATCHES = (1, 3)


@dataclass
class ConvertedFile:
    spec: ExportSpec
    proto: Any  # onnx.ModelProto
    parity: dict[str, Any]


def export_run(run_dir: str | Path, out: str | Path, *, name: str | None = None,
               registry: Registry | None = None, overwrite: bool = False) -> Manifest:
    """Export a finished (or interrupted) run's last checkpoint to ``out``."""
    run_dir = Path(run_dir)
    run = open_run(run_dir, registry or get_registry())
    spec, config, record, data_info = run.spec, run.config, run.record, run.data_info
    import_keras()
    model = spec.build(config, data_info)
    load_checkpoint(model, run_dir)
    training = {
        "config": config_to_json(config),
        "data": record.get("data"),
        "data_info": _summarise(data_info),
        "seed": record.get("seed"),
        "epochs": read_run_json(run_dir / "state.json", required=False).get("epochs_done"),
        "history": _last_values(read_history(run_dir)),
        "run": run_dir.name,
    }
    metrics = read_run_json(run_dir / "metrics.json", required=False)
    return export_model(spec, model, config, data_info, out, name=name or Path(out).name,
                        training=training, metrics=metrics, run_dir=run_dir, overwrite=overwrite)


def export_model(spec: ModelSpec, model: Any, config: Any, data_info: dict[str, Any], out: str | Path, *,
                 name: str, training: dict[str, Any] | None = None, metrics: dict[str, Any] | None = None,
                 run_dir: Path | None = None, overwrite: bool = False, seed: int = 0) -> Manifest:
    """Convert, check and write every export of ``model``; nothing is written unless all pass."""
    out = Path(out)
    if out.exists() and not overwrite:
        raise ExportError(f"{out} already exists (use --overwrite to replace it)")
    export_specs = spec.exports(model, config, data_info)
    if not export_specs:
        raise ExportError(f"model {spec.name!r} declares no exports")
    names = [e.name for e in export_specs]
    if len(set(names)) != len(names):
        raise ExportError(f"model {spec.name!r} declares duplicate export names: {names}")
    info = spec.export_info(model, config, data_info)
    check_task_contract(spec, export_specs, info)
    rng = np.random.default_rng(seed)
    converted = [convert(e, rng) for e in export_specs]

    manifest = Manifest(
        name=name,
        model=spec.name,
        plugin=spec.plugin,
        task=spec.task,
        description=spec.description,
        files={},
        info=info,
        training=training or {"config": config_to_json(config)},
        metrics=metrics or {},
        versions=library_versions(spec),
        opset=OPSET,
        created=_dt.datetime.now(_dt.UTC).replace(microsecond=0).isoformat(),
    )
    assets = spec.export_assets(model, config, data_info, run_dir)
    with atomic_directory(out, overwrite=overwrite) as tmp:
        # Entries first (hashes are filled in after the metadata is embedded).
        for item in converted:
            manifest.files[item.spec.name] = FileEntry(
                name=item.spec.name, path=f"{item.spec.name}.onnx", sha256="",
                inputs=item.spec.inputs, outputs=item.spec.outputs,
                description=item.spec.description, parity=item.parity,
            )
        manifest_json = manifest.to_json()
        for item in converted:
            _set_metadata(item.proto, metadata_for_file(manifest_json, item.spec.name))
            path = tmp / f"{item.spec.name}.onnx"
            path.write_bytes(item.proto.SerializeToString())
            manifest.files[item.spec.name].sha256 = sha256_file(path)
        for asset_name, payload in assets.items():
            if "/" in asset_name or asset_name.startswith(".") or asset_name == MANIFEST_NAME:
                raise ExportError(f"bad asset name {asset_name!r}")
            (tmp / asset_name).write_bytes(payload)
            manifest.assets[asset_name] = {"path": asset_name, "sha256": sha256_file(tmp / asset_name)}
        extra = spec.check_export(model, config, data_info, {f.name: tmp / f.path for f in manifest.files.values()})
        if extra:
            manifest.metrics.setdefault("parity", {}).update(extra)
        (tmp / MANIFEST_NAME).write_text(json.dumps(manifest.to_json(), indent=2, default=_json_default) + "\n")
    manifest.root = out
    return manifest


def check_task_contract(spec: ModelSpec, export_specs: list[ExportSpec], info: dict[str, Any]) -> None:
    """Check the declared exports against the task's contract before converting anything: a plugin
    author learns here, not at load time, that a file, tensor or info key its task needs is missing."""
    task = get_tasks().task(spec.task)
    if task is None:
        warnings.warn(f"model {spec.name!r}: task {spec.task!r} is not registered by any installed plugin; "
                      "its export will open as a GenericPipeline", stacklevel=3)
        return
    files = {e.name: ([t.name for t in e.inputs], [t.name for t in e.outputs]) for e in export_specs}
    task.require(files, info, f"model {spec.name!r}", ExportError)


def convert(export: ExportSpec, rng: np.random.Generator) -> ConvertedFile:
    """Trace, convert, check and parity-test one export; raise ExportError on any failure."""
    keras = import_keras()
    import onnx
    import tensorflow as tf
    import tf2onnx

    for tensor in export.inputs:
        if not tensor.shape or tensor.shape[0] is not None:
            raise ExportError(f"{export.name}: input {tensor.name!r} must have a dynamic batch axis (None first)")
    signature = [tf.TensorSpec(t.shape, getattr(tf, t.dtype), name=t.name) for t in export.inputs]

    def call(*args: Any) -> Any:
        result = export.function(*args)
        if isinstance(result, dict):
            raise ExportError(f"{export.name}: return a tensor or a tuple of tensors, not a dict")
        return tuple(result) if isinstance(result, (list, tuple)) else (result,)

    traced = tf.function(call, input_signature=signature, autograph=False)
    try:
        proto, _ = tf2onnx.convert.from_function(traced, input_signature=signature, opset=OPSET)
    except OnnxkitError:
        raise
    except Exception as exc:
        raise ExportError(f"{export.name}: tf2onnx could not convert it ({type(exc).__name__}: {exc})") from None
    if len(proto.graph.output) != len(export.outputs):
        raise ExportError(
            f"{export.name}: the function returns {len(proto.graph.output)} outputs but "
            f"{len(export.outputs)} are declared"
        )
    _rename_outputs(proto, [t.name for t in export.outputs])
    proto.producer_name = "onnxkit"
    proto.doc_string = export.description
    try:
        onnx.checker.check_model(proto, full_check=True)
    except Exception as exc:
        raise ExportError(f"{export.name}: onnx.checker rejected the converted model ({exc})") from None
    parity = check_parity(export, proto, traced, rng)
    del keras
    return ConvertedFile(spec=export, proto=proto, parity=parity)


def random_inputs(inputs: list[TensorInfo], rng: np.random.Generator, batch: int) -> list[np.ndarray]:
    """Random values inside each input's declared range (normal noise where none is declared)."""
    arrays = []
    for tensor in inputs:
        shape = [batch if i == 0 else (d if d is not None else 16) for i, d in enumerate(tensor.shape)]
        if tensor.dtype.startswith("int") or tensor.dtype == "uint8":
            low, high = tensor.value_range or (0, 9)
            arrays.append(rng.integers(int(low), int(high) + 1, size=shape).astype(tensor.dtype))
        elif tensor.dtype == "bool":
            arrays.append(rng.random(shape) < 0.5)
        elif tensor.value_range is not None:
            low, high = tensor.value_range
            arrays.append(rng.uniform(low, high, size=shape).astype(tensor.dtype))
        else:
            arrays.append(rng.standard_normal(shape).astype(tensor.dtype))
    return arrays


def check_parity(export: ExportSpec, proto: Any, traced: Any, rng: np.random.Generator) -> dict[str, Any]:
    """Run Keras and onnxruntime on the same inputs; fail when any output differs by > tolerance."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3
    session = ort.InferenceSession(proto.SerializeToString(), options, providers=["CPUExecutionProvider"])
    worst = 0.0
    per_output: dict[str, float] = {}
    for batch in PARITY_BATCHES:
        arrays = export.make_inputs(rng, batch) if export.make_inputs else random_inputs(export.inputs, rng, batch)
        expected = [np.asarray(t) for t in traced(*arrays)]
        got = session.run([t.name for t in export.outputs], {t.name: a for t, a in zip(export.inputs, arrays)})
        for tensor, want, have in zip(export.outputs, expected, got):
            if want.shape != have.shape:
                raise ExportError(
                    f"{export.name}: output {tensor.name!r} has shape {have.shape} in ONNX but {want.shape} in Keras"
                )
            diff = float(np.max(np.abs(want.astype(np.float64) - have.astype(np.float64)))) if want.size else 0.0
            per_output[tensor.name] = max(per_output.get(tensor.name, 0.0), diff)
            worst = max(worst, diff)
    if not worst <= export.tolerance:
        detail = ", ".join(f"{k}={v:.3g}" for k, v in per_output.items())
        raise ExportError(
            f"{export.name}: parity check failed: max abs difference {worst:.3g} exceeds the tolerance "
            f"{export.tolerance:g} ({detail}); nothing was written"
        )
    return {"max_abs_diff": worst, "per_output": per_output, "tolerance": export.tolerance,
            "batches": list(PARITY_BATCHES)}


def _rename_outputs(proto: Any, names: list[str]) -> None:
    """Give graph outputs their declared names, rewriting every reference in the graph."""
    mapping = {out.name: new for out, new in zip(proto.graph.output, names) if out.name != new}
    if not mapping:
        return

    def rewrite(graph: Any) -> None:
        for node in graph.node:
            for i, value in enumerate(node.input):
                if value in mapping:
                    node.input[i] = mapping[value]
            for i, value in enumerate(node.output):
                if value in mapping:
                    node.output[i] = mapping[value]
            for attribute in node.attribute:
                if attribute.g.node:
                    rewrite(attribute.g)
                for sub in attribute.graphs:
                    rewrite(sub)
        for value in graph.output:
            if value.name in mapping:
                value.name = mapping[value.name]

    # An output that is also a graph input cannot be renamed; the converter never produces that.
    rewrite(proto.graph)


def _set_metadata(proto: Any, props: dict[str, str]) -> None:
    del proto.metadata_props[:]
    for key, value in props.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value


def library_versions(spec: ModelSpec | None = None) -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    versions = {"python": platform.python_version()}
    for dist in ("onnxkit", "tensorflow", "keras", "tf2onnx", "onnx", "onnxruntime-gpu", "onnxruntime", "numpy"):
        try:
            versions[dist] = version(dist)
        except PackageNotFoundError:
            pass
    if spec is not None and spec.plugin:
        versions[f"plugin:{spec.plugin}"] = spec.plugin_version
    return versions


def _last_values(history: dict[str, list[float]]) -> dict[str, float]:
    return {k: v[-1] for k, v in history.items() if v}


def _summarise(data_info: dict[str, Any]) -> dict[str, Any]:
    """data.json without bulky entries (a vocabulary is recorded in ``info`` instead)."""
    return {k: v for k, v in data_info.items() if not (isinstance(v, (list, dict)) and len(v) > 64)}


def _json_default(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
