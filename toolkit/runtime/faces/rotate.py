"""Rotated copies of an image and the way back, for finding faces MTCNN misses when they are tilted.

MTCNN was trained on roughly upright faces: a face turned 90 degrees (a phone photo saved
sideways) or tilted far is missed. :class:`~toolkit.runtime.tasks.faces.FaceDetector` can also
search rotated copies (``rotations=True``: 90, 180, 270 and +-30 degrees) and map what it finds
back with :func:`rotated_copy`'s matrix. Quarter turns are exact (``np.rot90``); other angles are a
bilinear Pillow rotation onto a canvas large enough to hold the whole image.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from PIL import Image

from toolkit.errors import InputError

#: What ``rotations=True`` searches besides the upright image (degrees, counter-clockwise as shown).
DEFAULT_ROTATIONS = (90.0, 180.0, 270.0, 30.0, -30.0)


def rotation_angles(rotations: bool | Sequence[float] | None) -> tuple[float, ...]:
    """``True`` -> :data:`DEFAULT_ROTATIONS`; a sequence -> those angles (0 dropped, checked)."""
    if rotations is None or rotations is False:
        return ()
    if rotations is True:
        return DEFAULT_ROTATIONS
    try:
        angles = tuple(float(a) for a in rotations)
    except (TypeError, ValueError):
        raise InputError(f"rotations must be True or a list of angles in degrees, got {rotations!r}") from None
    if not all(math.isfinite(a) for a in angles):
        raise InputError(f"rotation angles must be finite, got {angles}")
    return tuple(a for a in angles if a % 360.0 != 0.0)


def rotated_copy(rgb: np.ndarray, angle: float) -> tuple[np.ndarray, np.ndarray]:
    """``rgb`` turned ``angle`` degrees counter-clockwise, and the 2x3 matrix mapping pixel
    coordinates of that copy back to ``rgb``'s."""
    height, width = rgb.shape[:2]
    turns = angle / 90.0
    if turns == round(turns):
        k = int(round(turns)) % 4
        copy = np.ascontiguousarray(np.rot90(rgb, k))
        # np.rot90 by one turn: copy[r, c] = rgb[c, W-1-r]  ->  original (x, y) = (W-1-y', x')
        back = {0: [[1, 0, 0], [0, 1, 0]],
                1: [[0, -1, width - 1], [1, 0, 0]],
                2: [[-1, 0, width - 1], [0, -1, height - 1]],
                3: [[0, 1, 0], [-1, 0, height - 1]]}[k]
        return copy, np.array(back, np.float64)
    theta = math.radians(angle)
    cos, sin = math.cos(theta), math.sin(theta)
    # Forward (original -> copy) in continuous coordinates (pixel i spans [i, i+1]), y pointing down:
    # a counter-clockwise turn as displayed.
    forward = np.array([[cos, sin], [-sin, cos]])
    corners = np.array([[0, 0], [width, 0], [width, height], [0, height]], np.float64) - [width / 2, height / 2]
    turned = corners @ forward.T
    new_w, new_h = int(math.ceil(np.ptp(turned[:, 0]))), int(math.ceil(np.ptp(turned[:, 1])))
    inverse = forward.T  # copy -> original
    offset = np.array([width / 2, height / 2]) - inverse @ np.array([new_w / 2, new_h / 2])
    a, b, c = inverse[0, 0], inverse[0, 1], offset[0]
    d, e, f = inverse[1, 0], inverse[1, 1], offset[1]
    copy = Image.fromarray(rgb).transform((new_w, new_h), Image.Transform.AFFINE, (a, b, c, d, e, f),
                                          resample=Image.Resampling.BILINEAR, fillcolor=(0, 0, 0))
    # Pixel-index coordinates are continuous ones minus a half pixel on both sides.
    back = np.hstack([inverse, (offset + inverse @ [0.5, 0.5] - 0.5)[:, None]])
    return np.asarray(copy), back


def map_points(points: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """Apply a 2x3 matrix to ``[..., 2]`` points."""
    points = np.asarray(points, np.float64)
    return points @ matrix[:, :2].T + matrix[:, 2]


def box_iou(a: Sequence[float], boxes: np.ndarray) -> np.ndarray:
    """IoU of box ``a`` with each of ``boxes`` ``[N, 4]`` (x1, y1, x2, y2)."""
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    ix = np.clip(np.minimum(a[2], boxes[:, 2]) - np.maximum(a[0], boxes[:, 0]), 0, None)
    iy = np.clip(np.minimum(a[3], boxes[:, 3]) - np.maximum(a[1], boxes[:, 1]), 0, None)
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1]) - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)


__all__ = ["DEFAULT_ROTATIONS", "rotation_angles", "rotated_copy", "map_points", "box_iou"]
