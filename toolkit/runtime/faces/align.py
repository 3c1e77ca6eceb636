"""Five-point face alignment (numpy + Pillow): the 112x112 ArcFace template, or dlib's face chip.

A similarity transform (rotation, uniform scale, translation) is fitted by least squares
(Umeyama, 1991) from the detected landmarks to a template, and the image is warped with it.
Embedders trained on aligned crops expect exactly this geometry:

- ``arcface-5-point`` (:func:`align_face`): insightface's 112x112 template.
- ``dlib-chip`` (:func:`align_dlib_chip`): where dlib's ``get_face_chip(size=150, padding=0.25)``
  puts a face. dlib aligns with its own 5 points (eye corners and the base of the nose), which
  MTCNN does not give, so :data:`DLIB_CHIP_TEMPLATE` holds where *MTCNN's* five points land in
  dlib's chips, measured on the 5 Celebrity Faces photos (``benchmarks/bench_dlib_chip.py``
  derives it and measures the descriptor distance between our chips and dlib's). The warp
  follows dlib's ``extract_image_chip``: pixel-index coordinates, bilinear sampling, and a
  halving pyramid first when the chip is much smaller than the face (dlib's ``pyramid_down<2>``;
  here Pillow's box ``reduce``).
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


DLIB_CHIP_SIZE = 150
DLIB_CHIP_PADDING = 0.25
#: dlib's mean face for its 5-point shape predictor (right eye outer and inner corner, left eye
#: outer and inner corner, base of the nose), in [0, 1] of a chip without padding
#: (dlib/image_transforms/interpolation.h, get_face_chip_details).
DLIB_MEAN_FACE = np.array([
    [0.8595674595992, 0.2134981538014],
    [0.6460604764104, 0.2289674387677],
    [0.1205750620789, 0.2137274526848],
    [0.3340850613712, 0.2290642403242],
    [0.4901123135679, 0.6277975316475],
])
#: Where MTCNN's five points land in dlib's 150x150 chip: the mean over the 5 Celebrity Faces train
#: photos (benchmarks/bench_dlib_chip.py --derive). Used as the frame the map below works in.
DLIB_CHIP_TEMPLATE = np.array([
    [46.7878, 43.4754],
    [100.1706, 43.6420],
    [73.8556, 76.6548],
    [48.6837, 102.3637],
    [96.8120, 102.3360],
], dtype=np.float64)
#: A linear map (ridge, lambda 10) from MTCNN's five points to dlib's five shape-predictor points,
#: both in the frame where MTCNN's points best fit :data:`DLIB_CHIP_TEMPLATE`: row-vector
#: ``[x0, y0, ..., x4, y4, 1] @ MAP``. Fitted on the same 87 train faces; it lowers the descriptor
#: distance between our chips and dlib's on the val photos from 0.168 (template alone) to 0.131 (mean).
MTCNN_TO_DLIB_POINTS = np.array([
    [-0.57744, -0.13378, -0.26629, -0.10507, 0.75091, 0.29839, 0.2872, 0.01966, -0.0998, 0.05435],
    [0.34894, -0.07682, 0.26251, 0.11048, -0.29115, 0.64228, -0.05593, 0.31759, -0.02052, -0.04578],
    [0.84138, -0.28131, 0.50017, -0.15091, -0.30439, -0.02968, -0.00268, -0.01636, 0.11028, -0.01909],
    [-0.23117, 0.723, -0.23002, 0.57609, -0.15482, -0.06758, -0.13502, 0.18068, -0.18209, -0.06502],
    [-0.1709, 0.03779, -0.07054, 0.01599, -0.32694, -0.0783, -0.13657, -0.06416, 0.51426, 0.03171],
    [-0.1267, -0.25022, -0.11922, -0.07459, 0.02928, -0.179, -0.07855, -0.04328, -0.10967, 0.44951],
    [-0.02394, 0.14873, -0.10303, 0.19238, -0.22784, -0.19643, -0.16187, 0.03128, -0.38736, -0.00343],
    [-0.08967, -0.23695, 0.01469, -0.34317, 0.65066, -0.29985, 0.36138, -0.32701, 0.348, -0.11125],
    [-0.06911, 0.22857, -0.06032, 0.04761, 0.10827, 0.00602, 0.01392, 0.02958, -0.13738, -0.06354],
    [0.09861, -0.15901, 0.07204, -0.26881, -0.23397, -0.09585, -0.09188, -0.12799, -0.03573, -0.22746],
    [77.20682, 79.71527, 66.37629, 89.63188, 32.06837, 78.73847, 48.76914, 75.86213, 47.61954, 95.63332],
])


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
    return umeyama(_checked_points(landmarks, size), ARCFACE_TEMPLATE * (size / 112.0))


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


def warp_like_dlib(rgb: np.ndarray, transform: np.ndarray, size: int) -> np.ndarray:
    """Sample ``size x size`` pixels of ``rgb`` where ``transform`` (2x3, image -> chip, pixel-index
    coordinates as dlib uses them) puts them: uint8 ``[size, size, 3]``, black outside the image.

    Like dlib's ``extract_image_chip``: when the face region is over 4x the chip's area, the
    image is first halved (box filter) as often as dlib's pyramid would, so bilinear sampling
    never skips pixels.
    """
    forward = np.vstack([np.asarray(transform, np.float64), [0.0, 0.0, 1.0]])
    inverse = np.linalg.inv(forward)  # chip -> image
    scale = float(np.sqrt(abs(np.linalg.det(inverse[:2, :2]))))  # image pixels per chip pixel
    source = Image.fromarray(rgb)
    halvings = 0
    while (scale / 2 ** (halvings + 1)) ** 2 > 1.0 and min(source.size) >= 2 ** (halvings + 2):
        halvings += 1
    if halvings:
        corners = inverse @ np.array([[0, size, 0, size], [0, 0, size, size], [1, 1, 1, 1]], np.float64)
        step = 2 ** halvings
        margin = 2 * step
        left = int(max(0, np.floor(corners[0].min()) - margin)) // step * step
        top = int(max(0, np.floor(corners[1].min()) - margin)) // step * step
        right = int(min(source.width, np.ceil(corners[0].max()) + margin))
        bottom = int(min(source.height, np.ceil(corners[1].max()) + margin))
        if right - left >= step and bottom - top >= step:
            source = source.crop((left, top, right, bottom)).reduce(step)
            # chip -> reduced crop: shift to the crop, then pixel-index coordinates shrink by ``step``
            # (reduced pixel i covers original pixels i*step .. i*step+step-1, centred at i*step+(step-1)/2).
            shift = np.array([[1.0, 0.0, -left - (step - 1) / 2], [0.0, 1.0, -top - (step - 1) / 2], [0, 0, 1]])
            inverse = np.diag([1.0 / step, 1.0 / step, 1.0]) @ shift @ inverse
    # Pillow samples output pixel centres (x + 0.5) and reads input pixel centres at +0.5 too:
    # conjugate by that half-pixel shift so index coordinates map as dlib maps them.
    half = np.array([[1.0, 0.0, 0.5], [0.0, 1.0, 0.5], [0.0, 0.0, 1.0]])
    pillow = half @ inverse @ np.linalg.inv(half)
    a, b, c = pillow[0]
    d, e, f = pillow[1]
    warped = source.transform((size, size), Image.Transform.AFFINE, (a, b, c, d, e, f),
                              resample=Image.Resampling.BILINEAR, fillcolor=(0, 0, 0))
    return np.asarray(warped, dtype=np.uint8)


def _checked_points(landmarks: np.ndarray, size: int) -> np.ndarray:
    """MTCNN's five points as float64 ``[5, 2]``, or a clear error (and a sane output size)."""
    points = np.asarray(landmarks, np.float64)
    if points.shape != (5, 2):
        raise InputError(f"landmarks must be [5, 2] (x, y of eyes, nose, mouth corners), got shape {points.shape}")
    if not np.isfinite(points).all():
        raise InputError("landmarks contain NaN or infinity")
    if size < 16:
        raise InputError(f"aligned size must be at least 16 pixels, got {size}")
    return points


