"""Plugin discovery and the registry of the training side: models, datasets and CLI commands.

Built-in plugins and third-party ones are found the same way: entry points in the ``onnxkit``
group. The core's own dataset loaders and commands (:data:`CORE_MODULES`) register through the
same hooks. (Tasks and tabs are the serving side's: see :mod:`toolkit.tasks`.)
A plugin that fails to import is recorded and skipped, so one broken package cannot take the
whole tool down; two models (or datasets) with one name is an error naming both plugins.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.metadata
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import pluggy

from toolkit import hookspecs
from toolkit.errors import DatasetError, UnknownNameError
from toolkit.spec import DatasetSpec, ModelSpec

ENTRY_POINT_GROUP = hookspecs.TRAINING_GROUP
CORE_PLUGIN = "onnxkit-core"
#: onnxkit's own hook modules on the training side, registered as the plugin ``onnxkit-core``.
CORE_MODULES = (
    "toolkit.datasets.digits",
    "toolkit.datasets.faces",
    "toolkit.datasets.folder",
    "toolkit.datasets.mnist",
    "toolkit.datasets.mnist5k",
    "toolkit.datasets.pydocs",
    "toolkit.datasets.shapes",
    "toolkit.datasets.text",
    "toolkit.cli.commands",
)
#: Hooks that belong in the ``onnxkit.serving`` group; a training module implementing them is told so.
SERVING_HOOKS = ("register_tasks", "register_tabs")


@dataclass
class PluginInfo:
    """What ``onnxkit plugins`` shows for one plugin."""

    name: str
    module: str
    version: str = ""
    distribution: str = ""
    models: list[str] = field(default_factory=list)
    datasets: list[str] = field(default_factory=list)
    commands: int = 0
    error: str | None = None
    note: str | None = None


class Registry:
    """All plugins, models and datasets known to this process."""

    def __init__(self) -> None:
        self.manager = pluggy.PluginManager(hookspecs.PROJECT)
        self.manager.add_hookspecs(hookspecs)
        self.plugins: dict[str, PluginInfo] = {}
        self.models: dict[str, ModelSpec] = {}
        self.datasets: dict[str, DatasetSpec] = {}
        #: (plugin name, ``add(subparsers)``) for every command, built-ins first.
        self.commands: list[tuple[str, Callable[[argparse._SubParsersAction], None]]] = []

    # -- discovery --------------------------------------------------------------------------------
    def load_core(self) -> None:
        """Register the core's own hook modules (:data:`CORE_MODULES`: datasets and commands)."""
        info = PluginInfo(name=CORE_PLUGIN, module="toolkit", version=_version("onnxkit"))
        self.plugins[CORE_PLUGIN] = info
        for name in CORE_MODULES:
            self._register(CORE_PLUGIN, importlib.import_module(name))

    def load_entry_points(self) -> None:
        """Load every ``onnxkit`` entry point; record (don't raise) those that fail to import."""
        for entry_point in sorted(_entry_points(), key=lambda ep: ep.name):
            dist = getattr(entry_point, "dist", None)
            info = PluginInfo(
                name=entry_point.name,
                module=entry_point.value,
                version=dist.version if dist is not None else "",
                distribution=dist.metadata["Name"] if dist is not None else "",
            )
            if entry_point.name in self.plugins:
                info.error = f"another plugin is already named {entry_point.name!r}"
                self.plugins[f"{entry_point.name} ({entry_point.value})"] = info
                continue
            self.plugins[entry_point.name] = info
            try:
                module = entry_point.load()
            except Exception as exc:  # a broken plugin must not break the tool
                info.error = f"{type(exc).__name__}: {exc}"
                info.traceback = traceback.format_exc()  # type: ignore[attr-defined]
                continue
            self._register(entry_point.name, module)

    def add_plugin(self, name: str, module: ModuleType | Any, version: str = "") -> None:
        """Register an in-process plugin object (tests, notebooks)."""
        self.plugins[name] = PluginInfo(name=name, module=getattr(module, "__name__", repr(module)), version=version)
        self._register(name, module)

    def _register(self, plugin_name: str, module: Any) -> None:
        info = self.plugins[plugin_name]
        # Collect first, then commit: a plugin with a clash registers nothing.
        misplaced = [h for h in SERVING_HOOKS if hasattr(module, h)]
        if misplaced:
            info.note = (f"implements {', '.join(misplaced)} in its 'onnxkit' entry point; serving hooks "
                          f"are read from the {hookspecs.SERVING_GROUP!r} group (a module without training code)")
        # The core registers one module per dataset loader under one plugin name; pluggy needs
        # a unique name per registered object, so later modules get "name:module".
        taken = self.manager.get_plugin(plugin_name) is not None
        registered_name = f"{plugin_name}:{getattr(module, '__name__', id(module))}" if taken else plugin_name
        found, error = hookspecs.register_plugin(self.manager, module, registered_name, {
            "register_models": (ModelSpec, self.models, "model"),
            "register_datasets": (DatasetSpec, self.datasets, "dataset"),
            "register_commands": None,
        })
        if error:
            info.error = error
            return
        new_models, new_datasets, new_commands = found
        for spec in new_models:
            spec.plugin = plugin_name
            spec.plugin_version = info.version
            self.models[spec.name] = spec
            info.models.append(spec.name)
        for dspec in new_datasets:
            object.__setattr__(dspec, "plugin", plugin_name)
            self.datasets[dspec.name] = dspec
            info.datasets.append(dspec.name)
        self.commands += [(plugin_name, add) for add in new_commands]
        info.commands += len(new_commands)

    # -- lookup -----------------------------------------------------------------------------------
    def model(self, name: str) -> ModelSpec:
        return _lookup(self.models, name, "model")

    def dataset(self, name: str) -> DatasetSpec:
        return _lookup(self.datasets, name, "dataset")

    def resolve_data(self, data: str, kind: str | None) -> tuple[DatasetSpec, str | None]:
        """Resolve ``--data`` as ``NAME``, ``NAME:PATH`` or a bare ``PATH`` to (spec, source)."""
        name, sep, source = data.partition(":")
        if sep and name in self.datasets:
            spec, src = self.datasets[name], source or None
        elif data in self.datasets:
            spec, src = self.datasets[data], None
        else:
            path = Path(data)
            if not path.exists():
                known = ", ".join(sorted(self.datasets)) or "none"
                raise UnknownNameError(
                    f"--data {data!r} is neither a known dataset ({known}) nor an existing path"
                )
            candidates = [
                s for s in self.datasets.values()
                if s.accepts is not None and (kind is None or s.kind == kind) and s.accepts(path)
            ]
            if not candidates:
                raise DatasetError(f"no dataset loader recognises {data!r}; use NAME:PATH to choose one")
            spec, src = candidates[0], data
        if kind is not None and spec.kind != kind:
            raise DatasetError(f"dataset {spec.name!r} holds {spec.kind}, but this model trains on {kind}")
        return spec, src


def _lookup(table: dict[str, Any], name: str, what: str) -> Any:
    if name in table:
        return table[name]
    raise UnknownNameError(f"unknown {what} {name!r}; known {what}s: {', '.join(sorted(table)) or 'none'}")


def _entry_points() -> list[importlib.metadata.EntryPoint]:
    return list(importlib.metadata.entry_points(group=ENTRY_POINT_GROUP))


def _version(distribution: str) -> str:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return ""


_default: Registry | None = None


def get_registry(*, refresh: bool = False) -> Registry:
    """The process-wide registry: core datasets plus every installed plugin, loaded once."""
    global _default
    if _default is None or refresh:
        registry = Registry()
        registry.load_core()
        registry.load_entry_points()
        _default = registry
    return _default
