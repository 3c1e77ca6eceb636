"""``onnxkit plugins``, ``onnxkit models`` and ``onnxkit datasets``: what is installed."""

from __future__ import annotations

import argparse

from toolkit.config import describe_config
from toolkit.hookspecs import SERVING_GROUP
from toolkit.registry import get_registry
from toolkit.tasks import get_tasks


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("plugins", help="list plugins: name, version, models, load errors")
    p.add_argument("--traceback", action="store_true", help="show the full traceback of plugins that failed")
    p.set_defaults(func=list_plugins)
    p = subparsers.add_parser("models", help="list models with their task and description")
    p.add_argument("name", nargs="?", help="show one model's config keys and defaults")
    p.set_defaults(func=list_models)
    p = subparsers.add_parser("datasets", help="list named datasets")
    p.set_defaults(func=list_datasets)


def list_plugins(args: argparse.Namespace) -> int:
    registry = get_registry()
    for info in registry.plugins.values():
        version = f" {info.version}" if info.version else ""
        print(f"{info.name}{version}  ({info.module})")
        if info.models:
            print(f"  models:   {', '.join(info.models)}")
        if info.datasets:
            print(f"  datasets: {', '.join(info.datasets)}")
        if info.commands:
            print(f"  commands: {info.commands}")
        if info.note:
            print(f"  note: {info.note}")
        if info.error:
            print(f"  FAILED TO LOAD, skipped: {info.error}")
            if args.traceback and getattr(info, "traceback", None):
                print("    " + info.traceback.replace("\n", "\n    "))  # type: ignore[attr-defined]
    serving = get_tasks()
    print(f"serving side ({SERVING_GROUP!r} entry points and built-ins):")
    for name, plugin in serving.plugins.items():
        tasks = [t.name for t in serving.tasks.values() if t.plugin == name]
        print(f"  {name}  ({plugin.module})" + (f"  tasks: {', '.join(tasks)}" if tasks else ""))
        if plugin.error:
            print(f"    FAILED TO LOAD, skipped: {plugin.error}")
            if args.traceback and plugin.traceback:
                print("      " + plugin.traceback.replace("\n", "\n      "))
    return 0


def list_models(args: argparse.Namespace) -> int:
    registry = get_registry()
    if args.name:
        spec = registry.model(args.name)
        print(f"{spec.name} ({spec.task}, plugin {spec.plugin}): {spec.description}")
        if spec.default_data:
            print(f"default data: {spec.default_data}")
        print("config (--set key=value):")
        for key, default, help_text in describe_config(spec.config_class):
            print(f"  {key} = {default}" + (f"  — {help_text}" if help_text else ""))
        return 0
    if not registry.models:
        print("no models installed")
    width = max((len(n) for n in registry.models), default=0)
    task_width = max((len(s.task) for s in registry.models.values()), default=0)
    for name in sorted(registry.models):
        spec = registry.models[name]
        print(f"{name:<{width}}  {spec.task:<{task_width}}  {spec.description}")
    return 0


def list_datasets(args: argparse.Namespace) -> int:
    registry = get_registry()
    width = max((len(n) for n in registry.datasets), default=0)
    for name in sorted(registry.datasets):
        spec = registry.datasets[name]
        print(f"{name:<{width}}  {spec.kind:<6}  {spec.description}")
    return 0
