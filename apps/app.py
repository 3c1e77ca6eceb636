"""The combined tabbed demo: every capability in one page (``python -m apps``, ``make demo``)."""

from __future__ import annotations

import gradio as gr

from apps import classify, faces, generate, latent, write
from apps.limits import DEFAULT, Limits
from apps.models import ModelStore

#: (tab title, module, the tasks whose exports the tab needs)
TABS = (
    ("Generate", generate, generate.TASKS),
    ("Latent space", latent, latent.TASKS),
    ("Classify", classify, classify.TASKS),
    ("Write", write, write.TASKS),
    ("Face match", faces, faces.TASKS),
)

INTRO = """# onnxkit demo
Small Keras models trained on open data, exported to ONNX and served here by **onnxruntime** alone
(no TensorFlow in this process). Models: {models}."""


def available(store: ModelStore, module: object) -> bool:
    if module is faces:
        return store.first("face-detector") is not None and store.first("face-embedder") is not None
    return bool(store.by_task(*module.TASKS))


def build(store: ModelStore, limits: Limits = DEFAULT, *, hide_unavailable: bool = False,
          title: str = "onnxkit demo") -> gr.Blocks:
    """All tabs; with ``hide_unavailable`` (Spaces) tabs whose models are absent are left out,
    otherwise they stay and say what is missing."""
    models = ", ".join(f"`{n}`" for n in sorted(store.pipelines)) or "none found"
    with gr.Blocks(title=title) as demo:
        gr.Markdown(INTRO.format(models=models))
        with gr.Tabs():
            for label, module, _ in TABS:
                if hide_unavailable and not available(store, module):
                    continue
                with gr.Tab(label, id=module.__name__.rsplit(".", 1)[-1]):
                    module.render(store, limits)
    return demo
