"""The combined tabbed demo: every registered tab in one page (``python -m apps``, ``make demo``).

Tabs come from :func:`apps.tabs.get_tabs` (built-ins and plugins alike), so a plugin's tab shows
up here without an edit.
"""

from __future__ import annotations

import gradio as gr

from apps.limits import DEFAULT, Limits
from apps.models import ModelStore
from apps.tabs import get_tabs

INTRO = """# onnxkit demo
Small Keras models trained on open data, exported to ONNX and served here by **onnxruntime** alone
(no TensorFlow in this process). Models: {models}."""


def build(store: ModelStore, limits: Limits = DEFAULT, *, hide_unavailable: bool = False,
          title: str = "onnxkit demo") -> gr.Blocks:
    """All tabs; with ``hide_unavailable`` (Spaces) tabs whose models are absent are left out,
    otherwise they stay and say what is missing."""
    models = ", ".join(f"`{n}`" for n in sorted(store.pipelines)) or "none found"
    with gr.Blocks(title=title) as demo:
        gr.Markdown(INTRO.format(models=models))
        with gr.Tabs():
            for tab in get_tabs():
                if hide_unavailable and not tab.available(store):
                    continue
                with gr.Tab(tab.title, id=tab.name):
                    tab.renderer()(store, limits)
    return demo
