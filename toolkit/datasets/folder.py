"""Image folders: ``folder`` (any folder of JPEG/PNG) and ``celeba`` (CelebA with attribute labels).

``--data folder:PATH`` reads every ``.jpg``/``.jpeg``/``.png`` under PATH (recursively), centre-crops
each to a square and resizes it to the model's size. When every image sits in a first-level
sub-folder and there are at least two of them, the sub-folder names are the class labels.

``--data celeba:PATH`` reads CelebA: PATH is the folder holding ``list_attr_celeba.txt`` (or the
file itself); images are looked up next to it or in its ``img_align_celeba/`` sub-folder. The 40
binary attributes (``-1``/``1``) become a multi-hot label vector (``multi_label``).

Files are listed and split before anything is decoded, so ``limit`` keeps big folders cheap. The
split is fixed (seed 0, 10% test), whatever the run seed. Broken images, malformed attribute files
and empty folders are DatasetErrors naming the file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from toolkit.errors import DatasetError, InputError
from toolkit.hookspecs import hookimpl
from toolkit.images import load_image
from toolkit.spec import DataRequest, Dataset, DatasetSpec

SUFFIXES = (".jpg", ".jpeg", ".png")
ATTRIBUTE_FILE = "list_attr_celeba.txt"
CELEBA_IMAGE_DIR = "img_align_celeba"
DEFAULT_SIZE = 64
SPLIT_SEED = 0
TEST_FRACTION = 0.1


def list_images(root: Path) -> list[Path]:
    """Image files under ``root``, sorted (hidden files and folders skipped)."""
    return sorted(p for p in root.rglob("*") if p.suffix.lower() in SUFFIXES and p.is_file()
                  and not any(part.startswith(".") for part in p.relative_to(root).parts))


def split(n: int, limit: int | None) -> tuple[np.ndarray, np.ndarray]:
    """Fixed train/test index split of ``n`` items; ``limit`` caps train (and test to a quarter of it)."""
    order = np.random.default_rng(SPLIT_SEED).permutation(n)
    n_test = int(n * TEST_FRACTION) if n >= 10 else 0
    test, train = order[:n_test], order[n_test:]
    if limit is not None:
        train, test = train[:limit], test[:max(1, limit // 4)]
    return train, test


def decode(paths: list[Path], size: int, channels: int) -> np.ndarray:
    """Decode, centre-crop and resize images to float32 ``[N, size, size, channels]`` in [0, 1]."""
    out = np.empty((len(paths), size, size, channels), np.float32)
    for i, path in enumerate(paths):
        try:
            out[i] = load_image(path, size, channels, center_crop=True)
        except InputError as exc:
            raise DatasetError(f"bad image in the dataset: {exc}") from None
    return out


def _request_shape(request: DataRequest) -> tuple[int, int]:
    size, channels = request.image_size or DEFAULT_SIZE, request.channels or 3
    if size < 4:
        raise DatasetError(f"image size {size} is too small")
    if channels not in (1, 3):
        raise DatasetError(f"image folders give 1 or 3 channels, not {channels}")
    return size, channels


def _root(source: str | None, name: str) -> Path:
    if not source:
        raise DatasetError(f"{name}: give the folder, as --data {name}:PATH")
    root = Path(source)
    if not root.exists():
        raise DatasetError(f"{name}: {root} does not exist")
    return root


def load_folder(source: str | None, request: DataRequest) -> Dataset:
    root = _root(source, "folder")
    if not root.is_dir():
        raise DatasetError(f"folder: {root} is not a folder")
    size, channels = _request_shape(request)
    paths = list_images(root)
    if not paths:
        raise DatasetError(f"folder: no {'/'.join(SUFFIXES)} images under {root}")
    classes = sorted({p.relative_to(root).parts[0] for p in paths})
    labelled = len(classes) >= 2 and all(len(p.relative_to(root).parts) >= 2 for p in paths)
    labels = np.array([classes.index(p.relative_to(root).parts[0]) for p in paths], np.int64) if labelled else None
    train, test = split(len(paths), request.limit)
    return Dataset(
        name="folder", kind="images", source=f"image folder {root} ({len(paths)} images)",
        x_train=decode([paths[i] for i in train], size, channels),
        x_test=decode([paths[i] for i in test], size, channels),
        y_train=labels[train] if labels is not None else None,
        y_test=labels[test] if labels is not None else None,
        label_names=classes if labelled else [],
        info={"image_size": size, "preprocessing": "centre-cropped to a square, resized"},
    )


def parse_attributes(path: Path) -> tuple[list[str], list[str], np.ndarray]:
    """Read ``list_attr_celeba.txt``: (attribute names, file names, 0/1 matrix [N, A]).

    Format: line 1 the image count, line 2 the attribute names, then ``FILE v1 … vA`` with
    values -1 or 1 (0 is read as absent too).
    """
    try:
        lines = [line.split() for line in path.read_text().splitlines() if line.strip()]
    except (OSError, UnicodeDecodeError) as exc:
        raise DatasetError(f"{path}: cannot read ({exc})") from None
    if len(lines) < 2:
        raise DatasetError(f"{path}: expected a count line and an attribute-name line")
    try:
        declared = int(lines[0][0])
    except ValueError:
        raise DatasetError(f"{path}: line 1 must be the number of images, got {' '.join(lines[0])!r}") from None
    names = lines[1]
    if len(set(names)) != len(names):
        raise DatasetError(f"{path}: line 2 repeats an attribute name")
    rows = lines[2:]
    if not rows:
        raise DatasetError(f"{path}: lists no images")
    if len(rows) != declared:
        raise DatasetError(f"{path}: line 1 says {declared} images but {len(rows)} are listed")
    files: list[str] = []
    matrix = np.zeros((len(rows), len(names)), np.float32)
    for i, row in enumerate(rows):
        if len(row) != len(names) + 1:
            raise DatasetError(f"{path}: line {i + 3} has {len(row) - 1} values, expected {len(names)}")
        try:
            values = [int(v) for v in row[1:]]
        except ValueError:
            raise DatasetError(f"{path}: line {i + 3} has a value that is not -1, 0 or 1") from None
        if any(v not in (-1, 0, 1) for v in values):
            raise DatasetError(f"{path}: line {i + 3} has a value that is not -1, 0 or 1")
        files.append(row[0])
        matrix[i] = np.array(values) > 0
    if len(set(files)) != len(files):
        raise DatasetError(f"{path}: an image is listed twice")
    return names, files, matrix


def load_celeba(source: str | None, request: DataRequest) -> Dataset:
    root = _root(source, "celeba")
    attribute_file = root if root.is_file() else root / ATTRIBUTE_FILE
    if not attribute_file.is_file():
        raise DatasetError(f"celeba: {root} has no {ATTRIBUTE_FILE}")
    size, channels = _request_shape(request)
    names, files, matrix = parse_attributes(attribute_file)
    base = attribute_file.parent
    image_dir = base / CELEBA_IMAGE_DIR if (base / CELEBA_IMAGE_DIR / files[0]).exists() else base
    train, test = split(len(files), request.limit)
    wanted = [image_dir / files[i] for i in (*train, *test)]
    missing = [p for p in wanted if not p.is_file()]
    if missing:
        raise DatasetError(f"celeba: {len(missing)} listed image(s) are missing, e.g. {missing[0]}")
    return Dataset(
        name="celeba", kind="images", source=f"CelebA-style folder {base} ({len(files)} images)",
        x_train=decode([image_dir / files[i] for i in train], size, channels),
        x_test=decode([image_dir / files[i] for i in test], size, channels),
        y_train=matrix[train], y_test=matrix[test], label_names=names, multi_label=True,
        info={"image_size": size, "preprocessing": "centre-cropped to a square, resized",
              "attributes": len(names)},
    )


def _is_celeba(path: Path) -> bool:
    return path.name == ATTRIBUTE_FILE or (path.is_dir() and (path / ATTRIBUTE_FILE).is_file())


def _is_image_folder(path: Path) -> bool:
    return path.is_dir() and not _is_celeba(path) and any(
        p.suffix.lower() in SUFFIXES for p in path.rglob("*"))


@hookimpl
def register_datasets(register: Any) -> None:
    register(DatasetSpec(name="celeba", kind="images", load=load_celeba, accepts=_is_celeba,
                         description="CelebA images with the 40 attributes of list_attr_celeba.txt (celeba:PATH)"))
    register(DatasetSpec(name="folder", kind="images", load=load_folder, accepts=_is_image_folder,
                         description="any folder of JPEG/PNG, centre-cropped and resized (folder:PATH)"))
