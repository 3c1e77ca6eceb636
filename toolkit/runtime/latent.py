"""Latent-space paths: linear and spherical interpolation, and bilinear grids between four corners.

Shared by generators (between two z) and autoencoders (between two codes). numpy only.
"""

from __future__ import annotations

import numpy as np

from toolkit.errors import InputError


def as_vectors(values: object, dim: int, what: str, *, integers: bool = False) -> np.ndarray:
    """One latent vector or a batch ``[N, dim]`` as float32 ``[N, dim]`` (z of a generator, codes of
    an autoencoder); errors name ``what``. ``integers``: accept integer arrays too."""
    array = np.asarray(values)
    if array.ndim == 1:
        array = array[None]
    if array.ndim != 2 or array.shape[1] != dim:
        raise InputError(f"{what} must have shape [N, {dim}], got {np.shape(values)}")
    if array.dtype.kind not in ("fiu" if integers else "f"):
        raise InputError(f"{what} must be {'numbers' if integers else 'floats'}, got dtype {array.dtype}")
    return array.astype(np.float32, copy=False)


def _check_pair(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a.shape != b.shape or a.ndim != 1:
        raise InputError(f"interpolation needs two vectors of one length, got shapes {a.shape} and {b.shape}")
    return a, b


def lerp(a: np.ndarray, b: np.ndarray, steps: int) -> np.ndarray:
    """``steps`` points on the straight line from ``a`` to ``b`` (both included): ``[steps, D]``."""
    if steps < 2:
        raise InputError(f"interpolation needs at least 2 steps, got {steps}")
    a, b = _check_pair(a, b)
    t = np.linspace(0.0, 1.0, steps)[:, None]
    return ((1 - t) * a + t * b).astype(np.float32)


def slerp(a: np.ndarray, b: np.ndarray, steps: int) -> np.ndarray:
    """Spherical interpolation: keeps the norm profile a Gaussian prior expects (White, 2016)."""
    if steps < 2:
        raise InputError(f"interpolation needs at least 2 steps, got {steps}")
    a, b = _check_pair(a, b)
    t = np.linspace(0.0, 1.0, steps)[:, None]
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    if na == 0 or nb == 0:
        return lerp(a, b, steps)
    cos = np.clip(np.dot(a / na, b / nb), -1.0, 1.0)
    omega = np.arccos(cos)
    if omega < 1e-6:  # nearly parallel: slerp degenerates to lerp
        return lerp(a, b, steps)
    so = np.sin(omega)
    return (np.sin((1 - t) * omega) / so * a + np.sin(t * omega) / so * b).astype(np.float32)


def bilinear_grid(corners: np.ndarray, rows: int, columns: int) -> np.ndarray:
    """A ``[rows * columns, D]`` grid spanning four corner vectors (top-left, top-right,
    bottom-left, bottom-right), row by row."""
    corners = np.asarray(corners, np.float64)
    if corners.ndim != 2 or corners.shape[0] != 4:
        raise InputError(f"a grid needs 4 corner vectors, got shape {corners.shape}")
    if rows < 2 or columns < 2:
        raise InputError(f"a grid needs at least 2x2 cells, got {rows}x{columns}")
    tl, tr, bl, br = corners
    u = np.linspace(0, 1, columns)[None, :, None]
    v = np.linspace(0, 1, rows)[:, None, None]
    grid = (1 - v) * ((1 - u) * tl + u * tr) + v * ((1 - u) * bl + u * br)
    return grid.reshape(rows * columns, -1).astype(np.float32)


def path(a: np.ndarray, b: np.ndarray, steps: int, method: str = "linear") -> np.ndarray:
    if method in ("linear", "lerp"):
        return lerp(a, b, steps)
    if method in ("spherical", "slerp"):
        return slerp(a, b, steps)
    raise InputError(f"unknown interpolation method {method!r} (use linear or spherical)")
