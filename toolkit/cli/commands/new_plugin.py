"""``onnxkit new-plugin NAME``: scaffold a pip-installable plugin package."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("new-plugin", help="write a pip-installable plugin skeleton that passes its own test")
    p.add_argument("name", help="plugin and model name, e.g. my-gan")
    p.add_argument("--dir", default=".", help="parent directory (default: current)")
    p.set_defaults(func=new_plugin_command)


def new_plugin_command(args: argparse.Namespace) -> int:
    from toolkit.scaffold import new_plugin

    target = new_plugin(args.name, args.dir)
    print(f"wrote {target}")
    print(f"next: pip install -e {target} && onnxkit models")
    return 0
