"""Classify tab: draw (or upload) a digit, see the classifier's top-3 classes with probabilities."""

from __future__ import annotations

from functools import partial
from typing import Any

import gradio as gr
from PIL import Image

from apps.limits import DEFAULT, Limits
from apps.models import ModelStore
from apps.ui import as_batch, digit_image, exports_or_note, guarded, one_tab_app, serve_demo, show, sketchpad, upload_image

TASKS = ("classifier",)
TOP = 3


def classify(store: ModelStore, model: str, sketch: Any, upload: Any = None,
             *, limits: Limits = DEFAULT) -> tuple[dict[str, float], Image.Image]:
    """({class name: probability} for the top 3, highest first; what the model saw)."""
    pipeline = store.get(model, TASKS)
    batch = as_batch(pipeline.prepare(digit_image(sketch, upload, limits)))
    ids, probabilities = pipeline.predict(batch, k=TOP)
    names = pipeline.label_names
    top = {str(names[int(i)]): float(p) for i, p in zip(ids[0], probabilities[0])}
    return top, show(batch, min_width=140)


def render(store: ModelStore, limits: Limits = DEFAULT) -> None:
    names = exports_or_note(store, "Classify", TASKS)
    if names is None:
        return
    model = gr.Dropdown(names, value=names[0], label="Classifier", elem_id="classify-model")
    with gr.Row():
        with gr.Column():
            sketch = sketchpad("Draw a digit", "classify-sketch")
            upload = upload_image("…or upload one")
        with gr.Column():
            result = gr.Label(num_top_classes=TOP, label="Top 3", elem_id="classify-output")
            seen = gr.Image(label="What the model sees", type="pil", format="png", height=200)
    button = gr.Button("Classify", variant="primary", elem_id="classify-button")
    button.click(guarded(partial(classify, store, limits=limits)), [model, sketch, upload],
                 [result, seen], api_name="classify", preprocess=False)


build = one_tab_app("Classify", "## Classify a digit\nDraw a digit with the mouse; the classifier gives its three best guesses.", render)

if __name__ == "__main__":
    raise SystemExit(serve_demo(build, "onnxkit Classify demo"))
