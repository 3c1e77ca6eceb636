"""Write tab: continue a prompt with the shipped character-level language model, streaming the
text into the page as it is generated (a generator handler: Gradio sends each yield)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from functools import partial

import gradio as gr

from apps.limits import DEFAULT, LimitError, Limits
from apps.models import ModelStore
from apps.ui import exports_or_note, guarded, one_tab_app, serve_demo

TASKS = ("text-generator",)
#: Least time between two updates of the streamed text (characters come faster than a page redraws).
STREAM_INTERVAL_S = 0.05
#: Write requests in flight at once when the store batches: the streams share one step call per
#: character (toolkit.runtime.streams) and their handlers mostly wait for it, so many can run.
STREAMS_IN_FLIGHT = 8


def _sampling(limits: Limits, temperature: float | None, length: float | None, top_p: float | None,
              seed: float | None) -> dict:
    if temperature is None or not 0.05 <= float(temperature) <= 2.0:
        raise LimitError(f"temperature must be between 0.05 and 2, got {temperature}")
    if top_p is not None and not 0.0 < float(top_p) <= 1.0:
        raise LimitError(f"top-p must be in (0, 1], got {top_p}")
    return {"length": limits.length(length), "temperature": float(temperature),
            "top_p": None if top_p is None or float(top_p) >= 1.0 else float(top_p), "seed": limits.seed(seed)}


def write(store: ModelStore, model: str, prompt: str, temperature: float = 0.8, length: float = 300,
          top_p: float | None = None, seed: float | None = None, *, limits: Limits = DEFAULT) -> Iterator[str]:
    """Yield the prompt followed by the continuation generated so far, growing with each yield."""
    pipeline = store.get(model, TASKS)
    prompt = limits.prompt(prompt)
    options = _sampling(limits, temperature, length, top_p, seed)
    text, sent, last = "", -1, 0.0
    for piece in pipeline.stream(prompt, **options):
        text += piece
        now = time.monotonic()
        if now - last >= STREAM_INTERVAL_S:  # one page update per interval, not per character
            yield prompt + text
            sent, last = len(text), now
    if sent != len(text):
        yield prompt + text


def render(store: ModelStore, limits: Limits = DEFAULT) -> None:
    names = exports_or_note(store, "Write", TASKS)
    if names is None:
        return
    with gr.Row():
        model = gr.Dropdown(names, value=names[0], label="Language model", elem_id="write-model")
        seed = gr.Number(0, precision=0, minimum=0, label="Seed", elem_id="write-seed")
    prompt = gr.Textbox(label=f"Prompt (up to {limits.max_prompt_chars} characters)", lines=3,
                        max_length=limits.max_prompt_chars, value="The ", elem_id="write-prompt")
    with gr.Row():
        temperature = gr.Slider(0.05, 2.0, value=0.8, step=0.05, label="Temperature")
        length = gr.Slider(1, limits.max_length, value=300, step=1, label="Characters to write")
        top_p = gr.Slider(0.05, 1.0, value=1.0, step=0.05, label="Top-p (1 = off)")
    with gr.Row():
        button = gr.Button("Write", variant="primary", elem_id="write-button")
        stop = gr.Button("Stop")
    output = gr.Textbox(label="Text", lines=12, interactive=False, elem_id="write-output")
    event = button.click(guarded(partial(write, store, limits=limits)),
                         [model, prompt, temperature, length, top_p, seed], output, api_name="write",
                         concurrency_limit=STREAMS_IN_FLIGHT if store.batching is not None else "default")
    stop.click(None, None, None, cancels=[event])


build = one_tab_app("Write", "## Write\nA small character-level recurrent network continues your prompt, one character at a time.", render)

if __name__ == "__main__":
    raise SystemExit(serve_demo(build, "onnxkit Write demo"))
