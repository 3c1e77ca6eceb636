"""The demo under load: no response is cut off, overload is refused with a clear answer."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import gradio as gr
import pytest

from apps import app, generate
from apps.models import ModelStore
from tests.conftest import ROOT


@pytest.fixture(scope="module")
def store() -> ModelStore:
    return ModelStore(os.environ.get("ONNXKIT_EXPORTED") or ROOT / "exported")


def event(demo: gr.Blocks, api_name: str):
    return next(f for f in demo.fns.values() if f.api_name == api_name)


def test_identical_responses_never_rewrite_a_file_a_download_is_reading(store):
    """The cause of the cut-off downloads, at small scale: identical requests (same seed) give
    identical pictures; Gradio's cache named them by content and rewrote that one file in place for
    every response, so a download of an earlier response read a truncated file (0 bytes, or a body
    cut at a 64 KiB boundary). Here a reader keeps reading the first response's file, as the server
    does while it streams it, while the same request is answered again and again through the
    Generate event (handler, then the output component): every read must see the whole file."""
    generators = store.by_task(*generate.TASKS)
    if not generators:
        pytest.skip("no shipped image generator")
    generate_event = event(generate.build(store), "generate")
    output = generate_event.outputs[0]

    def respond() -> Path:
        return Path(output.postprocess(generate_event.fn(next(iter(generators)), 64, 0, None, [])).path)

    first = respond()
    whole = first.read_bytes()
    short: list[int] = []
    done = threading.Event()

    def download() -> None:
        while not done.is_set():
            with open(first, "rb") as handle:
                size = len(handle.read())
            if size != len(whole):
                short.append(size)

    reader = threading.Thread(target=download)
    reader.start()
    try:
        paths = {respond() for _ in range(40)}
    finally:
        done.set()
        reader.join()
    assert not short, f"{len(short)} reads of a published response saw a partial file (sizes {short[:5]})"
    assert first.read_bytes() == whole
    assert first not in paths and len(paths) == 40  # a file of its own per response
    assert {p.read_bytes() for p in paths} == {whole}  # same seed, same picture


def test_every_event_answering_with_a_picture_writes_its_own_file(store):
    demo = app.build(store)
    pictured = [f for f in demo.fns.values() if any(isinstance(c, gr.Image) for c in f.outputs)]
    assert pictured, "the demo answers with no picture at all"
    unguarded = [f.name for f in pictured if not getattr(f.fn, "guarded", False)]
    assert not unguarded, f"events whose pictures Gradio would write by content hash: {unguarded}"
