"""Distance-model recognition (dlib-resnet, the default): Euclidean galleries, dlib's threshold,
the calibrated match %, the shipped 5 Celebrity Faces gallery and the defaults that use it."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from tests.faces_data import ROOT_EXPORTS
from toolkit import runtime
from toolkit.errors import InputError
from toolkit.runtime.faces.gallery import Gallery
from toolkit.runtime.faces.recognizer import UNKNOWN, FaceRecognizer, calibrated_percent

CELEBRITIES = ["Ben Affleck", "Elton John", "Jerry Seinfeld", "Madonna", "Mindy Kaling"]


@pytest.fixture(scope="module")
def models():
    return runtime.load(ROOT_EXPORTS / "mtcnn"), runtime.load(ROOT_EXPORTS / "dlib-resnet")


@pytest.fixture(scope="module")
def astronaut():
    from skimage import data

    return data.astronaut()


def test_euclidean_gallery_search_is_exact_and_persists(tmp_path):
    rng = np.random.default_rng(0)
    vectors = rng.normal(0, 0.1, (40, 8)).astype(np.float32)
    gallery = Gallery(8, metric="euclidean")
    for i in range(10):
        gallery.add(f"p{i}", vectors[4 * i:4 * i + 4])
    np.testing.assert_array_equal(gallery.vectors, vectors)  # kept as given, not normalised
    queries = rng.normal(0, 0.1, (3, 8)).astype(np.float32)
    for query, found in zip(queries, gallery.search(queries, k=3)):
        distances = np.linalg.norm(vectors - query, axis=1)
        best = {f"p{i}": distances[4 * i:4 * i + 4].min() for i in range(10)}
        expected = sorted(best.items(), key=lambda item: item[1])[:3]
        assert [n for n, _ in found] == [n for n, _ in expected]
        np.testing.assert_allclose([d for _, d in found], [d for _, d in expected], atol=1e-5)
    gallery.save(tmp_path / "g.npz")
    loaded = Gallery.load(tmp_path / "g.npz")
    assert loaded.metric == "euclidean" and loaded.search(queries, 3) == gallery.search(queries, 3)
    with pytest.raises(InputError, match="metric must be one of"):
        Gallery(8, metric="manhattan")


def test_calibrated_percent():
    curve = {"midpoint": 0.6, "slope": 0.05}
    assert calibrated_percent([0.6], curve) == [50.0]
    low, high = calibrated_percent([0.4, 0.8], curve)
    assert low > 98 and high < 2 and abs(low + high - 100) < 1e-9


def test_recognizer_refuses_a_gallery_of_another_embedder(models):
    detector, dlib_embedder = models
    cosine = Gallery.load(ROOT_EXPORTS / "face-embed-gallery.npz")
    with pytest.raises(InputError, match="enroll the people again with this embedder"):
        FaceRecognizer(detector, dlib_embedder, cosine)
    with pytest.raises(InputError, match="Euclidean distance"):
        FaceRecognizer(detector, dlib_embedder, threshold=-0.2)


def test_shipped_celebrity_gallery(models, astronaut):
    detector, embedder = models
    gallery = Gallery.load(ROOT_EXPORTS / "face-gallery.npz")
    assert gallery.names == CELEBRITIES and gallery.metric == "euclidean"
    assert gallery.info["embedder_model"] == "dlib-resnet" and len(gallery) == 92
    recognizer = FaceRecognizer(detector, embedder, gallery)
    assert recognizer.threshold == pytest.approx(0.6)
    # The astronaut (Eileen Collins) is none of them: unknown, every distance beyond dlib's 0.6.
    (result,) = recognizer.match(astronaut, k=3)
    assert result.matches[0].name == UNKNOWN and result.matches[0].distance >= 0.6
    assert all(m.percent < 50 for m in result.matches[1:])  # below the threshold = under 50 %
    # Each gallery person's own enrolment vectors sit well inside the threshold of each other.
    labels = np.array(gallery.labels)
    for name in CELEBRITIES:
        own = gallery.vectors[labels == name]
        assert np.median(np.linalg.norm(own[:, None] - own[None], axis=-1)) < 0.6


def test_enrolled_person_recognised_with_calibrated_percent(models, astronaut):
    detector, embedder = models
    recognizer = FaceRecognizer(detector, embedder, Gallery.load(ROOT_EXPORTS / "face-gallery.npz"))
    recognizer.enroll("Eileen Collins", [astronaut])
    mirrored = np.asarray(Image.fromarray(astronaut).transpose(Image.Transpose.FLIP_LEFT_RIGHT).rotate(8))
    (result,) = recognizer.match(mirrored, k=3)
    best = result.matches[0]
    assert best.name == "Eileen Collins" and best.distance < 0.45 and best.percent > 95
    assert best.similarity is None and result.label.startswith("Eileen Collins")
    others = [m.distance for m in result.matches[1:]]
    assert others == sorted(others) and min(others) > best.distance


def test_defaults_use_dlib_resnet():
    from toolkit.cli.commands import faces as faces_cli

    assert faces_cli.DEFAULT_EMBEDDER == "dlib-resnet"
    from apps import faces as faces_tab
    from apps.models import ModelStore

    store = ModelStore(ROOT_EXPORTS)
    assert faces_tab.embedder_for(store).manifest.model == "dlib-resnet"
    assert faces_tab.headers(store)[3] == "distance"
    assert "probability" in faces_tab.explain(store) and "0.6" in faces_tab.explain(store)


def test_unknown_alignment_is_a_clear_error():
    from toolkit.runtime.faces.align import aligner

    assert aligner("dlib-chip").__name__ == "align_dlib_chip"
    assert aligner("").__name__ == "align_face"
    with pytest.raises(InputError, match="unknown face alignment 'sideways'"):
        aligner("sideways")
