"""Turn any picture of a digit into an MNIST-like model input. numpy + Pillow only.

MNIST's recipe (LeCun et al.): the digit's bounding box is scaled to fit 20x20 keeping its aspect
ratio, then placed in a 28x28 field so that its centre of mass is at the centre. A user's photo
or drawing (black pen on white, any size, off-centre) is prepared the same way, so the
digit models see what they were trained on. Shared by the classifier and autoencoder pipelines.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from toolkit.errors import InputError
from toolkit.images import GREY_WEIGHTS, normalise_array, open_image, to_array

#: Pixels above this (after inversion) count as ink when finding the digit's bounding box.
INK_THRESHOLD = 0.2
BOX_FRACTION = 20 / 28


def to_grey(image: Any) -> np.ndarray:
    """A PIL image, path, bytes or array ([H,W], [H,W,1|3|4], uint8 or float in [0,1]) -> float32 [H,W]."""
    if isinstance(image, (str, Path, bytes, Image.Image)):
        return to_array(open_image(image), 1)[..., 0]
    if not isinstance(image, np.ndarray):
        raise InputError(f"expected an image (PIL image, path, bytes or numpy array), got {type(image).__name__}")
    values = normalise_array(image, tolerance=1e-3)
    return values[..., 0] if values.shape[-1] == 1 else values @ GREY_WEIGHTS


def needs_inversion(grey: np.ndarray) -> bool:
    """Dark ink on a light background? Judged by the border, where a digit rarely is."""
    border = np.concatenate([grey[0], grey[-1], grey[:, 0], grey[:, -1]])
    return float(border.mean()) > 0.5


def prepare_digit(image: Any, size: int = 28, invert: bool | str = "auto") -> np.ndarray:
    """Any image of one digit -> float32 ``[size, size, 1]`` in [0, 1], white on black, MNIST-centred."""
    grey = to_grey(image)
    if invert == "auto":
        invert = needs_inversion(grey)
    elif not isinstance(invert, bool):
        raise InputError(f"invert must be True, False or 'auto', got {invert!r}")
    if invert:
        grey = 1.0 - grey
    rows = np.flatnonzero((grey > INK_THRESHOLD).any(axis=1))
    cols = np.flatnonzero((grey > INK_THRESHOLD).any(axis=0))
    if rows.size == 0:
        raise InputError("the image holds no digit (no pixel stands out from the background)")
    crop = grey[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
    box = max(1, int(round(size * BOX_FRACTION)))
    scale = box / max(crop.shape)
    height, width = max(1, int(round(crop.shape[0] * scale))), max(1, int(round(crop.shape[1] * scale)))
    resized = Image.fromarray(crop, mode="F").resize((width, height), Image.Resampling.LANCZOS if scale < 1
                                                     else Image.Resampling.BILINEAR)
    digit = np.clip(np.asarray(resized, np.float32), 0.0, 1.0)
    total = float(digit.sum())
    ys, xs = np.indices(digit.shape)
    cy, cx = ((ys * digit).sum() / total, (xs * digit).sum() / total) if total > 0 else (height / 2, width / 2)
    top = int(round(size / 2 - cy - 0.5))
    left = int(round(size / 2 - cx - 0.5))
    top = min(max(top, 0), size - height)
    left = min(max(left, 0), size - width)
    canvas = np.zeros((size, size), np.float32)
    canvas[top:top + height, left:left + width] = digit
    return canvas[..., None]


def as_batch(images: Any, image_shape: tuple[int, int, int], what: str = "images") -> np.ndarray:
    """Accept ``[N,H,W,C]`` (or ``[N,H,W]`` for one channel) float arrays in [0, 1] as a model batch.

    Shape, dtype and range are checked by the session against the manifest; this only adds a
    missing channel axis and converts float64 (numpy's default) to float32.
    """
    if not isinstance(images, np.ndarray):
        raise InputError(f"{what} must be a numpy array [N, H, W, C], got {type(images).__name__}")
    if images.ndim == 3 and image_shape[-1] == 1:
        images = images[..., None]
    if images.ndim != 4 or tuple(images.shape[1:]) != tuple(image_shape):
        raise InputError(f"{what} must have shape [N, {', '.join(map(str, image_shape))}], got {images.shape}")
    if images.dtype == np.float64:
        images = images.astype(np.float32)
    return images
