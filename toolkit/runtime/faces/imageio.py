"""Turn whatever a caller passes as "an image" into one RGB array, with clear errors.

Accepted: a PIL image (any mode), a path, raw bytes, or a numpy array that is grey ``[H, W]`` /
``[H, W, 1]``, RGB ``[H, W, 3]`` or RGBA ``[H, W, 4]``, uint8 (0..255) or float (0..1, onnxkit's
convention). Transparent pixels are composited on white, as :func:`toolkit.images.to_array` does.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from toolkit.errors import InputError
from toolkit.images import MAX_PIXELS, open_image


def to_rgb_uint8(image: Any) -> np.ndarray:
    """Any supported image -> uint8 ``[H, W, 3]`` RGB."""
    if isinstance(image, (str, Path, bytes)):
        image = open_image(image)
    if isinstance(image, Image.Image):
        if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
            rgba = image.convert("RGBA")
            image = Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)), rgba)
        if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
            array = np.asarray(image, dtype=np.float32)
            image = Image.fromarray((array / (array.max() or 1.0) * 255).astype(np.uint8))
        return np.asarray(image.convert("RGB"), dtype=np.uint8)
    if not isinstance(image, np.ndarray):
        raise InputError(f"expected a PIL image, a path or a numpy array, got {type(image).__name__}")
    return array_to_rgb_uint8(image)


def array_to_rgb_uint8(array: np.ndarray) -> np.ndarray:
    if array.ndim == 2:
        array = array[..., None]
    if array.ndim != 3 or array.shape[-1] not in (1, 3, 4):
        raise InputError(f"image array must be [H, W], [H, W, 1], [H, W, 3] or [H, W, 4]; got shape {array.shape}")
    height, width = array.shape[:2]
    if height == 0 or width == 0:
        raise InputError(f"image is empty (shape {array.shape})")
    if height * width > MAX_PIXELS:
        raise InputError(f"image is {width}x{height}, more than {MAX_PIXELS:,} pixels")
    if array.dtype == np.uint8 and array.shape[-1] == 3:
        return array.copy(order="C")  # already what callers get: a fresh copy, no float round trip
    if array.dtype == np.uint8:
        values = array.astype(np.float32)
    elif array.dtype.kind == "f":
        if not np.isfinite(array).all():
            raise InputError("image array contains NaN or infinity")
        if array.min() < 0.0 or array.max() > 1.0:
            raise InputError(
                f"float image values must lie in [0, 1] (got [{array.min():g}, {array.max():g}]); "
                "pass uint8 for 0..255 pixels"
            )
        values = array.astype(np.float32) * 255.0
    else:
        raise InputError(f"image array dtype must be uint8 or float, got {array.dtype}")
    if values.shape[-1] == 4:
        alpha = values[..., 3:4] / 255.0
        values = values[..., :3] * alpha + 255.0 * (1.0 - alpha)
    elif values.shape[-1] == 1:
        values = np.repeat(values, 3, axis=-1)
    return np.clip(values + 0.5, 0, 255).astype(np.uint8)
