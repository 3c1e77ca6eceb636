"""Turn whatever a caller passes as "an image" into one RGB array, with clear errors.

Accepted: a PIL image (any mode), a path, raw bytes, or a numpy array that is grey ``[H, W]`` /
``[H, W, 1]``, RGB ``[H, W, 3]`` or RGBA ``[H, W, 4]``, uint8 (0..255) or float (0..1, onnxkit's
convention). Normalised by :func:`toolkit.images.flatten_pil` / :func:`toolkit.images.normalise_array`,
the one normaliser every pipeline and app uses.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from toolkit.errors import InputError
from toolkit.images import MAX_PIXELS, flatten_pil, normalise_array, open_image, to_uint8


def to_rgb_uint8(image: Any) -> np.ndarray:
    """Any supported image -> uint8 ``[H, W, 3]`` RGB; an array already in that form is returned
    as is (a face is matched, detected and aligned on one array without copying it three times)."""
    if isinstance(image, (str, Path, bytes)):
        image = open_image(image)
    if isinstance(image, Image.Image):
        return np.asarray(flatten_pil(image).convert("RGB"), dtype=np.uint8)
    if not isinstance(image, np.ndarray):
        raise InputError(f"expected a PIL image, a path or a numpy array, got {type(image).__name__}")
    if image.dtype == np.uint8 and image.ndim == 3 and image.shape[-1] == 3 and image.size:
        if image.shape[0] * image.shape[1] > MAX_PIXELS:
            raise InputError(f"image is {image.shape[1]}x{image.shape[0]}, more than {MAX_PIXELS:,} pixels")
        return image
    values = normalise_array(image)
    return to_uint8(np.repeat(values, 3, axis=-1) if values.shape[-1] == 1 else values)
