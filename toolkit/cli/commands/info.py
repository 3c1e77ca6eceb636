"""``onnxkit info EXPORT_DIR``: what an export is and how to call it (no TensorFlow)."""

from __future__ import annotations

import argparse
import json


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("info", help="describe an export directory and how to call it")
    p.add_argument("export_dir")
    p.add_argument("--json", action="store_true", help="print the manifest as JSON")
    p.set_defaults(func=info_command)


def info_command(args: argparse.Namespace) -> int:
    from toolkit import runtime

    pipeline = runtime.load(args.export_dir)
    manifest = pipeline.manifest
    if args.json:
        print(json.dumps(manifest.to_json(), indent=2))
        return 0
    print(f"{manifest.name}: {manifest.description}")
    print(f"  model {manifest.model} (plugin {manifest.plugin}), task {manifest.task}, opset {manifest.opset}")
    print(f"  pipeline {type(pipeline).__name__}, provider {pipeline.provider}")
    for name, entry in manifest.files.items():
        parity = entry.parity.get("max_abs_diff")
        print(f"  file {entry.path}" + (f"  (parity vs Keras: max abs diff {parity:.3g})" if parity is not None else ""))
        if entry.description:
            print(f"    {entry.description}")
        for tensor in entry.inputs:
            print(f"    in   {tensor.describe()}")
        for tensor in entry.outputs:
            print(f"    out  {tensor.describe()}")
    for key, value in manifest.info.items():
        text = json.dumps(value)
        print(f"  {key}: {text if len(text) <= 100 else text[:97] + '...'}")
    for key, value in manifest.metrics.items():
        print(f"  metric {key}: {json.dumps(value)[:100]}")
    first = next(iter(manifest.files.values()))
    feeds = ", ".join(f"'{t.name}': ..." for t in first.inputs)
    print("  call it with plain onnxruntime:")
    print(f"    ort.InferenceSession('{args.export_dir}/{first.path}').run(None, {{{feeds}}})")
    return 0
