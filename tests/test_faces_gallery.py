"""Alignment, gallery (exact and indexed search, atomic persistence) and verification metrics."""

from __future__ import annotations

import numpy as np
import pytest

from toolkit.errors import InputError
from toolkit.runtime.faces.align import ARCFACE_TEMPLATE, align_face, alignment_transform, umeyama
from toolkit.runtime.faces.gallery import Gallery, exact_search
from toolkit.runtime.faces.verification import best_threshold, kfold_accuracy, parse_pairs, roc_points


# -- alignment ---------------------------------------------------------------------------------------
def test_umeyama_recovers_a_similarity_transform():
    rng = np.random.default_rng(0)
    angle, scale, shift = 0.3, 1.7, np.array([12.0, -5.0])
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    src = rng.uniform(0, 100, (5, 2))
    dst = scale * src @ rotation.T + shift
    matrix = umeyama(src, dst)
    assert np.allclose(matrix[:, :2], scale * rotation, atol=1e-9)
    assert np.allclose(matrix[:, 2], shift, atol=1e-9)


def test_align_puts_landmarks_on_the_template():
    # Draw five dots at rotated/scaled template positions, align, and find the dots again.
    size = 300
    angle = np.deg2rad(20)
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    landmarks = (ARCFACE_TEMPLATE - 56) @ rotation.T * 1.8 + 150
    image = np.zeros((size, size, 3), np.uint8)
    for i, (x, y) in enumerate(landmarks):
        image[int(round(y)) - 2:int(round(y)) + 3, int(round(x)) - 2:int(round(x)) + 3, i % 3] = 255
    aligned = align_face(image, landmarks)
    assert aligned.shape == (112, 112, 3) and aligned.dtype == np.uint8
    for i, (x, y) in enumerate(ARCFACE_TEMPLATE):
        patch = aligned[int(y) - 3:int(y) + 4, int(x) - 3:int(x) + 4, i % 3]
        assert patch.max() > 100, f"landmark {i} not at its template position"
    forward = alignment_transform(landmarks)
    mapped = landmarks @ forward[:, :2].T + forward[:, 2]
    assert np.abs(mapped - ARCFACE_TEMPLATE).max() < 1e-6


def test_align_errors():
    image = np.zeros((50, 50, 3), np.uint8)
    with pytest.raises(InputError, match=r"\[5, 2\]"):
        align_face(image, np.zeros((4, 2)))
    with pytest.raises(InputError, match="degenerate"):
        align_face(image, np.ones((5, 2)))
    with pytest.raises(InputError, match="NaN"):
        align_face(image, np.full((5, 2), np.nan))


