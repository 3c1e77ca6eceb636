"""The pluggy hook specifications every onnxkit plugin implements (some of).

Every extension (a model, a dataset, a task with its pipeline, a CLI command, a demo tab) is one
hook; onnxkit's own built-ins register through the same hooks. A plugin package announces its
modules through entry points in two groups, split by what they may import::

    [project.entry-points.onnxkit]             # training side: models, datasets, commands
    my_model = "my_package.plugin"
    [project.entry-points."onnxkit.serving"]   # serving side: tasks, tabs (numpy/onnxruntime only)
    my_model = "my_package.serving"

The serving group is what ``toolkit.runtime.load`` and the Gradio apps load: it must never import
TensorFlow, Keras or the plugin's training code, so a Space with only the serving side installed
can open the plugin's exports.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

import pluggy

from toolkit.errors import PluginError

if TYPE_CHECKING:
    from toolkit.spec import DatasetSpec, ModelSpec
    from toolkit.tasks import TaskSpec

PROJECT = "onnxkit"
#: Entry-point group of the training side (models, datasets, commands).
TRAINING_GROUP = PROJECT
#: Entry-point group of the serving side (tasks, tabs).
SERVING_GROUP = "onnxkit.serving"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


def register_plugin(manager: pluggy.PluginManager, plugin: Any, name: str,
                    hooks: Mapping[str, Any]) -> tuple[list[list[Any]], str | None]:
    """Register ``plugin`` under ``name`` and collect what its own ``hooks`` register.

    Returns ``(items per hook, None)``, or ``([], why)`` when its hooks raised (the plugin is then
    unregistered, so one broken plugin cannot break the tool). A wrong item or a taken name (see
    :func:`check_registered`; ``hooks`` maps each hook to ``(item class, names taken so far, what an
    item is called in errors)``, or to None for unnamed items such as commands) unregisters it and raises.
    """
    manager.register(plugin, name=name)
    try:
        found = own_registrations(manager, plugin, *hooks)
    except Exception as exc:
        manager.unregister(plugin)
        return [], f"{type(exc).__name__} in its hooks: {exc}"
    try:
        for check, items in zip(hooks.values(), found):
            if check is not None:
                check_registered(name.split(":")[0], items, *check)
    except PluginError:
        manager.unregister(plugin)
        raise
    return found, None


def own_registrations(manager: pluggy.PluginManager, plugin: Any, *hooks: str) -> list[list[Any]]:
    """Call ``plugin``'s own implementation of each hook (no other plugin's) and return, per hook,
    what it passed to ``register``."""
    others = [p for p in manager.get_plugins() if p is not plugin]
    found: list[list[Any]] = [[] for _ in hooks]
    for hook, items in zip(hooks, found):
        manager.subset_hook_caller(hook, remove_plugins=others)(register=items.append)
    return found


def check_registered(plugin: str, items: Iterable[Any], kind: type, taken: Mapping[str, Any], what: str) -> None:
    """Refuse what ``plugin`` registered when an item is not a ``kind`` or its ``name`` is taken
    (by another plugin: ``taken`` maps names to items carrying ``.plugin``). One check for every hook."""
    for item in items:
        if not isinstance(item, kind):
            raise PluginError(f"plugin {plugin!r} registered {item!r}, which is not a {kind.__name__}")
        if item.name in taken:
            raise PluginError(f"{what} name {item.name!r} is registered by two plugins: "
                              f"{taken[item.name].plugin!r} and {plugin!r}")


@hookspec
def register_models(register: Callable[[ModelSpec], None]) -> None:
    """Call ``register(spec)`` once for each :class:`~toolkit.spec.ModelSpec` this plugin provides."""


@hookspec
def register_datasets(register: Callable[[DatasetSpec], None]) -> None:
    """Call ``register(spec)`` once for each named :class:`~toolkit.spec.DatasetSpec` this plugin provides."""


@hookspec
def register_tasks(register: Callable[[TaskSpec], None]) -> None:
    """Call ``register(spec)`` once for each :class:`~toolkit.tasks.TaskSpec` (serving group only)."""


@hookspec
def register_commands(register: Callable[[Callable[[Any], None]], None]) -> None:
    """Call ``register(add)`` once per command: ``add(subparsers)`` adds the command's argparse
    sub-parser(s) and sets ``func`` on them. Import heavy libraries inside the handler, not here."""


@hookspec
def register_tabs(register: Callable[[Any], None]) -> None:
    """Call ``register(tab)`` once for each :class:`apps.tabs.TabSpec` (serving group only)."""
