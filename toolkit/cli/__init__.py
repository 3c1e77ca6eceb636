"""The ``onnxkit`` command line.

Each module in ``toolkit.cli.commands`` adds its subcommands through ``register(subparsers)`` and
sets ``func`` on them, so new commands need no edit here. Handlers import heavy libraries
(TensorFlow) inside themselves, so ``onnxkit info`` or ``onnxkit sample`` start fast.
"""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import sys
from collections.abc import Sequence

from toolkit import __version__
from toolkit.errors import OnnxkitError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="onnxkit",
        description="Train Keras models, export them to ONNX, and run them with onnxruntime.",
    )
    parser.add_argument("--version", action="version", version=f"onnxkit {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    subparsers.required = True
    import toolkit.cli.commands as package

    for module in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
        importlib.import_module(f"{package.__name__}.{module.name}").register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        result = args.func(args)
    except OnnxkitError as exc:
        print(f"onnxkit: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("onnxkit: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `onnxkit generate … | head`
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    return int(result or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
