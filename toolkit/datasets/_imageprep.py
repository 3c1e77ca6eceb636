"""Shared shaping of grey digit images for the dataset loaders: resize, channels, limit.

numpy + Pillow only, so the loaders stay importable without TensorFlow.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from toolkit.errors import DatasetError


def resize_batch(images: np.ndarray, size: int) -> np.ndarray:
    """Resize float ``[N, H, W]`` images in [0, 1] to ``[N, size, size]`` (bilinear, per image)."""
    if images.shape[1] == size and images.shape[2] == size:
        return images.astype(np.float32, copy=False)
    out = np.empty((len(images), size, size), np.float32)
    for i, image in enumerate(images):
        pil = Image.fromarray(image.astype(np.float32), mode="F")
        out[i] = np.asarray(pil.resize((size, size), Image.Resampling.BILINEAR), np.float32)
    return np.clip(out, 0.0, 1.0)


def with_channels(images: np.ndarray, channels: int | None, name: str) -> np.ndarray:
    """``[N, H, W]`` -> ``[N, H, W, C]`` with C = 1 (default) or 3 (grey repeated)."""
    channels = channels or 1
    if channels not in (1, 3):
        raise DatasetError(f"{name}: can provide 1 or 3 channels, not {channels}")
    images = images[..., None]
    return np.repeat(images, 3, axis=-1) if channels == 3 else images


def limit_rows(limit: int | None, *arrays: np.ndarray) -> tuple[np.ndarray, ...]:
    """Keep the first ``limit`` rows of every array (train arrays are already shuffled)."""
    if limit is None:
        return arrays
    if limit < 1:
        raise DatasetError(f"limit must be at least 1, got {limit}")
    return tuple(a[:limit] for a in arrays)
