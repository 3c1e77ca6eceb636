"""Generate tab: samples from a shipped image generator, an interpolation strip, a latent grid.

Conditional generators get a class picker (single label) or attribute checkboxes (multi-label).
The request functions (``sample_images`` …) are plain Python so tests call them directly.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import Any

import gradio as gr
from PIL import Image

from apps.limits import DEFAULT, Limits
from apps.models import ModelStore
from apps.ui import exports_or_note, guarded, one_tab_app, serve_demo, show

TASKS = ("image-generator", "conditional-generator")
#: Class-picker choice that spreads the samples over all classes in turn.
EVERY_CLASS = "every class in turn"


def _labels(pipeline: Any, n: int, label: str | None, attributes: Sequence[str] | None) -> Any:
    """The ``labels`` argument for ``n`` images from the pickers (the pipeline's one label encoder)."""
    if pipeline.multi_label:
        return pipeline.choose_labels(n, [list(attributes or [])])
    return pipeline.choose_labels(n, None if label in (None, "", EVERY_CLASS) else [label])


def sample_images(store: ModelStore, model: str, n: float, seed: float | None, label: str | None = None,
                  attributes: Sequence[str] | None = None, *, limits: Limits = DEFAULT) -> Image.Image:
    """``n`` samples as one tiled picture, reproducible for a given seed."""
    pipeline = store.get(model, TASKS)
    n, seed = limits.samples(n), limits.seed(seed)
    images = pipeline.sample(n, seed=seed, labels=_labels(pipeline, n, label, attributes))
    cycling = pipeline.conditional and not pipeline.multi_label and label in (None, "", EVERY_CLASS)
    columns = len(pipeline.label_names) if cycling and len(pipeline.label_names) <= 12 else 8
    return show(images, columns=min(n, columns), min_width=512)


def interpolation_strip(store: ModelStore, model: str, seed_a: float | None, seed_b: float | None, steps: float,
                        method: str = "spherical", label: str | None = None,
                        attributes: Sequence[str] | None = None, *, limits: Limits = DEFAULT) -> Image.Image:
    """A strip of ``steps`` images walking from the latent vector of ``seed_a`` to that of ``seed_b``."""
    pipeline = store.get(model, TASKS)
    steps = limits.steps(steps)
    z0 = pipeline.random_z(1, limits.seed(seed_a))[0]
    z1 = pipeline.random_z(1, limits.seed(seed_b))[0]
    labels = _labels(pipeline, steps, label if label != EVERY_CLASS else None, attributes)
    if labels is not None and not pipeline.multi_label:
        labels = [labels[0]] * steps  # one class along the whole walk: only the style changes
    images = pipeline.interpolate(z0, z1, steps, method=method, labels=labels)
    return show(images, columns=steps, min_width=640)


def latent_grid(store: ModelStore, model: str, seed: float | None, rows: float, columns: float,
                label: str | None = None, attributes: Sequence[str] | None = None,
                *, limits: Limits = DEFAULT) -> Image.Image:
    """A rows x columns grid spanning four random corner vectors (bilinear in between)."""
    pipeline = store.get(model, TASKS)
    rows, columns = limits.grid_side("rows", rows), limits.grid_side("columns", columns)
    corners = pipeline.random_z(4, limits.seed(seed))
    labels = _labels(pipeline, rows * columns, label if label != EVERY_CLASS else None, attributes)
    if labels is not None and not pipeline.multi_label:
        labels = [labels[0]] * (rows * columns)
    images = pipeline.grid(corners, rows, columns, labels=labels)
    return show(images, columns=columns)


def _pickers(store: ModelStore, model: str | None) -> tuple[dict, dict, str]:
    """Updates for the class dropdown and attribute checkboxes, and a one-line model note."""
    pipeline = store.pipelines.get(model or "")
    if pipeline is None or not pipeline.conditional:
        note = "" if pipeline is None else f"{pipeline.name}: unconditional, latent size {pipeline.latent_dim}"
        return gr.update(visible=False), gr.update(visible=False, value=[]), note
    names = list(pipeline.label_names)
    note = f"{pipeline.name}: conditional on {len(names)} {'attributes' if pipeline.multi_label else 'classes'}, latent size {pipeline.latent_dim}"
    if pipeline.multi_label:
        return gr.update(visible=False), gr.update(visible=True, choices=names, value=[]), note
    return gr.update(visible=True, choices=[EVERY_CLASS, *names], value=EVERY_CLASS), gr.update(visible=False, value=[]), note


def render(store: ModelStore, limits: Limits = DEFAULT) -> None:
    """Add the Generate controls to the current Blocks context."""
    names = exports_or_note(store, "Generate", TASKS)
    if names is None:
        return
    # Open on a class-conditional generator when one is shipped (cgan-mnist: the best Fréchet figure
    # of the digit generators, and the one whose Class picker shows what conditioning does).
    first = next((n for n in names if store.pipelines[n].conditional), names[0])
    pipeline = store.pipelines[first]
    single = pipeline.conditional and not pipeline.multi_label
    multi = pipeline.conditional and pipeline.multi_label
    with gr.Row():
        model = gr.Dropdown(names, value=first, label="Generator", elem_id="generate-model")
        label = gr.Dropdown([EVERY_CLASS, *(pipeline.label_names if single else [])], value=EVERY_CLASS,
                            label="Class", visible=single, elem_id="generate-class")
        attributes = gr.CheckboxGroup(list(pipeline.label_names) if multi else [], label="Attributes",
                                      visible=multi, elem_id="generate-attributes")
    info = gr.Markdown(_pickers(store, first)[2])
    model.change(lambda m: _pickers(store, m), model, [label, attributes, info], api_visibility="private")

    with gr.Row():
        n = gr.Slider(1, limits.max_samples, value=16, step=1, label="Samples", elem_id="generate-n")
        seed = gr.Number(0, precision=0, minimum=0, label="Seed", elem_id="generate-seed")
    button = gr.Button("Generate", variant="primary", elem_id="generate-button")
    output = gr.Image(label="Samples", type="pil", format="png", elem_id="generate-output")
    button.click(guarded(partial(sample_images, store, limits=limits)),
                 [model, n, seed, label, attributes], output, api_name="generate")

    with gr.Accordion("Interpolation strip", open=True):
        with gr.Row():
            seed_a = gr.Number(1, precision=0, minimum=0, label="From seed")
            seed_b = gr.Number(2, precision=0, minimum=0, label="To seed")
            steps = gr.Slider(2, limits.max_steps, value=8, step=1, label="Steps")
            method = gr.Radio(["spherical", "linear"], value="spherical", label="Path")
        strip_button = gr.Button("Interpolate")
        strip = gr.Image(label="Interpolation", type="pil", format="png", elem_id="generate-strip")
        strip_button.click(guarded(partial(interpolation_strip, store, limits=limits)),
                           [model, seed_a, seed_b, steps, method, label, attributes], strip, api_name="interpolate")

    with gr.Accordion("Latent grid", open=False):
        with gr.Row():
            grid_seed = gr.Number(3, precision=0, minimum=0, label="Corner seed")
            rows = gr.Slider(2, limits.max_grid_side, value=6, step=1, label="Rows")
            columns = gr.Slider(2, limits.max_grid_side, value=6, step=1, label="Columns")
        grid = gr.Image(label="Grid between four random corners", type="pil", format="png")
        grid_inputs = [model, grid_seed, rows, columns, label, attributes]
        grid_fn = guarded(partial(latent_grid, store, limits=limits))
        grid_button = gr.Button("Draw grid")
        grid_button.click(grid_fn, grid_inputs, grid, api_name="generator_grid")
        # Sliders redraw the grid when released: the grid follows the hand without flooding the queue.
        rows.release(grid_fn, grid_inputs, grid, api_visibility="private")
        columns.release(grid_fn, grid_inputs, grid, api_visibility="private")


build = one_tab_app("Generate", "## Generate images\nSamples from the shipped generators, served by onnxruntime.", render)

if __name__ == "__main__":
    raise SystemExit(serve_demo(build, "onnxkit Generate demo"))
