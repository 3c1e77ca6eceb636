"""``digits``: scikit-learn's 1,797 real handwritten digits (8x8), made MNIST-like.

Why this shape: every model in onnxkit that works on digits expects MNIST's layout (28x28, white
digit on black, the digit inside a centred 20x20 box), so a model trained on ``digits`` also works
on real MNIST images and on user drawings prepared the MNIST way. The 8x8 images are upsampled to
20x20 and padded by 4 pixels on each side. The train/test split is stratified and uses a FIXED
seed (not the run seed), so every model is evaluated on the same 360 test images.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from toolkit.datasets._imageprep import limit_rows, resize_batch, with_channels
from toolkit.errors import DatasetError
from toolkit.hookspecs import hookimpl
from toolkit.spec import DataRequest, Dataset, DatasetSpec

SPLIT_SEED = 0
TEST_FRACTION = 0.2
MNIST_SIZE, MNIST_BOX = 28, 20
LABELS = [str(d) for d in range(10)]


def mnist_like(images8: np.ndarray) -> np.ndarray:
    """8x8 ink counts (0..16) -> float32 ``[N, 28, 28]`` in [0, 1], digit centred in a 20x20 box."""
    scaled = np.asarray(images8, np.float32) / 16.0
    box = resize_batch(scaled, MNIST_BOX)
    pad = (MNIST_SIZE - MNIST_BOX) // 2
    return np.pad(box, ((0, 0), (pad, pad), (pad, pad))).astype(np.float32)


def split_indices(labels: np.ndarray, test_fraction: float = TEST_FRACTION,
                  seed: int = SPLIT_SEED) -> tuple[np.ndarray, np.ndarray]:
    """A stratified split: the same share of every class goes to test; both halves shuffled."""
    rng = np.random.default_rng(seed)
    train, test = [], []
    for label in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == label))
        n_test = int(round(len(members) * test_fraction))
        test.append(members[:n_test])
        train.append(members[n_test:])
    return rng.permutation(np.concatenate(train)), rng.permutation(np.concatenate(test))


def load(source: str | None, request: DataRequest) -> Dataset:
    if source:
        raise DatasetError(f"digits: takes no path (it ships with scikit-learn), got {source!r}")
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise DatasetError("digits: needs scikit-learn (pip install 'onnxkit[train]')") from None
    bunch = load_digits()
    images = mnist_like(bunch.images)
    labels = bunch.target.astype(np.int64)
    size = request.image_size or MNIST_SIZE
    if size < 8:
        raise DatasetError(f"digits: image_size must be at least 8, got {size}")
    images = resize_batch(images, size)
    images = with_channels(images, request.channels, "digits")
    train_idx, test_idx = split_indices(labels)
    x_train, y_train = limit_rows(request.limit, images[train_idx], labels[train_idx])
    info: dict[str, Any] = {"split_seed": SPLIT_SEED, "test_fraction": TEST_FRACTION,
                            "layout": "white digit on black, centred in a 20/28 box like MNIST"}
    return Dataset(
        name="digits", kind="images",
        source="scikit-learn load_digits (UCI optical digits, 8x8) upsampled to MNIST layout",
        x_train=x_train, y_train=y_train, x_test=images[test_idx], y_test=labels[test_idx],
        label_names=list(LABELS), info=info,
    )


@hookimpl
def register_datasets(register: Any) -> None:
    register(DatasetSpec(
        name="digits", kind="images", load=load,
        description="1,797 real handwritten digits from scikit-learn, 28x28 MNIST-like, fixed 80/20 split",
    ))
