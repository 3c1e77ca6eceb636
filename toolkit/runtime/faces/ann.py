"""Approximate nearest-neighbour index for large face galleries: faiss IVF + 4-bit PQ + exact re-rank.

Why this design (measured with ``benchmarks/bench_gallery.py``: 1M synthetic 128-d identities,
1000 noisy queries at cosine ~0.86 to their identity, shared 2-core CPU, against the exact tiled
float32 matrix product measured in the same run):

* exact search reads all N vectors per query, and a BLAS matrix product does that very
  efficiently, so an index has to read far fewer *bytes*, not just fewer vectors;
* an inverted file (``IVF``, ~4*sqrt(N) k-means cells) restricts a query to ``PROBES`` cells. With
  noisy queries, recall@1 is set by the number of probed cells (of 4000): 128 -> 0.972-0.985,
  192 -> 0.988, 256 -> 0.992;
* inside the cells, vectors are stored as 4-bit product-quantisation codes scanned with SIMD
  ("fast scan": dim/8 bytes per vector instead of 4*dim). IVF-Flat at recall 0.985 was 4x faster
  than exact search; this index at 192 probes is 26x faster (median of six runs, 18-31x: the CPU is
  shared), at recall 0.988;
* the PQ scores are approximate, so the best ``RERANK`` candidates are re-scored exactly against the
  gallery's float32 vectors: the returned similarities are exact, and the index stores codes only
  (27 MB at 1M x 128-d, so it is cheap to persist). Build at 1M: 30-90 s depending on load.

Also measured and rejected: HNSW (usearch M16: recall 0.79 at ef 128, 14 min build), IVF with 8192
lists (recall 0.981 at 24x with 128 probes, 3 min build), PQ without residuals (recall 0.995
but 16x), a numpy coarse quantizer + ``search_preassigned`` (no faster).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from toolkit.errors import InputError

#: Inverted lists probed per query (recall vs speed; see the module docstring and the benchmark).
PROBES = 192
#: Candidates taken from the PQ index and re-scored exactly (at least this many, or 2x the rows asked).
RERANK = 8
#: k-means training vectors per inverted list (faiss warns below 39).
TRAIN_PER_LIST = 64


def _faiss() -> Any:
    try:
        import faiss
    except ImportError:  # pragma: no cover - a serving install without faiss
        raise InputError("galleries larger than the exact-search limit need `faiss-cpu` (pip install faiss-cpu)") from None
    return faiss


def default_lists(n: int) -> int:
    """~4*sqrt(N) cells, but at least 39 vectors per cell so k-means has something to fit."""
    return max(1, min(int(4 * np.sqrt(n)), n // 39))


def pq_subquantizers(dim: int) -> int:
    """PQ sub-vectors: one per 4 dimensions (128-d -> 32 x 4 bits = 16 bytes a vector), a divisor of dim.

    One per 8 dimensions was as good on the 1M benchmark but lost the true match in the PQ ranking
    for ~2% of queries on a more anisotropic 64-d gallery (tests/test_faces_gallery_ann.py).
    """
    m = max(1, dim // 4)
    while dim % m:
        m -= 1
    return m


def build_index(vectors: np.ndarray, lists: int | None = None, probes: int = PROBES, seed: int = 0) -> Any:
    """An ``IVF<lists>,PQ<dim/8>x4fs`` faiss index (inner product) over unit ``vectors``; row i has id i."""
    faiss = _faiss()
    n, dim = vectors.shape
    lists = lists or default_lists(n)
    index = faiss.index_factory(dim, f"IVF{lists},PQ{pq_subquantizers(dim)}x4fs", faiss.METRIC_INNER_PRODUCT)
    faiss.extract_index_ivf(index).cp.seed = seed
    sample = vectors
    if n > TRAIN_PER_LIST * lists:
        sample = vectors[np.sort(np.random.default_rng(seed).choice(n, TRAIN_PER_LIST * lists, replace=False))]
    index.train(np.ascontiguousarray(sample, np.float32))
    index.add(np.ascontiguousarray(vectors, np.float32))
    set_probes(index, probes)
    return index


def set_probes(index: Any, probes: int) -> None:
    ivf = _faiss().extract_index_ivf(index)
    ivf.nprobe = max(1, min(probes, ivf.nlist))


def index_search(index: Any, vectors: np.ndarray, queries: np.ndarray, rows: int,
                 rerank: int = RERANK) -> tuple[np.ndarray, np.ndarray]:
    """Top ``rows`` (ids int64[Q, rows], exact similarities float32[Q, rows]); missing neighbours are id -1.

    The index proposes ``max(rerank, 2 * rows)`` candidates by approximate (PQ) score; they are
    re-scored with exact dot products against ``vectors`` (the rows the index was built from).
    """
    queries = np.ascontiguousarray(queries, np.float32)
    rows = min(rows, len(vectors))
    candidates = min(len(vectors), max(rerank, 2 * rows))
    _, ids = index.search(queries, candidates)
    ids = ids.astype(np.int64)
    sims = np.einsum("qd,qkd->qk", queries, vectors[np.maximum(ids, 0)])
    sims[ids < 0] = -np.inf
    order = np.argsort(-sims, axis=1, kind="stable")[:, :rows]
    ids = np.take_along_axis(ids, order, axis=1)
    sims = np.take_along_axis(sims, order, axis=1).astype(np.float32)
    sims[ids < 0] = np.nan
    return ids, sims


def serialize(index: Any) -> np.ndarray:
    return _faiss().serialize_index(index)


def deserialize(data: np.ndarray, probes: int = PROBES) -> Any:
    index = _faiss().deserialize_index(np.asarray(data, np.uint8))
    set_probes(index, probes)
    return index


__all__ = ["build_index", "index_search", "set_probes", "default_lists", "pq_subquantizers",
           "serialize", "deserialize", "PROBES", "RERANK"]
