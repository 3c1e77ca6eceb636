"""onnxkit's own commands, registered through the ``register_commands`` hook like a plugin's.

Each module here has ``register(subparsers)``, which adds its sub-parsers and sets ``func`` on
them; handlers import heavy libraries (TensorFlow) inside themselves, so listing commands and
``onnxkit info`` stay fast. A new built-in command is a module here plus one line in
:data:`BUILTIN`; a plugin's command is a ``register_commands`` hook in its own package.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from toolkit.cli.commands import (
    digits_cmds,
    faces,
    generate,
    info,
    new_plugin,
    registry_cmds,
    sample,
    serve,
    space,
    train_export,
)
from toolkit.hookspecs import hookimpl

BUILTIN = (train_export, info, registry_cmds, sample, generate, digits_cmds, faces, serve, space, new_plugin)


@hookimpl
def register_commands(register: Callable[[Callable[[Any], None]], None]) -> None:
    for module in BUILTIN:
        register(module.register)
