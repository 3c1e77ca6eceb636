"""Image helpers shared by training (sample grids) and serving (PNG in/out). numpy + Pillow only.

Images inside onnxkit are float32 ``[N, H, W, C]`` arrays in [0, 1] (C = 1 or 3) unless a model's
manifest says otherwise.
"""

from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from toolkit.errors import InputError
from toolkit.fsutil import atomic_write_bytes

#: Refuse images with more pixels than this (decompression bombs, absurd uploads).
MAX_PIXELS = 40_000_000


def to_uint8(images: np.ndarray) -> np.ndarray:
    """[0, 1] floats -> uint8, clipping stray values."""
    return (np.clip(np.asarray(images, dtype=np.float32), 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def make_grid(images: np.ndarray, columns: int | None = None, padding: int = 2, pad_value: float = 1.0) -> np.ndarray:
    """Tile ``[N, H, W, C]`` images into one ``[H', W', C]`` image, ``columns`` wide (square by default)."""
    images = np.asarray(images, dtype=np.float32)
    if images.ndim == 3:
        images = images[..., None]
    if images.ndim != 4 or images.shape[0] == 0:
        raise InputError(f"make_grid expects a non-empty [N, H, W, C] batch, got shape {images.shape}")
    n, h, w, c = images.shape
    columns = columns or math.ceil(math.sqrt(n))
    rows = math.ceil(n / columns)
    grid = np.full((rows * h + (rows + 1) * padding, columns * w + (columns + 1) * padding, c), pad_value, np.float32)
    for i, image in enumerate(images):
        r, col = divmod(i, columns)
        y, x = padding + r * (h + padding), padding + col * (w + padding)
        grid[y:y + h, x:x + w] = image
    return grid


def to_pil(image: np.ndarray) -> Image.Image:
    """One ``[H, W, C]`` (or ``[H, W]``) float image in [0, 1] -> a PIL image (L or RGB)."""
    array = to_uint8(image)
    if array.ndim == 3 and array.shape[-1] == 1:
        array = array[..., 0]
    return Image.fromarray(array)


def png_bytes(image: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    to_pil(image).save(buffer, format="PNG")
    return buffer.getvalue()


def save_png(path: str | Path, image: np.ndarray) -> None:
    """Write one image (or a grid) as PNG, atomically."""
    atomic_write_bytes(path, png_bytes(image))


def save_grid(path: str | Path, images: np.ndarray, columns: int | None = None) -> None:
    save_png(path, make_grid(images, columns))


def open_image(source: str | Path | bytes | Image.Image, *, max_pixels: int = MAX_PIXELS) -> Image.Image:
    """Open an image file, bytes or PIL image, refusing non-images, truncated files and huge sizes."""
    if isinstance(source, Image.Image):
        image = source
    else:
        name = "upload" if isinstance(source, bytes) else str(source)
        if not isinstance(source, bytes) and not Path(source).is_file():
            raise InputError(f"{name}: cannot open (no such file)")
        try:
            with Image.open(io.BytesIO(source) if isinstance(source, bytes) else source) as opened:
                if opened.width * opened.height > max_pixels:
                    raise InputError(
                        f"{name}: image is {opened.width}x{opened.height}, more than {max_pixels:,} pixels"
                    )
                opened.load()
                image = opened.copy()
        except UnidentifiedImageError:
            raise InputError(f"{name}: not an image (or a format Pillow cannot read)") from None
        except (OSError, SyntaxError, Image.DecompressionBombError) as exc:
            raise InputError(f"{name}: corrupt or truncated image ({exc})") from None
    if image.width * image.height > max_pixels:
        raise InputError(f"image is {image.width}x{image.height}, more than {max_pixels:,} pixels")
    if image.width == 0 or image.height == 0:
        raise InputError("image is empty (0 pixels)")
    return image


#: PIL modes holding more than 8 bits a pixel (16-bit PNGs, 32-bit int and float TIFFs).
WIDE_MODES = ("I;16", "I;16B", "I;16L", "I", "F")
#: How grey is computed from RGB (ITU-R 601, what Pillow's convert("L") uses).
GREY_WEIGHTS = np.array([0.299, 0.587, 0.114], np.float32)


def flatten_pil(image: Image.Image) -> Image.Image:
    """The one normaliser of PIL images at the edge: transparency composited on white (a sketchpad's
    strokes sit on a transparent canvas), 16-bit / int / float modes scaled to 8 bits by their peak.
    Returns an image Pillow can ``convert`` to "L" or "RGB" without losing what the user sees."""
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        image = Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)), rgba)
    if image.mode in WIDE_MODES:
        array = np.asarray(image, dtype=np.float32)
        image = Image.fromarray((array / (array.max() or 1.0) * 255).astype(np.uint8))
    return image


