"""Each tab's request functions on the shipped exports: real outputs, determinism, clear refusals."""

from __future__ import annotations

import os

import numpy as np
import pytest
from PIL import Image, ImageDraw

from apps import classify, faces, generate, latent, write
from apps.limits import LimitError
from apps.models import ModelStore
from tests.conftest import ROOT
from toolkit.errors import InputError


@pytest.fixture(scope="module")
def store() -> ModelStore:
    return ModelStore(os.environ.get("ONNXKIT_EXPORTED") or ROOT / "exported")


def one(store: ModelStore, *tasks: str) -> str:
    names = list(store.by_task(*tasks))
    if not names:
        pytest.skip(f"no shipped export of task {'/'.join(tasks)} yet")
    return names[0]


def drawing(strokes: list[list[tuple[int, int]]]) -> Image.Image:
    """Black strokes on a transparent 280x280 canvas: what the sketchpad sends."""
    canvas = Image.new("RGBA", (280, 280), (0, 0, 0, 0))
    pen = ImageDraw.Draw(canvas)
    for stroke in strokes:
        pen.line(stroke, fill=(0, 0, 0, 255), width=22)
    return canvas


SEVEN = drawing([[(60, 50), (220, 50), (120, 250)]])
ONE = drawing([[(140, 30), (140, 250)]])


def test_classify_a_drawn_seven(store):
    model = one(store, "classifier")
    top, seen = classify.classify(store, model, SEVEN)
    assert list(top)[0] == "7" and len(top) == 3
    probabilities = list(top.values())
    assert probabilities == sorted(probabilities, reverse=True) and sum(probabilities) <= 1.0 + 1e-6
    assert seen.width >= 140
    with pytest.raises(LimitError, match="draw or upload the digit first"):
        classify.classify(store, model, drawing([]))
    with pytest.raises(LimitError, match="not available here"):
        classify.classify(store, "nope", SEVEN)


def test_latent_reconstruct_walk_and_grid(store):
    model = one(store, "autoencoder", "vae")
    seen, rebuilt = latent.reconstruct(store, model, SEVEN)
    assert seen.size == rebuilt.size
    seen_px = np.asarray(seen, np.float32) / 255
    rebuilt_px = np.asarray(rebuilt, np.float32) / 255
    assert np.abs(seen_px - rebuilt_px).mean() < 0.2  # a reconstruction, not noise
    strip = latent.walk(store, model, SEVEN, None, ONE, None, 6, "linear")
    assert strip.width > 5 * strip.height  # six frames side by side
    assert latent.grid(store, model, 4, 5, 2.0, 0, 1).width > latent.grid(store, model, 4, 3, 2.0, 0, 1).width
    with pytest.raises(LimitError, match="two different latent dimensions"):
        latent.grid(store, model, 4, 4, 2.0, 1, 1)
    with pytest.raises(LimitError, match="interpolation steps must be between 2 and 16"):
        latent.walk(store, model, SEVEN, None, ONE, None, 50, "linear")
    autoencoders = [n for n, p in store.by_task("autoencoder").items()]
    if autoencoders:
        with pytest.raises(LimitError, match="needs a VAE"):
            latent.walk(store, autoencoders[0], SEVEN, None, ONE, None, 4, "distributions (VAE)")


def test_write_streams_a_reproducible_continuation(store):
    model = one(store, "text-generator")
    pieces = list(write.write(store, model, "The ", 0.8, 120, 1.0, 7))
    assert all(p.startswith("The ") for p in pieces)
    assert all(len(a) <= len(b) for a, b in zip(pieces, pieces[1:]))  # the text only grows
    assert len(pieces[-1]) == len("The ") + 120
    assert list(write.write(store, model, "The ", 0.8, 120, 1.0, 7))[-1] == pieces[-1]
    with pytest.raises(LimitError, match="the limit is 500"):
        next(write.write(store, model, "x" * 501, 0.8, 10, 1.0, 1))
    with pytest.raises(LimitError, match="temperature"):
        next(write.write(store, model, "The ", 0.0, 10, 1.0, 1))
    with pytest.raises(LimitError, match="length must be between 1 and 1000"):
        next(write.write(store, model, "The ", 0.8, 5000, 1.0, 1))


def test_generate_samples_strip_and_grid(store):
    model = one(store, "image-generator", "conditional-generator")
    first = generate.sample_images(store, model, 9, 3)
    assert np.array_equal(np.asarray(first), np.asarray(generate.sample_images(store, model, 9, 3)))
    assert not np.array_equal(np.asarray(first), np.asarray(generate.sample_images(store, model, 9, 4)))
    strip = generate.interpolation_strip(store, model, 1, 2, 8, "spherical")
    assert strip.width > 7 * strip.height
    generate.latent_grid(store, model, 3, 4, 5)
    with pytest.raises(LimitError, match="between 1 and 64"):
        generate.sample_images(store, model, 65, 0)
    with pytest.raises(LimitError, match="rows must be between 2 and 10"):
        generate.latent_grid(store, model, 3, 40, 5)


def test_conditional_generator_draws_the_chosen_class(store):
    """The class picker matters: the shipped classifier recognises most samples of the chosen digit."""
    conditional = [n for n, p in store.by_task("conditional-generator").items() if not p.multi_label]
    if not conditional or not store.by_task("classifier"):
        pytest.skip("needs a shipped single-label conditional generator and a classifier")
    generator = store.pipelines[conditional[0]]
    classifier = next(iter(store.by_task("classifier").values()))
    if generator.image_shape != classifier.image_shape:
        pytest.skip("generator and classifier image shapes differ")
    label = generator.label_names[3]
    images = generator.sample(32, seed=0, labels=generate._labels(generator, 32, label, None))
    ids, _ = classifier.predict(images, k=1)
    agreement = np.mean([classifier.label_names[i] == label for i in ids[:, 0]])
    assert agreement >= 0.5, f"only {agreement:.0%} of class-{label} samples classified as {label}"
    with pytest.raises(InputError, match="unknown label 'banana'"):
        generate._labels(generator, 2, "banana", None)


def test_face_match_and_session_enrolment(store):
    if store.first("face-detector") is None or store.first("face-embedder") is None:
        pytest.skip("no shipped face detector and embedder yet")
    from skimage import data

    photo = Image.fromarray(data.astronaut())
    drawn, rows, summary = faces.match(store, photo)
    assert drawn.size == photo.size and "1 face(s) found" in summary
    shared_names = list(store.gallery.names) if store.gallery is not None else []
    mine, message = faces.enroll(store, "Eileen Collins", [photo, photo.transpose(Image.Transpose.FLIP_LEFT_RIGHT)])
    assert "Enrolled **Eileen Collins** from 2 of 2" in message
    assert (list(store.gallery.names) if store.gallery is not None else []) == shared_names  # shared one untouched
    drawn, rows, summary = faces.match(store, photo, mine)
    assert rows[0][:3] == [1, 1, "Eileen Collins"] and rows[0][4] > 50
    with pytest.raises(LimitError, match="add one or more photos"):
        faces.enroll(store, "Nobody", [])
    with pytest.raises(LimitError, match="type the person's name"):
        faces.enroll(store, " ", [photo])
