"""Latent space tab: reconstruct a drawn or uploaded digit through an autoencoder/VAE, walk between
two digits in latent space, and decode a 2-D grid over two latent dimensions."""

from __future__ import annotations

from functools import partial
from typing import Any

import gradio as gr
from PIL import Image

from apps.limits import DEFAULT, LimitError, Limits
from apps.models import ModelStore
from apps.ui import as_batch, digit_image, exports_or_note, guarded, one_tab_app, serve_demo, show, sketchpad, upload_image

TASKS = ("autoencoder", "vae")
METHODS = ("spherical", "linear", "distributions (VAE)")


def reconstruct(store: ModelStore, model: str, sketch: Any, upload: Any = None,
                *, limits: Limits = DEFAULT) -> tuple[Image.Image, Image.Image]:
    """(what the model sees, its reconstruction), both enlarged for display."""
    pipeline = store.get(model, TASKS)
    batch = as_batch(pipeline.prepare(digit_image(sketch, upload, limits)))
    return show(batch, min_width=168), show(pipeline.reconstruct(batch), min_width=168)


def walk(store: ModelStore, model: str, sketch_a: Any, upload_a: Any, sketch_b: Any, upload_b: Any,
         steps: float, method: str = "spherical", seed: float | None = 0,
         *, limits: Limits = DEFAULT) -> Image.Image:
    """A strip of decoded points on the path between the codes of digit A and digit B."""
    pipeline = store.get(model, TASKS)
    steps = limits.steps(steps)
    a = as_batch(pipeline.prepare(digit_image(sketch_a, upload_a, limits, "first digit")))
    b = as_batch(pipeline.prepare(digit_image(sketch_b, upload_b, limits, "second digit")))
    if method.startswith("distributions"):
        if not pipeline.is_vae:
            raise LimitError(f"{pipeline.name} is a plain autoencoder: 'distributions' needs a VAE")
        images = pipeline.interpolate_distributions(a, b, steps, seed=limits.seed(seed))
    else:
        images = pipeline.interpolate(a, b, steps, method=method)
    return show(images, columns=steps, min_width=640)


def grid(store: ModelStore, model: str, rows: float, columns: float, span: float, dim_x: float, dim_y: float,
         *, limits: Limits = DEFAULT) -> Image.Image:
    """Decode a rows x columns grid over two latent dimensions (ranked by use: 0 is the most used),
    ``span`` standard deviations each side of the centre of the codes."""
    pipeline = store.get(model, TASKS)
    rows, columns = limits.grid_side("rows", rows), limits.grid_side("columns", columns)
    top = pipeline.latent_dim - 1
    dims = (limits.check_count("x dimension", dim_x, 0, top), limits.check_count("y dimension", dim_y, 0, top))
    if dims[0] == dims[1]:
        raise LimitError("choose two different latent dimensions")
    if span is None or not 0 < float(span) <= 5:
        raise LimitError(f"span must be in (0, 5], got {span}")
    return show(pipeline.latent_grid(rows, columns, span=float(span), dims=dims), columns=columns)


def render(store: ModelStore, limits: Limits = DEFAULT) -> None:
    names = exports_or_note(store, "Latent space", TASKS)
    if names is None:
        return
    model = gr.Dropdown(names, value=names[0], label="Autoencoder", elem_id="latent-model")
    with gr.Row():
        with gr.Column():
            sketch_a = sketchpad("Draw a digit (A)", "latent-sketch-a")
            upload_a = upload_image("…or upload one (A)")
        with gr.Column():
            seen = gr.Image(label="What the model sees", type="pil", format="png")
            rebuilt = gr.Image(label="Reconstruction", type="pil", format="png", elem_id="latent-output")
    button = gr.Button("Reconstruct", variant="primary", elem_id="latent-button")
    button.click(guarded(partial(reconstruct, store, limits=limits)), [model, sketch_a, upload_a],
                 [seen, rebuilt], api_name="reconstruct", preprocess=False)

    with gr.Accordion("Walk from digit A to digit B", open=False):
        with gr.Row():
            sketch_b = sketchpad("Draw a digit (B)", "latent-sketch-b")
            upload_b = upload_image("…or upload one (B)")
        with gr.Row():
            steps = gr.Slider(2, limits.max_steps, value=8, step=1, label="Steps")
            method = gr.Radio(list(METHODS), value="spherical", label="Path")
            seed = gr.Number(0, precision=0, minimum=0, label="Seed (distributions)")
        walk_button = gr.Button("Walk")
        strip = gr.Image(label="Walk", type="pil", format="png")
        walk_button.click(guarded(partial(walk, store, limits=limits)),
                          [model, sketch_a, upload_a, sketch_b, upload_b, steps, method, seed], strip,
                          api_name="walk", preprocess=False)

    with gr.Accordion("Latent grid", open=False):
        latent = max(store.pipelines[n].latent_dim for n in names)
        with gr.Row():
            rows = gr.Slider(2, limits.max_grid_side, value=8, step=1, label="Rows")
            columns = gr.Slider(2, limits.max_grid_side, value=8, step=1, label="Columns")
            span = gr.Slider(0.5, 5, value=2.0, step=0.5, label="Span (±)")
            dim_x = gr.Number(0, precision=0, minimum=0, maximum=latent - 1, label="x: latent dimension (0 = most used)")
            dim_y = gr.Number(1, precision=0, minimum=0, maximum=latent - 1, label="y: latent dimension (by use)")
        grid_image = gr.Image(label="Decoded grid", type="pil", format="png")
        inputs = [model, rows, columns, span, dim_x, dim_y]
        grid_fn = guarded(partial(grid, store, limits=limits))
        gr.Button("Draw grid").click(grid_fn, inputs, grid_image, api_name="latent_grid")
        for slider in (rows, columns, span):
            slider.release(grid_fn, inputs, grid_image, api_visibility="private")


build = one_tab_app("Latent space", "## Latent space\nDraw a digit: the autoencoder squeezes it into a few numbers and back.", render)

if __name__ == "__main__":
    raise SystemExit(serve_demo(build, "onnxkit Latent space demo"))
