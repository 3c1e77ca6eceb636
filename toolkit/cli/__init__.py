"""The ``onnxkit`` command line.

Every command, built-in or a plugin's, comes through the ``register_commands`` hook (see
:mod:`toolkit.cli.commands`), so new commands need no edit here. Handlers import heavy libraries
(TensorFlow) inside themselves, so ``onnxkit info`` or ``onnxkit sample`` start fast.
"""

from __future__ import annotations

import argparse
import os
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
    from toolkit.registry import get_registry

    registry = get_registry()
    for plugin, add in registry.commands:
        try:
            add(subparsers)
        except (argparse.ArgumentError, ValueError) as exc:  # e.g. a command name already taken
            print(f"onnxkit: warning: plugin {plugin!r} could not add its command ({exc}); skipped",
                  file=sys.stderr)
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
