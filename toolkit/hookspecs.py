"""The pluggy hook specifications every onnxkit plugin implements (some of).

A plugin is a module with functions decorated by :data:`hookimpl`, announced through an entry
point in the ``onnxkit`` group::

    [project.entry-points.onnxkit]
    my_model = "my_package.plugin"
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from toolkit.spec import DatasetSpec, ModelSpec

PROJECT = "onnxkit"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def register_models(register: Callable[[ModelSpec], None]) -> None:
    """Call ``register(spec)`` once for each :class:`~toolkit.spec.ModelSpec` this plugin provides."""


@hookspec
def register_datasets(register: Callable[[DatasetSpec], None]) -> None:
    """Call ``register(spec)`` once for each named :class:`~toolkit.spec.DatasetSpec` this plugin provides."""
