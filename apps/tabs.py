"""Demo tabs as declared extensions: :class:`TabSpec`, the built-in tabs, and :func:`get_tabs`.

Every tab of the combined demo, built-in or a plugin's, comes through the ``register_tabs`` hook:
onnxkit's own are registered below, a plugin's by a module in its ``onnxkit.serving`` entry point.
A tab declares the tasks whose exports it shows and its availability rule (by default: an export
of any of its tasks is loaded), so :mod:`apps.app` needs no edit for a new tab.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from toolkit.hookspecs import check_registered, hookimpl
from toolkit.tasks import get_tasks, resolve


@dataclass(frozen=True)
class TabSpec:
    """One tab: its title, a unique ``name`` (the Gradio tab id), the tasks it needs, and
    ``render(store, limits)`` (a callable or an import path ``"package.module:render"``, imported
    when the demo is built so registering a tab costs no Gradio import).

    ``needs_all``: the tab needs an export of *every* one of ``tasks`` (face match needs a detector
    and an embedder), not of any one of them.
    """

    title: str
    name: str
    tasks: tuple[str, ...]
    render: str | Callable[..., None]
    needs_all: bool = False
    plugin: str = ""

    def available(self, store: Any) -> bool:
        """Whether ``store`` holds what this tab needs."""
        found = [bool(store.by_task(task)) for task in self.tasks]
        return all(found) if self.needs_all else any(found)

    def renderer(self) -> Callable[..., None]:
        return resolve(self.render, f"tab {self.name!r}: its render function")


#: The built-in tabs, in the order the combined demo shows them.
BUILTIN_TABS = (
    TabSpec("Generate", "generate", ("image-generator", "conditional-generator"), "apps.generate:render"),
    TabSpec("Latent space", "latent", ("autoencoder", "vae"), "apps.latent:render"),
    TabSpec("Classify", "classify", ("classifier",), "apps.classify:render"),
    TabSpec("Write", "write", ("text-generator",), "apps.write:render"),
    TabSpec("Face match", "faces", ("face-detector", "face-embedder"), "apps.faces:render", needs_all=True),
)


@hookimpl
def register_tabs(register: Callable[[TabSpec], None]) -> None:
    for tab in BUILTIN_TABS:
        register(tab)


def get_tabs() -> list[TabSpec]:
    """Every registered tab, built-ins first; a tab name used twice is an error naming both plugins."""
    registry = get_tasks()
    registry.add_core(__name__)
    tabs: dict[str, TabSpec] = {}
    for plugin, tab in registry.collect("register_tabs"):
        check_registered(plugin, [tab], TabSpec, tabs, "tab")
        object.__setattr__(tab, "plugin", plugin)
        tabs[tab.name] = tab
    return list(tabs.values())
