"""Tasks as declared contracts, and the serving side's plugin registry (tasks and app tabs).

A :class:`TaskSpec` says once what an export of a task must hold: the ONNX files, the tensors each
file must take and give, the ``info`` keys its manifest must carry, and the pipeline class that
serves it. The export stage checks a model's exports against it before converting anything, the
manifest parser checks every manifest against it, and :func:`toolkit.runtime.load` builds the
pipeline it names. Built-in tasks register through the same ``register_tasks`` hook as anyone's.

The serving side is found apart from the training side, because it must work where only numpy
and onnxruntime are installed (a Hugging Face Space, where nothing is pip-installed and no entry
point exists) and must never import a plugin's training code:

* built-in tasks: the hook implementations in :mod:`toolkit.runtime.tasks`, registered directly;
* third-party tasks and tabs: modules announced in the ``onnxkit.serving`` entry-point group,
  which may import numpy, onnxruntime and Pillow only (Gradio inside a tab's ``render``).

This module imports neither TensorFlow nor any pipeline: pipelines are named by import path and
imported when an export of their task is opened.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import traceback
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import pluggy

from toolkit import hookspecs
from toolkit.errors import PluginError

#: The module holding the built-in tasks' ``register_tasks`` (found without any entry point).
CORE_TASKS_MODULE = "toolkit.runtime.tasks"
CORE_PLUGIN = "onnxkit-core"


@dataclass(frozen=True)
class FileContract:
    """One ONNX file a task needs and the tensor names it must have (others may be there too)."""

    inputs: tuple[str, ...] = ()
    outputs: tuple[str, ...] = ()


@dataclass(frozen=True)
class TaskSpec:
    """What an export of task ``name`` must hold, and which pipeline serves it.

    ``files`` maps a file name to the tensors it must have; ``info`` lists the manifest ``info``
    keys the pipeline reads; ``pipeline`` is the pipeline class or its import path
    ``"package.module:Class"`` (a path keeps registering a task free of imports).
    """

    name: str
    pipeline: str | type
    files: Mapping[str, FileContract] = field(default_factory=dict)
    info: tuple[str, ...] = ()
    description: str = ""
    plugin: str = ""

    def problems(self, files: Mapping[str, tuple[Iterable[str], Iterable[str]]], info: Mapping[str, Any]) -> list[str]:
        """What ``files`` (name -> (input names, output names)) and ``info`` lack; empty when complete."""
        found: list[str] = []
        for name, contract in self.files.items():
            if name not in files:
                found.append(f"file {name!r}")
                continue
            inputs, outputs = (set(names) for names in files[name])
            found += [f"input {t!r} of file {name!r}" for t in contract.inputs if t not in inputs]
            found += [f"output {t!r} of file {name!r}" for t in contract.outputs if t not in outputs]
        found += [f"info key {key!r}" for key in self.info if key not in info]
        return found

    def require(self, files: Mapping[str, tuple[Iterable[str], Iterable[str]]], info: Mapping[str, Any],
                where: str, error: type[Exception]) -> None:
        """Raise ``error`` naming everything the task needs that ``files``/``info`` lack."""
        missing = self.problems(files, info)
        if missing:
            raise error(f"{where}: task {self.name!r} needs {', '.join(missing)}, which it lacks")

    def pipeline_class(self) -> type:
        """The pipeline class, imported on first use."""
        return resolve(self.pipeline, f"task {self.name!r}: its pipeline")


def resolve(target: Any, what: str) -> Any:
    """``target`` itself, or the object an import path ``"package.module:attribute"`` names.

    Serving plugins name their pipelines and tab renderers by path so that registering them
    imports nothing (no Gradio for ``runtime.load``, no pipeline module for a task never opened).
    """
    if not isinstance(target, str):
        return target
    module_name, _, attribute = target.partition(":")
    try:
        return getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError, ValueError) as exc:
        raise PluginError(f"{what}: cannot import {target!r} ({type(exc).__name__}: {exc})") from None


@dataclass
class ServingPlugin:
    """One serving-side plugin as ``onnxkit plugins`` reports it."""

    name: str
    module: str
    error: str | None = None
    traceback: str = ""


class ServingRegistry:
    """Tasks and tabs: built-ins plus every ``onnxkit.serving`` entry point, loaded once.

    A plugin that fails to import, or whose hooks raise, is recorded in ``plugins`` and skipped: one
    broken package must not take a demo down. Two plugins registering one task name is an error.
    """

    def __init__(self) -> None:
        self.manager = pluggy.PluginManager(hookspecs.PROJECT)
        self.manager.add_hookspecs(hookspecs)
        self.plugins: dict[str, ServingPlugin] = {}
        self.tasks: dict[str, TaskSpec] = {}
        self._loaded_core: set[str] = set()

    def add_core(self, module_name: str) -> None:
        """Register one of onnxkit's own hook modules (idempotent)."""
        if module_name in self._loaded_core:
            return
        self._loaded_core.add(module_name)
        self.add(f"{CORE_PLUGIN}:{module_name}", importlib.import_module(module_name))

    def load_entry_points(self) -> None:
        for entry_point in sorted(importlib.metadata.entry_points(group=hookspecs.SERVING_GROUP), key=lambda e: e.name):
            if entry_point.name in self.plugins:
                continue
            try:
                module = entry_point.load()
            except Exception as exc:  # a broken plugin must not break the demo
                self.plugins[entry_point.name] = ServingPlugin(entry_point.name, entry_point.value,
                                                               f"{type(exc).__name__}: {exc}", traceback.format_exc())
                continue
            self.add(entry_point.name, module)

    def add(self, name: str, module: ModuleType | Any) -> None:
        """Register a serving plugin object (also for tests and notebooks) and collect its tasks."""
        info = ServingPlugin(name, getattr(module, "__name__", repr(module)))
        self.plugins[name] = info
        found, info.error = hookspecs.register_plugin(self.manager, module, name,
                                                      {"register_tasks": (TaskSpec, self.tasks, "task")})
        new = found[0] if found else []
        for spec in new:
            object.__setattr__(spec, "plugin", name)
            self.tasks[spec.name] = spec

    def collect(self, hook: str) -> list[tuple[str, Any]]:
        """``(plugin name, item)`` for everything each plugin passes to ``register`` in ``hook``
        (e.g. ``register_tabs``): built-ins first, then plugins by name. A plugin whose hook
        raises is recorded in ``plugins`` and contributes nothing."""
        found: list[tuple[str, Any]] = []
        named = sorted(self.manager.list_name_plugin(), key=lambda p: (not p[0].startswith(CORE_PLUGIN), p[0]))
        for name, plugin in named:
            if not hasattr(plugin, hook):
                continue
            try:
                [items] = hookspecs.own_registrations(self.manager, plugin, hook)
            except Exception as exc:
                self.plugins[name].error = f"{type(exc).__name__} in {hook}: {exc}"
                continue
            found += [(name, item) for item in items]
        return found

    def task(self, name: str) -> TaskSpec | None:
        return self.tasks.get(name)


_default: ServingRegistry | None = None


def get_tasks(*, refresh: bool = False) -> ServingRegistry:
    """The process-wide serving registry (built-in tasks, then ``onnxkit.serving`` entry points)."""
    global _default
    if _default is None or refresh:
        registry = ServingRegistry()
        registry.add_core(CORE_TASKS_MODULE)
        registry.load_entry_points()
        _default = registry
    return _default
