"""``shapes``: a procedurally generated colour data set (coloured shapes on plain backgrounds).

It exists so the colour DCGAN path is trained, tested and demonstrated offline. Each image shows
one circle, square or triangle (the label) in a saturated colour, at a random position and size,
on a random muted background; shapes are drawn at 4x and downsampled, so edges are anti-aliased.
``--data shapes`` gives 4,000 images; ``--data shapes:N`` gives N. Same seed, same images.
"""

from __future__ import annotations

import colorsys
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from toolkit.errors import DatasetError
from toolkit.hookspecs import hookimpl
from toolkit.spec import DataRequest, Dataset, DatasetSpec

SHAPES = ("circle", "square", "triangle")
DEFAULT_COUNT = 4000
DEFAULT_SIZE = 32
MAX_COUNT = 200_000
SUPERSAMPLE = 4


def _colour(rng: np.random.Generator, saturation: tuple[float, float], value: tuple[float, float]) -> tuple[int, ...]:
    r, g, b = colorsys.hsv_to_rgb(rng.random(), rng.uniform(*saturation), rng.uniform(*value))
    return int(r * 255), int(g * 255), int(b * 255)


def render_shape(rng: np.random.Generator, kind: int, size: int) -> np.ndarray:
    """One ``[size, size, 3]`` float32 image in [0, 1] showing shape ``kind`` (index into SHAPES)."""
    big = size * SUPERSAMPLE
    image = Image.new("RGB", (big, big), _colour(rng, (0.1, 0.4), (0.15, 0.45)))
    draw = ImageDraw.Draw(image)
    radius = rng.uniform(0.22, 0.38) * big
    cx, cy = rng.uniform(radius, big - radius, size=2)
    fill = _colour(rng, (0.6, 1.0), (0.75, 1.0))
    if SHAPES[kind] == "circle":
        draw.ellipse((cx - radius, cy - radius, cx + radius, cy + radius), fill=fill)
    elif SHAPES[kind] == "square":
        half = radius * 0.85
        draw.rectangle((cx - half, cy - half, cx + half, cy + half), fill=fill)
    else:
        angle = rng.uniform(0, 2 * np.pi / 3)
        points = [(cx + radius * np.cos(angle + k * 2 * np.pi / 3), cy + radius * np.sin(angle + k * 2 * np.pi / 3))
                  for k in range(3)]
        draw.polygon(points, fill=fill)
    small = image.resize((size, size), Image.Resampling.BOX)
    return np.asarray(small, dtype=np.float32) / 255.0


def generate(count: int, size: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``count`` images ``[count, size, size, 3]`` and their shape ids, reproducible from ``seed``."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, len(SHAPES), size=count)
    images = np.stack([render_shape(rng, int(k), size) for k in labels]) if count else np.zeros((0, size, size, 3))
    return images.astype(np.float32), labels.astype(np.int64)


def _parse_count(source: str | None) -> int:
    if source is None or source == "":
        return DEFAULT_COUNT
    try:
        count = int(source)
    except ValueError:
        raise DatasetError(f"shapes: expected a number of images after 'shapes:', got {source!r}") from None
    if count < 2:
        raise DatasetError(f"shapes: asked for {count} images; need at least 2 (one to train, one to test)")
    if count > MAX_COUNT:
        raise DatasetError(f"shapes: asked for {count} images; at most {MAX_COUNT} are generated")
    return count


def load(source: str | None, request: DataRequest) -> Dataset:
    count = _parse_count(source)
    size = request.image_size or DEFAULT_SIZE
    if size < 8:
        raise DatasetError(f"shapes: image size {size} is too small (at least 8 pixels)")
    if request.channels not in (None, 3):
        raise DatasetError(f"shapes is a colour data set (3 channels); the model asks for {request.channels}")
    images, labels = generate(count, size, seed=request.seed)
    test = max(1, count // 10)
    x_train, y_train = images[test:], labels[test:]
    if request.limit is not None:
        x_train, y_train = x_train[:request.limit], y_train[:request.limit]
    return Dataset(name="shapes", kind="images", source=f"procedural shapes ({count} images, seed {request.seed})",
                   x_train=x_train, x_test=images[:test], y_train=y_train, y_test=labels[:test],
                   label_names=list(SHAPES), info={"image_size": size})


@hookimpl
def register_datasets(register: Any) -> None:
    register(DatasetSpec(name="shapes", kind="images", load=load,
                         description="procedural coloured circles/squares/triangles (offline colour set; shapes:N)"))
