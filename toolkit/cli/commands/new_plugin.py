"""``onnxkit new-plugin NAME``: scaffold a pip-installable plugin package."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("new-plugin", help="write a pip-installable plugin skeleton that passes its own test")
    p.add_argument("name", help="plugin and model name, e.g. my-gan (my_gan is normalised to my-gan)")
    p.add_argument("--dir", default=".", help="parent directory (default: current)")
    p.add_argument("--new-task", action="store_true",
                   help="also bring a task of its own: its contract, pipeline, a command and a demo tab")
    p.set_defaults(func=new_plugin_command)


def new_plugin_command(args: argparse.Namespace) -> int:
    from toolkit.scaffold import new_plugin

    written = new_plugin(args.name, args.dir, new_task=args.new_task)
    renamed = f" (plugin name {written.name!r})" if written.name != args.name else ""
    print(f"wrote {written.path}{renamed}")
    print(f"next: pip install -e {written.path} && onnxkit models")
    return 0
