"""Five-point face alignment to the 112x112 ArcFace template (numpy + Pillow).

A similarity transform (rotation, uniform scale, translation) is fitted by least squares
(Umeyama, 1991) from the detected landmarks to the template, and the image is warped with it.
Embedders trained on aligned crops expect exactly this geometry.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from PIL import Image

from toolkit.errors import InputError
from toolkit.runtime.faces.imageio import to_rgb_uint8

#: Left eye, right eye, nose, mouth left, mouth right in a 112x112 crop (insightface's ArcFace template).
ARCFACE_TEMPLATE = np.array([
    [38.2946, 51.6963],
    [73.5318, 51.5014],
    [56.0252, 71.7366],
    [41.5493, 92.3655],
    [70.7299, 92.2041],
], dtype=np.float64)


def umeyama(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """The 2x3 similarity transform ``T`` minimising ``sum |T(src_i) - dst_i|^2`` (with reflection guard)."""
    src = np.asarray(src, np.float64)
    dst = np.asarray(dst, np.float64)
    n = len(src)
    mean_src, mean_dst = src.mean(0), dst.mean(0)
    src_c, dst_c = src - mean_src, dst - mean_dst
    covariance = dst_c.T @ src_c / n
    u, singular, vt = np.linalg.svd(covariance)
    sign = np.eye(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        sign[1, 1] = -1
    rotation = u @ sign @ vt
    variance = (src_c ** 2).sum() / n
    if variance <= 1e-12:
        raise InputError("landmarks are degenerate (all at one point); cannot align")
    scale = float(np.trace(np.diag(singular) @ sign)) / variance
    translation = mean_dst - scale * rotation @ mean_src
    return np.hstack([scale * rotation, translation[:, None]])


def alignment_transform(landmarks: np.ndarray, size: int = 112) -> np.ndarray:
    """2x3 matrix mapping image pixels to the ``size x size`` aligned crop."""
    points = np.asarray(landmarks, np.float64)
    if points.shape != (5, 2):
        raise InputError(f"landmarks must be [5, 2] (x, y of eyes, nose, mouth corners), got shape {points.shape}")
    if not np.isfinite(points).all():
        raise InputError("landmarks contain NaN or infinity")
    if size < 16:
        raise InputError(f"aligned size must be at least 16 pixels, got {size}")
    return umeyama(points, ARCFACE_TEMPLATE * (size / 112.0))


def align_face(image: Any, landmarks: np.ndarray, size: int = 112) -> np.ndarray:
    """Warp ``image`` so its five landmarks land on the ArcFace template: uint8 ``[size, size, 3]``.

    Pixels outside the source image are black.
    """
    rgb = to_rgb_uint8(image)
    forward = np.vstack([alignment_transform(landmarks, size), [0.0, 0.0, 1.0]])
    inverse = np.linalg.inv(forward)  # Pillow wants output -> input coordinates
    a, b, c = inverse[0]
    d, e, f = inverse[1]
    warped = Image.fromarray(rgb).transform((size, size), Image.Transform.AFFINE, (a, b, c, d, e, f),
                                           resample=Image.Resampling.BILINEAR, fillcolor=(0, 0, 0))
    return np.asarray(warped, dtype=np.uint8)