def normalise_array(array: np.ndarray, *, tolerance: float = 0.0) -> np.ndarray:
    """The one normaliser of image arrays at the edge: grey ``[H, W]`` / ``[H, W, 1]``, RGB or RGBA,
    uint8 (0..255) or float (0..1, onnxkit's convention) -> float32 ``[H, W, 1 or 3]`` in [0, 1],
    transparency composited on white. Anything else is an :class:`InputError` saying what is wrong.
    ``tolerance``: float values this far outside [0, 1] (resampling overshoot) are clipped, not refused."""
    if array.ndim == 2:
        array = array[..., None]
    if array.ndim != 3 or array.shape[-1] not in (1, 3, 4):
        raise InputError(f"expected an image array [H, W] or [H, W, 1|3|4], got shape {array.shape}")
    height, width = array.shape[:2]
    if height == 0 or width == 0:
        raise InputError(f"image is empty (shape {array.shape})")
    if height * width > MAX_PIXELS:
        raise InputError(f"image is {width}x{height}, more than {MAX_PIXELS:,} pixels")
    if array.dtype == np.uint8:
        values = array.astype(np.float32) / 255.0
    elif array.dtype.kind == "f":
        if not np.isfinite(array).all():
            raise InputError("image array contains NaN or infinity")
        low, high = float(array.min()), float(array.max())
        if low < -tolerance or high > 1.0 + tolerance:
            raise InputError(f"float image values must lie in [0, 1] (got [{low:g}, {high:g}]); "
                             "pass uint8 for 0..255 pixels")
        values = np.clip(array.astype(np.float32), 0.0, 1.0)
    else:
        raise InputError(f"image array has dtype {array.dtype}; expected uint8, or float in [0, 1]")
    if values.shape[-1] == 4:
        alpha = values[..., 3:4]
        values = values[..., :3] * alpha + (1.0 - alpha)
    return values


def to_array(image: Image.Image, channels: int) -> np.ndarray:
    """PIL image -> float32 ``[H, W, channels]`` in [0, 1] (normalised by :func:`flatten_pil`)."""
    image = flatten_pil(image).convert("L" if channels == 1 else "RGB")
    array = np.asarray(image, dtype=np.float32) / 255.0
    return array[..., None] if channels == 1 else array


def load_image(source: str | Path | bytes | Image.Image, size: int | tuple[int, int] | None = None,
               channels: int = 3, *, center_crop: bool = False) -> np.ndarray:
    """Read an image as float32 ``[H, W, C]`` in [0, 1], optionally centre-cropped to a square and resized."""
    image = open_image(source)
    if center_crop:
        side = min(image.size)
        left, top = (image.width - side) // 2, (image.height - side) // 2
        image = image.crop((left, top, left + side, top + side))
    if size is not None:
        target = (size, size) if isinstance(size, int) else (size[1], size[0])
        image = image.convert("RGBA" if image.mode in ("RGBA", "LA", "PA") else ("L" if channels == 1 and image.mode == "L" else "RGB"))
        image = image.resize(target, Image.Resampling.LANCZOS if image.width > target[0] else Image.Resampling.BICUBIC)
    return to_array(image, channels)
