"""Import Gradio without its type-stub writer: half of Gradio's import time, of no use to a server.

Gradio (6.x) regenerates ``.pyi`` type stubs for every component class as the class is defined:
``gradio.component_meta.create_or_modify_pyi`` reads the component's source file, parses the whole
module with ``ast``, renders a Jinja template and compares (or writes) the stub beside it. For
Gradio's own ~80 components that is ~1 s of CPU on this 2-core machine, half of ``import gradio``
(2.0 s -> 1.05 s CPU measured), and it sits on the demo's cold-start path. The stubs serve IDEs of
people writing custom components; a server never reads them, and on a read-only Space it cannot
write them anyway.

:func:`install` puts an import hook in place that swaps the writer for a no-op right after
``gradio.component_meta`` is executed, before any component class exists. If Gradio is already
imported, or a future Gradio lacks the function, nothing changes.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
from types import ModuleType

TARGET = "gradio.component_meta"


def _no_stub(*args: object, **kwargs: object) -> None:
    """Gradio's stub writer, skipped (see the module docstring)."""


class _SkipStubs(importlib.abc.MetaPathFinder):
    def find_spec(self, name: str, path, target: ModuleType | None = None):  # noqa: ANN001 - importlib's protocol
        if name != TARGET:
            return None
        sys.meta_path.remove(self)  # one module, once
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        execute = spec.loader.exec_module

        def exec_module(module: ModuleType) -> None:
            execute(module)
            if hasattr(module, "create_or_modify_pyi"):
                module.create_or_modify_pyi = _no_stub

        spec.loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec


def install() -> bool:
    """Skip Gradio's stub writing in this process; False if Gradio was imported already."""
    if TARGET in sys.modules or "gradio" in sys.modules:
        return False
    if not any(isinstance(finder, _SkipStubs) for finder in sys.meta_path):
        sys.meta_path.insert(0, _SkipStubs())
    return True
