"""The numeric pieces of the MTCNN cascade in plain numpy, matching the ``mtcnn`` 1.0.0 package.

Each function mirrors one step of the reference implementation (same formulas, same quirks) so
that onnxruntime detections agree with the package's: TensorFlow's area resize for the pyramid,
``crop_and_resize``'s bilinear sampling for R-Net/O-Net crops, and the package's NMS, which drops
a box when *any* higher-scored box overlaps it (not only a kept one).

Box arrays are float64 ``[N, 5]``: x1, y1, x2, y2, score (pixels of the original image).
"""

from __future__ import annotations

import numpy as np

PNET_STRIDE = 2
PNET_CELL = 12


def pyramid_scales(height: int, width: int, min_face_size: float, scale_factor: float,
                   min_size: int = PNET_CELL) -> np.ndarray:
    """Scales of the image pyramid (the reference's ``build_scale_pyramid``)."""
    min_dim = min(width, height)
    if min_dim < 1:
        return np.empty(0)
    count = round(-((np.log(min_dim / min_size) / np.log(scale_factor)) + 1))
    return (min_size / min_face_size) * scale_factor ** np.arange(max(count, 0))


def scaled_shape(height: int, width: int, scale: float) -> tuple[int, int]:
    """Output size of one pyramid level: truncation, as TensorFlow casts the float size."""
    h, w = np.asarray([height, width]) * scale
    return int(h), int(w)


def _area_axis(image: np.ndarray, size_out: int, axis: int) -> np.ndarray:
    """Area-resample one axis: output o is the mean of input span ``[o * s, (o + 1) * s)``
    (s = size_in / size_out), partial pixels weighted by their coverage.

    Done as a few weighted gathers ("taps"), so the cost is about one pass over the input whatever
    the scale, without BLAS threads (which fight onnxruntime's for the cores).
    """
    size_in = image.shape[axis]
    scale = size_in / size_out
    start = np.arange(size_out) * scale
    end = np.minimum((np.arange(size_out) + 1) * scale, size_in)
    first = np.floor(start).astype(np.int64)
    taps = int(np.ceil(scale)) + 1
    shape = [1] * image.ndim
    shape[axis] = size_out
    result = np.zeros(image.shape[:axis] + (size_out,) + image.shape[axis + 1:], np.float32)
    for tap in range(taps):
        index = first + tap
        weight = np.clip(np.minimum(index + 1, end) - np.maximum(index, start), 0.0, None) / (end - start)
        if not weight.any():
            continue
        result += np.take(image, np.minimum(index, size_in - 1), axis=axis) * weight.astype(np.float32).reshape(shape)
    return result


