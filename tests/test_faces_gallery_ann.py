"""The gallery's approximate index (faiss IVF + PQ fast scan + exact re-rank) against exact search,
and its persistence beside the gallery file."""

from __future__ import annotations

import numpy as np
import pytest

from toolkit.errors import InputError
from toolkit.runtime.faces import ann
from toolkit.runtime.faces.gallery import Gallery, exact_search, index_path

pytest.importorskip("faiss")

DIM = 64


def identities(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Unit identity vectors with a decaying spectrum (like bench_gallery.py) and noisy queries
    (another photo of a random identity, cosine ~0.86 to it)."""
    rng = np.random.default_rng(seed)
    spectrum = (1.0 / np.sqrt(1.0 + np.arange(DIM) / 16.0)).astype(np.float32)
    vectors = rng.standard_normal((n, DIM)).astype(np.float32) * spectrum
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    noise = rng.standard_normal((300, DIM)).astype(np.float32) * spectrum
    noise /= np.linalg.norm(noise, axis=1, keepdims=True)
    queries = vectors[rng.integers(0, n, 300)] + 0.6 * noise
    return vectors, queries / np.linalg.norm(queries, axis=1, keepdims=True)


@pytest.fixture(scope="module")
def midsize():
    vectors, queries = identities(20_000)
    gallery = Gallery(DIM, exact_limit=1000)
    gallery.add("first", vectors[:2])  # one identity with two rows: search must dedupe identities
    for i in range(2, len(vectors)):
        gallery._labels.append(f"id{i}")  # bulk enrolment without 20k concatenations
    gallery._vectors = np.concatenate([gallery._vectors, vectors[2:]])
    return gallery, queries


def test_ann_agrees_with_exact_search_on_a_midsize_gallery(midsize):
    gallery, queries = midsize
    assert gallery.uses_index
    ann_ids, ann_sims = gallery.search_rows(queries, 3)
    exact_ids, exact_sims = exact_search(gallery.vectors, queries, 3)
    assert (ann_ids[:, 0] == exact_ids[:, 0]).mean() >= 0.98
    # Re-ranked similarities are exact dot products, best first.
    assert np.allclose(ann_sims, np.einsum("qd,qkd->qk", queries, gallery.vectors[ann_ids]), atol=1e-5)
    assert (np.diff(ann_sims, axis=1) <= 1e-7).all()
    names = gallery.search(queries, k=3)
    assert all(len(r) == 3 and len({name for name, _ in r}) == 3 for r in names)
    exact_names = [gallery.labels[i] for i in exact_ids[:, 0]]
    assert np.mean([r[0][0] == name for r, name in zip(names, exact_names)]) >= 0.98


def test_the_index_is_approximate_and_probes_buy_recall(midsize):
    # Guards against the test above passing because the "index" silently searched everything.
    gallery, queries = midsize
    index = gallery.build_index()
    exact = exact_search(gallery.vectors, queries, 1)[0][:, 0]
    recalls = []
    for probes in (1, 8, ann.PROBES):
        ann.set_probes(index, probes)
        recalls.append((ann.index_search(index, gallery.vectors, queries, 1)[0][:, 0] == exact).mean())
    ann.set_probes(index, ann.PROBES)
    assert recalls[0] < 0.8 and recalls[0] < recalls[1] < recalls[2]


def test_index_is_saved_beside_the_gallery_and_reused(tmp_path, midsize):
    gallery, queries = midsize
    path = tmp_path / "big.npz"
    gallery.save(path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.npz", "big.npz.ann"]  # no temp files
    loaded = Gallery.load(path, exact_limit=1000)
    assert loaded._index is not None  # no rebuild
    for got, want in zip(loaded.search(queries[:50], k=2), gallery.search(queries[:50], k=2)):
        assert [name for name, _ in got] == [name for name, _ in want]
        assert np.allclose([s for _, s in got], [s for _, s in want], atol=1e-6)


def test_stale_or_broken_index_file_is_ignored(tmp_path, midsize):
    gallery, queries = midsize
    path = tmp_path / "g.npz"
    gallery.save(path)
    old_index = index_path(path).read_bytes()
    smaller = Gallery.load(path, exact_limit=1000)
    smaller.remove("first")
    smaller._index = None
    smaller.save(path)
    index_path(path).write_bytes(old_index)  # built from the vectors before the removal
    loaded = Gallery.load(path, exact_limit=1000)
    assert loaded._index is None  # digest mismatch: rebuilt lazily, never used stale
    index_path(path).write_bytes(b"not an index")
    loaded = Gallery.load(path, exact_limit=1000)
    assert loaded._index is None
    exact = exact_search(loaded.vectors, queries[:50], 1)[0][:, 0]
    assert (loaded.search_rows(queries[:50], 1)[0][:, 0] == exact).mean() >= 0.95


def test_small_gallery_drops_an_old_index_file(tmp_path):
    vectors, _ = identities(1500, seed=1)
    gallery = Gallery(DIM, exact_limit=1000)
    gallery.add("many", vectors)
    path = tmp_path / "g.npz"
    gallery.save(path)
    assert index_path(path).exists()
    gallery.remove("many")
    gallery.add("few", vectors[:10])
    gallery.save(path)
    assert not index_path(path).exists()
    assert Gallery.load(path).search(vectors[:1], k=1)[0][0][0] == "few"


@pytest.mark.parametrize("dim, expected", [(128, 32), (512, 128), (64, 16), (36, 9), (7, 1), (10, 2)])
def test_pq_subquantizers_divide_the_dimension(dim, expected):
    assert ann.pq_subquantizers(dim) == expected


def test_without_faiss_a_large_gallery_still_saves_and_loads(tmp_path, monkeypatch):
    vectors, queries = identities(1500, seed=2)
    gallery = Gallery(DIM, exact_limit=1000)
    gallery.add("many", vectors)
    path = tmp_path / "g.npz"
    gallery.save(path)  # with faiss: index written
    assert index_path(path).exists()

    def no_faiss():
        raise InputError("galleries larger than the exact-search limit need `faiss-cpu`")

    monkeypatch.setattr(ann, "_faiss", no_faiss)
    loaded = Gallery.load(path, exact_limit=1000)  # the index file cannot be read: ignored
    assert loaded._index is None and len(loaded) == 1500
    loaded.save(path)  # the gallery is saved; the index file, now unverifiable, is dropped
    assert not index_path(path).exists() and len(Gallery.load(path)) == 1500
    with pytest.raises(InputError, match="faiss-cpu"):
        loaded.search(queries[:1])