# -- gallery -----------------------------------------------------------------------------------------
def unit(rng, n, d=16):
    x = rng.standard_normal((n, d)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_add_search_remove_and_roundtrip(tmp_path):
    rng = np.random.default_rng(1)
    gallery = Gallery(16)
    people = {f"person{i}": unit(rng, 2) for i in range(6)}
    for name, vectors in people.items():
        gallery.add(name, vectors)
    assert gallery.names == list(people) and len(gallery) == 12
    query = people["person3"][1] + 0.05 * unit(rng, 1)[0]
    top = gallery.search(query, k=3)[0]
    assert top[0][0] == "person3" and len(top) == 3 and len({n for n, _ in top}) == 3
    assert top[0][1] >= top[1][1] >= top[2][1]
    assert gallery.remove("person3") == 2
    assert "person3" not in gallery
    assert gallery.search(query, k=3)[0][0][0] != "person3"
    path = tmp_path / "g.npz"
    gallery.info["threshold"] = 0.4
    gallery.save(path)
    loaded = Gallery.load(path)
    assert loaded.names == gallery.names and np.allclose(loaded.vectors, gallery.vectors)
    assert loaded.info["threshold"] == 0.4
    assert [p.name for p in tmp_path.iterdir()] == ["g.npz"]  # no temp file left behind


def test_ivf_index_agrees_with_exact_search():
    rng = np.random.default_rng(2)
    vectors = unit(rng, 3000, 32)
    gallery = Gallery(32, exact_limit=1000)
    for i in range(0, 3000, 500):
        gallery.add(f"block{i}", vectors[i:i + 500])  # names repeat: search must dedupe identities
    queries = vectors[rng.integers(0, 3000, 200)] + 0.1 * unit(rng, 200, 32)
    assert gallery.uses_index
    ids_index, _ = gallery.search_rows(gallery._check(queries), 1)
    ids_exact, _ = exact_search(gallery.vectors, gallery._check(queries), 1)
    assert (ids_index[:, 0] == ids_exact[:, 0]).mean() >= 0.97
    names = gallery.search(queries, k=2)
    assert all(len(r) == 2 and r[0][0] != r[1][0] for r in names)


def test_exact_search_blocks_match_one_block():
    rng = np.random.default_rng(3)
    vectors, queries = unit(rng, 1000), unit(rng, 7)
    a_ids, a_sims = exact_search(vectors, queries, 5)
    b_ids, b_sims = exact_search(vectors, queries, 5, block=64)
    assert (a_ids == b_ids).all() and np.allclose(a_sims, b_sims)
    brute = np.argsort(-(queries @ vectors.T), axis=1)[:, :5]
    assert (a_ids == brute).all()


@pytest.mark.parametrize("call, message", [
    (lambda g: g.add("x", np.zeros((1, 16))), "all zeros"),
    (lambda g: g.add("x", np.ones((1, 15))), r"\[N, 16\]"),
    (lambda g: g.add("", np.ones((1, 16))), "non-empty"),
    (lambda g: g.add("unknown", np.ones((1, 16))), "reserved"),
    (lambda g: g.add("x", np.full((1, 16), np.nan)), "NaN"),
    (lambda g: g.remove("nobody"), "no identity"),
    (lambda g: g.search(np.ones(16), k=0), "k must"),
])
def test_gallery_errors(call, message):
    gallery = Gallery(16)
    gallery.add("someone", np.ones((1, 16)))
    with pytest.raises(InputError, match=message):
        call(gallery)


def test_load_rejects_bad_files(tmp_path):
    with pytest.raises(InputError, match="no such gallery"):
        Gallery.load(tmp_path / "missing.npz")
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"not a zip")
    with pytest.raises(InputError, match="not a face gallery"):
        Gallery.load(junk)
    other = tmp_path / "other.npz"
    np.savez(other, vectors=np.ones((1, 4)), labels=np.array(["a"]), meta=np.array('{"format": "x"}'))
    with pytest.raises(InputError, match="not a face gallery"):
        Gallery.load(other)


# -- verification metrics -----------------------------------------------------------------------------
def test_best_threshold_and_kfold():
    scores = np.array([0.1, 0.2, 0.3, 0.7, 0.8, 0.9] * 5)
    same = np.array([0, 0, 0, 1, 1, 1] * 5, bool)
    threshold, accuracy = best_threshold(scores, same)
    assert accuracy == 1.0 and 0.3 < threshold < 0.7
    result = kfold_accuracy(scores, same)
    assert result["accuracy"] == 1.0 and len(result["fold_accuracies"]) == 10
    noisy = kfold_accuracy(np.random.default_rng(0).random(200), np.arange(200) % 2 == 0)
    assert noisy["accuracy"] < 0.7
    roc = roc_points(scores, same)
    assert roc[0]["tpr"] == 1.0 and roc[0]["fpr"] == 1.0 and roc[-1]["fpr"] == 0.0


def test_parse_pairs(tmp_path):
    path = tmp_path / "pairs.txt"
    path.write_text("1\t2\nAnn\t1\t2\nAnn\t1\tBob\t1\n")
    pairs = parse_pairs(path)
    assert [p.same for p in pairs] == [True, False] and pairs[1].right == ("Bob", 1)
    path.write_text("Ann 1 two\n")
    with pytest.raises(InputError, match=":1: expected"):
        parse_pairs(path)
    path.write_text("Ann 1 2\n")
    with pytest.raises(InputError, match="both"):
        parse_pairs(path)