def area_resize(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """Area resize of ``[H, W, C]`` float data, equal to ``tf.image.resize(method="area")``."""
    image = np.asarray(image, dtype=np.float32)
    if image.shape[0] != height:
        image = _area_axis(image, height, 0)
    if image.shape[1] != width:
        image = _area_axis(image, width, 1)
    return image


def pnet_boxes(regression: np.ndarray, probability: np.ndarray, scale: float, threshold: float) -> np.ndarray:
    """P-Net maps (one image) -> candidate boxes in original-image pixels, best first."""
    score = probability[0, :, :, 1]
    ys, xs = np.where(score > threshold)
    if ys.size == 0:
        return np.empty((0, 5))
    reg = regression[0, ys, xs].astype(np.float64)
    x1, y1 = xs * PNET_STRIDE + 1.0, ys * PNET_STRIDE + 1.0
    x2, y2 = xs * PNET_STRIDE + float(PNET_CELL), ys * PNET_STRIDE + float(PNET_CELL)
    size = PNET_CELL - 1.0
    boxes = np.stack([x1 + reg[:, 0] * size, y1 + reg[:, 1] * size, x2 + reg[:, 2] * size,
                      y2 + reg[:, 3] * size, score[ys, xs].astype(np.float64)], axis=1)
    boxes = sort_by_score(boxes)
    boxes[:, :4] /= scale
    return boxes


def sort_by_score(boxes: np.ndarray) -> np.ndarray:
    return boxes[np.argsort(boxes[:, 4])[::-1]]


def nms(boxes: np.ndarray, threshold: float, method: str = "union", block: int = 1024) -> np.ndarray:
    """Indices of boxes kept, for boxes sorted best first: box j is dropped when any earlier box
    overlaps it by more than ``threshold`` (the reference's rule). Computed in blocks to bound memory."""
    n = len(boxes)
    if n == 0:
        return np.empty(0, dtype=np.int64)
    x1, y1, x2, y2 = (boxes[:, i] for i in range(4))
    area = (x2 - x1) * (y2 - y1)
    suppressed = np.zeros(n, dtype=bool)
    for begin in range(0, n, block):
        stop = min(n, begin + block)
        # earlier boxes i (rows 0..stop) against boxes j in this block
        ix1 = np.maximum(x1[:stop, None], x1[None, begin:stop])
        iy1 = np.maximum(y1[:stop, None], y1[None, begin:stop])
        ix2 = np.minimum(x2[:stop, None], x2[None, begin:stop])
        iy2 = np.minimum(y2[:stop, None], y2[None, begin:stop])
        inter = np.maximum(0.0, ix2 - ix1) * np.maximum(0.0, iy2 - iy1)
        if method == "union":
            denominator = area[:stop, None] + area[None, begin:stop] - inter
        else:
            denominator = np.minimum(area[:stop, None], area[None, begin:stop])
        with np.errstate(divide="ignore", invalid="ignore"):
            overlap = inter / denominator
        earlier = np.arange(stop)[:, None] < np.arange(begin, stop)[None, :]
        suppressed[begin:stop] = ((overlap > threshold) & earlier).any(axis=0)
    return np.flatnonzero(~suppressed)


def to_square(boxes: np.ndarray) -> np.ndarray:
    """Grow each box to a square around its centre (the reference's ``resize_to_square``)."""
    boxes = boxes.copy()
    w = boxes[:, 2] - boxes[:, 0]
    h = boxes[:, 3] - boxes[:, 1]
    side = np.maximum(w, h)
    boxes[:, 0] = boxes[:, 0] + w * 0.5 - side * 0.5
    boxes[:, 1] = boxes[:, 1] + h * 0.5 - side * 0.5
    boxes[:, 2] = boxes[:, 0] + side
    boxes[:, 3] = boxes[:, 1] + side
    return boxes


def apply_offsets(boxes: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Refine boxes by regression offsets measured in (size + 1) units."""
    boxes = boxes.copy()
    w = boxes[:, 2] - boxes[:, 0] + 1
    h = boxes[:, 3] - boxes[:, 1] + 1
    boxes[:, :4] += offsets.astype(np.float64) * np.stack([w, h, w, h], axis=1)
    return boxes


def crop_and_resize(image: np.ndarray, boxes: np.ndarray, size: int) -> np.ndarray:
    """Bilinear ``size x size`` crops of ``image`` ``[H, W, C]`` for pixel boxes, zero outside the image.

    Same sampling grid as ``tf.image.crop_and_resize`` with boxes normalised by the image size.
    """
    height, width = image.shape[:2]
    steps = np.arange(size, dtype=np.float64)

    def grid(lo: np.ndarray, hi: np.ndarray, extent: int) -> np.ndarray:
        lo_n, hi_n = lo / extent, hi / extent
        return lo_n[:, None] * (extent - 1) + steps[None, :] * ((hi_n - lo_n) * (extent - 1) / (size - 1))[:, None]

    in_y = grid(boxes[:, 1], boxes[:, 3], height)  # [N, size]
    in_x = grid(boxes[:, 0], boxes[:, 2], width)
    valid_y = (in_y >= 0) & (in_y <= height - 1)
    valid_x = (in_x >= 0) & (in_x <= width - 1)
    top = np.clip(np.floor(in_y), 0, height - 1).astype(np.int64)
    bottom = np.clip(np.ceil(in_y), 0, height - 1).astype(np.int64)
    left = np.clip(np.floor(in_x), 0, width - 1).astype(np.int64)
    right = np.clip(np.ceil(in_x), 0, width - 1).astype(np.int64)
    # float32 lerp weights keep the arithmetic in float32, as TensorFlow's kernel does (and half the bytes)
    y_lerp = (in_y - np.floor(in_y)).astype(np.float32)[:, :, None, None]
    x_lerp = (in_x - np.floor(in_x)).astype(np.float32)[:, None, :, None]
    t, b = top[:, :, None], bottom[:, :, None]
    l, r = left[:, None, :], right[:, None, :]
    top_row = image[t, l] + (image[t, r] - image[t, l]) * x_lerp
    bottom_row = image[b, l] + (image[b, r] - image[b, l]) * x_lerp
    crops = top_row + (bottom_row - top_row) * y_lerp
    mask = (valid_y[:, :, None] & valid_x[:, None, :])[..., None]
    return np.where(mask, crops, 0.0).astype(np.float32)


def landmarks_in_image(landmarks: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """O-Net landmark fractions -> pixels ``[N, 5, 2]`` using the (square) input boxes."""
    w = (boxes[:, 2] - boxes[:, 0] + 1)[:, None]
    h = (boxes[:, 3] - boxes[:, 1] + 1)[:, None]
    xs = w * landmarks[:, 0:5] + boxes[:, 0:1] - 1
    ys = h * landmarks[:, 5:10] + boxes[:, 1:2] - 1
    return np.stack([xs, ys], axis=-1)