def dlib_points_from_mtcnn(landmarks: np.ndarray) -> np.ndarray:
    """Estimate dlib's five shape-predictor points ``[5, 2]`` (image pixels) from MTCNN's five landmarks."""
    points = _checked_points(landmarks, DLIB_CHIP_SIZE)
    frame = np.vstack([umeyama(points, DLIB_CHIP_TEMPLATE), [0.0, 0.0, 1.0]])
    in_frame = points @ frame[:2, :2].T + frame[:2, 2]
    estimated = (np.append(in_frame.ravel(), 1.0) @ MTCNN_TO_DLIB_POINTS).reshape(5, 2)
    back = np.linalg.inv(frame)
    return estimated @ back[:2, :2].T + back[:2, 2]


def dlib_chip_matrix(dlib_points: np.ndarray, size: int = DLIB_CHIP_SIZE,
                     padding: float = DLIB_CHIP_PADDING) -> np.ndarray:
    """Image -> chip (2x3) for dlib's five shape-predictor points, computed as dlib computes it:
    ``get_face_chip_details`` (a least-squares similarity from the padded mean face to the points,
    kept as a rectangle and an angle) then ``get_mapping_to_chip`` (rectangle corners -> chip corners)."""
    chip_points = (padding + DLIB_MEAN_FACE) / (2 * padding + 1) * size
    to_image = umeyama(chip_points, np.asarray(dlib_points, np.float64))
    linear, shift = to_image[:, :2], to_image[:, 2]
    unit = linear @ np.array([1.0, 0.0])
    angle, scale = np.arctan2(unit[1], unit[0]), float(np.hypot(*unit))
    centre = linear @ np.array([size / 2, size / 2]) + shift
    half = (size * scale - 1) / 2  # dlib's centered_drect: width - 1
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    corners = np.array([[-half, -half], [half, -half], [half, half]]) @ rotation.T + centre
    targets = np.array([[0.0, 0.0], [size - 1, 0.0], [size - 1, size - 1]])
    return np.linalg.solve(np.hstack([corners, np.ones((3, 1))]), targets).T


