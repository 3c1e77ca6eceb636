"""Test images for the face tests, built from scikit-image's data (offline): the astronaut photo
and lfw_subset faces upscaled and placed on larger noisy canvases."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PIL import Image

ROOT_EXPORTS = __import__("pathlib").Path(__file__).resolve().parent.parent / "exported"


def lfw_faces() -> np.ndarray:
    from skimage import data

    return (data.lfw_subset()[:100] * 255).astype(np.uint8)


def canvas(indices: Sequence[int], size: tuple[int, int] = (360, 240), face: int = 72, seed: int = 0,
           rgb: bool = True) -> np.ndarray:
    """lfw_subset faces ``indices`` (upscaled to ``face`` px) on a grey noisy canvas ``size`` (w, h)."""
    faces = lfw_faces()
    rng = np.random.default_rng(seed)
    board = np.clip(128 + rng.normal(0, 10, (size[1], size[0])), 0, 255).astype(np.uint8)
    xs = np.linspace(20, size[0] - face - 20, max(len(indices), 1)).astype(int)
    for k, (i, x) in enumerate(zip(indices, xs)):
        y = 40 + (k % 2) * 60
        board[y:y + face, x:x + face] = np.asarray(Image.fromarray(faces[i]).resize((face, face), Image.Resampling.BICUBIC))
    return np.stack([board] * 3, -1) if rgb else board


def iou(a: Sequence[float], b: Sequence[float]) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0
