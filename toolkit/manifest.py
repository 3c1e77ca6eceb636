"""The ``manifest.json`` of an export directory: schema, reading and validation.

The manifest is the contract between the training side (which writes it) and every consumer (our
runtime, or a plain onnxruntime program in another language). It is plain JSON so that nothing
but a JSON parser is needed to use an export.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from toolkit.errors import ManifestError
from toolkit.fsutil import sha256_file
from toolkit.tasks import get_tasks
from toolkit.tensors import TensorInfo

MANIFEST_NAME = "manifest.json"
SCHEMA = "onnxkit.manifest"
SCHEMA_VERSION = 1
OPSET = 17
#: Prefix of the keys onnxkit writes into each ONNX file's ``metadata_props``.
METADATA_PREFIX = "onnxkit."


@dataclass
class FileEntry:
    """One exported ONNX file: where it is, what it takes and gives, and how well it matched Keras."""

    name: str
    path: str
    sha256: str
    inputs: list[TensorInfo]
    outputs: list[TensorInfo]
    description: str = ""
    parity: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "sha256": self.sha256,
            "description": self.description,
            "inputs": [t.to_json() for t in self.inputs],
            "outputs": [t.to_json() for t in self.outputs],
            "parity": self.parity,
        }


@dataclass
class Manifest:
    """A parsed, validated manifest. ``info`` holds task facts (labels, vocabulary, latent size…)."""

    name: str
    model: str
    plugin: str
    task: str
    description: str
    files: dict[str, FileEntry]
    info: dict[str, Any] = field(default_factory=dict)
    training: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)
    opset: int = OPSET
    created: str = ""
    #: Extra files shipped with the export (sample grids, galleries): name -> {"path", "sha256"}.
    assets: dict[str, dict[str, str]] = field(default_factory=dict)
    root: Path | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "schema_version": SCHEMA_VERSION,
            "name": self.name,
            "model": self.model,
            "plugin": self.plugin,
            "task": self.task,
            "description": self.description,
            "opset": self.opset,
            "created": self.created,
            "files": {name: entry.to_json() for name, entry in self.files.items()},
            "assets": self.assets,
            "info": self.info,
            "training": self.training,
            "metrics": self.metrics,
            "versions": self.versions,
        }

    def file_path(self, name: str) -> Path:
        if name not in self.files:
            raise ManifestError(f"export {self.name!r} has no file {name!r} (it has: {', '.join(self.files)})")
        assert self.root is not None
        return self.root / self.files[name].path

    def asset_path(self, name: str) -> Path:
        if name not in self.assets:
            raise ManifestError(f"export {self.name!r} has no asset {name!r}")
        assert self.root is not None
        return self.root / self.assets[name]["path"]


def _require(data: dict[str, Any], key: str, kind: type | tuple[type, ...], where: str) -> Any:
    if key not in data:
        raise ManifestError(f"{where}: missing key {key!r}")
    value = data[key]
    if not isinstance(value, kind):
        raise ManifestError(f"{where}: {key!r} should be {getattr(kind, '__name__', kind)}, got {type(value).__name__}")
    return value


def parse_manifest(data: Any, where: str = "manifest") -> Manifest:
    """Validate the JSON structure of a manifest and return it parsed (does not touch files)."""
    if not isinstance(data, dict):
        raise ManifestError(f"{where}: top level must be a JSON object")
    schema = data.get("schema")
    if schema != SCHEMA:
        raise ManifestError(f"{where}: schema is {schema!r}, expected {SCHEMA!r} (not an onnxkit export?)")
    version = data.get("schema_version")
    if version != SCHEMA_VERSION:
        raise ManifestError(
            f"{where}: schema_version {version!r} is not supported (this onnxkit reads version {SCHEMA_VERSION})"
        )
    task = _require(data, "task", str, where)
    if not task.strip():
        raise ManifestError(f"{where}: 'task' is empty")
    files_json = _require(data, "files", dict, where)
    if not files_json:
        raise ManifestError(f"{where}: lists no files")
    files: dict[str, FileEntry] = {}
    for name, entry in files_json.items():
        at = f"{where}: files.{name}"
        if not isinstance(entry, dict):
            raise ManifestError(f"{at} must be an object")
        path = _require(entry, "path", str, at)
        if Path(path).is_absolute() or ".." in Path(path).parts:
            raise ManifestError(f"{at}: path {path!r} must stay inside the export directory")
        try:
            inputs = [TensorInfo.from_json(t) for t in _require(entry, "inputs", list, at)]
            outputs = [TensorInfo.from_json(t) for t in _require(entry, "outputs", list, at)]
        except (KeyError, TypeError, ValueError) as exc:
            raise ManifestError(f"{at}: malformed tensor description ({exc})") from None
        files[name] = FileEntry(
            name=name,
            path=path,
            sha256=_require(entry, "sha256", str, at),
            inputs=inputs,
            outputs=outputs,
            description=entry.get("description", ""),
            parity=dict(entry.get("parity", {})),
        )
    assets = data.get("assets", {})
    if not isinstance(assets, dict) or not all(
        isinstance(a, dict) and isinstance(a.get("path"), str) and isinstance(a.get("sha256"), str)
        and not Path(a["path"]).is_absolute() and ".." not in Path(a["path"]).parts
        for a in assets.values()
    ):
        raise ManifestError(f"{where}: 'assets' must map names to {{path, sha256}} inside the export")
    manifest = Manifest(
        assets=dict(assets),
        name=_require(data, "name", str, where),
        model=_require(data, "model", str, where),
        plugin=_require(data, "plugin", str, where),
        task=task,
        description=data.get("description", ""),
        files=files,
        info=dict(data.get("info", {})),
        training=dict(data.get("training", {})),
        metrics=dict(data.get("metrics", {})),
        versions=dict(data.get("versions", {})),
        opset=int(data.get("opset", OPSET)),
        created=str(data.get("created", "")),
    )
    check_task_contract(manifest, where)
    return manifest


def check_task_contract(manifest: Manifest, where: str = "manifest") -> None:
    """Check the manifest against its task's :class:`~toolkit.tasks.TaskSpec` (files, tensors, info
    keys); a task nobody registered passes here (``runtime.load`` opens it as a generic pipeline)."""
    spec = get_tasks().task(manifest.task)
    if spec is not None:
        files = {name: ([t.name for t in e.inputs], [t.name for t in e.outputs]) for name, e in manifest.files.items()}
        spec.require(files, manifest.info, where, ManifestError)


def read_manifest(export_dir: str | Path, *, verify_hashes: bool = True) -> Manifest:
    """Read and validate ``export_dir/manifest.json``; with ``verify_hashes`` check every file's sha256."""
    root = Path(export_dir)
    if not root.is_dir():
        raise ManifestError(f"{root}: not an export directory (it does not exist or is not a directory)")
    path = root / MANIFEST_NAME
    if not path.is_file():
        raise ManifestError(f"{root}: no {MANIFEST_NAME} (is this an onnxkit export directory?)")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ManifestError(f"{path}: not valid JSON ({exc})") from None
    manifest = parse_manifest(data, where=str(path))
    manifest.root = root
    if verify_hashes:
        listed = [(e.path, e.sha256) for e in manifest.files.values()]
        listed += [(a["path"], a["sha256"]) for a in manifest.assets.values()]
        for relative, expected in listed:
            file = root / relative
            if not file.is_file():
                raise ManifestError(f"{path}: file {relative!r} is missing")
            actual = sha256_file(file)
            if actual != expected:
                raise ManifestError(
                    f"{file}: sha256 {actual[:12]}… does not match the manifest's {expected[:12]}… "
                    "(file changed or corrupt)"
                )
    return manifest