def dlib_chip_transform(landmarks: np.ndarray, size: int = DLIB_CHIP_SIZE) -> np.ndarray:
    """2x3 matrix mapping image pixels to dlib's ``size x size`` face chip, from MTCNN's five landmarks."""
    _checked_points(landmarks, size)
    return dlib_chip_matrix(dlib_points_from_mtcnn(landmarks), size)


def align_dlib_chip(image: Any, landmarks: np.ndarray, size: int = DLIB_CHIP_SIZE) -> np.ndarray:
    """dlib's face chip (``get_face_chip``, padding 0.25) from MTCNN's five landmarks: uint8 ``[size, size, 3]``."""
    return warp_like_dlib(to_rgb_uint8(image), dlib_chip_transform(landmarks, size), size)


#: How each ``alignment`` named in an embedder's manifest cuts faces.
ALIGNMENTS = {"arcface-5-point": align_face, "dlib-chip": align_dlib_chip}


def aligner(name: str) -> Any:
    """The function for an embedder's ``info["alignment"]`` (``arcface-5-point`` when it names none)."""
    key = name.split(" ", 1)[0] if name else "arcface-5-point"
    if key not in ALIGNMENTS:
        raise InputError(f"unknown face alignment {name!r}; known: {sorted(ALIGNMENTS)}")
    return ALIGNMENTS[key]
