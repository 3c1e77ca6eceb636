"""Writing onnxkit facts into, and reading them from, an ONNX file's ``metadata_props``.

This lets a lone ``.onnx`` file explain itself to any program (netron, or onnxruntime's
``get_modelmeta().custom_metadata_map``) without its manifest. Kept free of TensorFlow.
"""

from __future__ import annotations

import json
from typing import Any

from toolkit.manifest import METADATA_PREFIX, SCHEMA_VERSION


def metadata_for_file(manifest_json: dict[str, Any], file_name: str) -> dict[str, str]:
    """The key/value strings stored in one exported file, derived from the manifest JSON."""
    entry = manifest_json["files"][file_name]
    props = {
        "schema_version": str(SCHEMA_VERSION),
        "name": manifest_json["name"],
        "model": manifest_json["model"],
        "plugin": manifest_json["plugin"],
        "task": manifest_json["task"],
        "file": file_name,
        "description": entry.get("description") or manifest_json.get("description", ""),
        "inputs": json.dumps(entry["inputs"]),
        "outputs": json.dumps(entry["outputs"]),
        "info": json.dumps(manifest_json.get("info", {})),
    }
    return {METADATA_PREFIX + key: value for key, value in props.items()}


def read_metadata(custom_metadata_map: dict[str, str]) -> dict[str, Any]:
    """Parse what :func:`metadata_for_file` wrote (JSON values decoded) from onnxruntime's map."""
    result: dict[str, Any] = {}
    for key, value in custom_metadata_map.items():
        if not key.startswith(METADATA_PREFIX):
            continue
        short = key[len(METADATA_PREFIX):]
        if short in ("inputs", "outputs", "info"):
            try:
                result[short] = json.loads(value)
            except json.JSONDecodeError:
                result[short] = value
        else:
            result[short] = value
    return result
