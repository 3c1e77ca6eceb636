"""``mnist`` and ``fashion_mnist``: the real 28x28 datasets, from IDX files or ``keras.datasets``.

``--data mnist:DIR`` reads the four IDX files (``train-images-idx3-ubyte[.gz]``,
``train-labels-idx1-ubyte[.gz]``, ``t10k-images-idx3-ubyte[.gz]``, ``t10k-labels-idx1-ubyte[.gz]``;
any prefix starting with ``train`` / ``t10k`` or ``test``) from DIR. ``--data mnist`` with no
path asks ``keras.datasets`` (downloads once, needs the network). IDX files are validated
strictly — magic number, element type, declared sizes against the bytes present, image/label
counts — because a silently truncated dataset trains a silently worse model.
"""

from __future__ import annotations

import gzip
import struct
from pathlib import Path
from typing import Any

import numpy as np

from toolkit.datasets._imageprep import limit_rows, resize_batch, with_channels
from toolkit.errors import DatasetError
from toolkit.hookspecs import hookimpl
from toolkit.spec import DataRequest, Dataset, DatasetSpec

IDX_UBYTE = 0x08
MNIST_LABELS = [str(d) for d in range(10)]
FASHION_LABELS = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
                  "Ankle boot"]
SUFFIXES = ("-idx3-ubyte", "-idx3-ubyte.gz", "-idx1-ubyte", "-idx1-ubyte.gz")


def read_idx(path: str | Path, ndim: int) -> np.ndarray:
    """Read an unsigned-byte IDX file with ``ndim`` dimensions (3 for images, 1 for labels)."""
    path = Path(path)
    try:
        raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    except OSError as exc:  # includes gzip.BadGzipFile
        raise DatasetError(f"{path}: cannot read ({exc})") from None
    except EOFError:
        raise DatasetError(f"{path}: truncated gzip stream") from None
    if len(raw) < 4:
        raise DatasetError(f"{path}: not an IDX file ({len(raw)} bytes, shorter than the 4-byte magic number)")
    zero, dtype, dims = struct.unpack(">HBB", raw[:4])
    magic = int.from_bytes(raw[:4], "big")
    if zero != 0 or dtype != IDX_UBYTE or dims != ndim:
        raise DatasetError(
            f"{path}: bad magic number 0x{magic:08x}; expected 0x{0x0800 + ndim:08x} "
            f"(unsigned bytes, {ndim} dimension{'s' if ndim > 1 else ''})"
        )
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DatasetError(f"{path}: truncated header ({len(raw)} bytes, need {header})")
    shape = struct.unpack(f">{ndim}I", raw[4:header])
    expected = int(np.prod(shape, dtype=np.int64))
    present = len(raw) - header
    if present != expected:
        what = "truncated" if present < expected else "has trailing bytes"
        raise DatasetError(f"{path}: {what}: header declares shape {shape} ({expected} bytes), found {present}")
    if shape[0] == 0:
        raise DatasetError(f"{path}: holds no items")
    return np.frombuffer(raw, np.uint8, offset=header).reshape(shape)


def find_idx_files(directory: Path) -> dict[str, Path]:
    """Map ``train_images``/``train_labels``/``test_images``/``test_labels`` to files in ``directory``."""
    found: dict[str, list[Path]] = {}
    for path in sorted(directory.iterdir()):
        name = path.name.lower()
        if not path.is_file() or not name.endswith(SUFFIXES):
            continue
        split = "train" if name.startswith("train") else ("test" if name.startswith(("t10k", "test")) else None)
        if split is None:
            continue
        kind = "images" if "-idx3-" in name else "labels"
        found.setdefault(f"{split}_{kind}", []).append(path)
    result = {}
    for key in ("train_images", "train_labels", "test_images", "test_labels"):
        paths = found.get(key, [])
        if not paths:
            raise DatasetError(
                f"{directory}: no {key.replace('_', ' ')} IDX file (expected e.g. "
                f"{'train' if key.startswith('train') else 't10k'}-{key.split('_')[1]}-"
                f"idx{'3' if key.endswith('images') else '1'}-ubyte[.gz])"
            )
        if len(paths) > 1:
            raise DatasetError(f"{directory}: several {key.replace('_', ' ')} files: {[p.name for p in paths]}")
        result[key] = paths[0]
    return result


def load_idx_directory(directory: str | Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(x_train uint8 [N,28,28], y_train, x_test, y_test) from a directory of IDX files."""
    directory = Path(directory)
    if not directory.is_dir():
        raise DatasetError(f"{directory}: not a directory of MNIST IDX files")
    files = find_idx_files(directory)
    arrays = {}
    for split in ("train", "test"):
        images = read_idx(files[f"{split}_images"], 3)
        labels = read_idx(files[f"{split}_labels"], 1)
        if len(images) != len(labels):
            raise DatasetError(
                f"{directory}: {files[f'{split}_images'].name} holds {len(images)} images but "
                f"{files[f'{split}_labels'].name} holds {len(labels)} labels"
            )
        arrays[split] = (images, labels)
    return arrays["train"][0], arrays["train"][1], arrays["test"][0], arrays["test"][1]


def _from_keras(name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    from toolkit.tf_setup import import_keras

    keras = import_keras()
    module = getattr(keras.datasets, name)
    try:
        (x_train, y_train), (x_test, y_test) = module.load_data()
    except Exception as exc:  # no network, blocked download, corrupt cache
        raise DatasetError(
            f"{name}: keras.datasets could not load it ({type(exc).__name__}: {str(exc)[:150]}); offline, "
            f"give a directory of IDX files instead: --data {name}:DIR"
        ) from None
    return x_train, y_train, x_test, y_test


def _make_loader(name: str, labels: list[str]) -> Any:
    def load(source: str | None, request: DataRequest) -> Dataset:
        if source:
            x_train, y_train, x_test, y_test = load_idx_directory(source)
            origin = f"IDX files in {source}"
        else:
            x_train, y_train, x_test, y_test = _from_keras(name)
            origin = f"keras.datasets.{name}"
        for split, y in (("train", y_train), ("test", y_test)):
            if y.size and int(y.max()) >= len(labels):
                raise DatasetError(f"{name}: {split} label {int(y.max())} is out of range 0..{len(labels) - 1}")
        size = request.image_size or 28
        prepared = []
        for x in (x_train, x_test):
            images = resize_batch(x.astype(np.float32) / 255.0, size)
            prepared.append(with_channels(images, request.channels, name))
        # Shuffle train with the run seed so --set limit=N keeps a class-balanced-ish subset.
        order = np.random.default_rng(request.seed).permutation(len(x_train))
        xt, yt = limit_rows(request.limit, prepared[0][order], y_train[order].astype(np.int64))
        return Dataset(name=name, kind="images", source=origin, x_train=xt, y_train=yt,
                       x_test=prepared[1], y_test=y_test.astype(np.int64), label_names=list(labels),
                       info={"layout": "white on black, 28x28 source"})
    return load


def accepts(path: Path) -> bool:
    """A bare ``--data DIR`` is MNIST when DIR holds IDX files."""
    return path.is_dir() and any(p.name.lower().endswith(SUFFIXES) for p in path.iterdir())


@hookimpl
def register_datasets(register: Any) -> None:
    register(DatasetSpec(name="mnist", kind="images", load=_make_loader("mnist", MNIST_LABELS), accepts=accepts,
                         description="MNIST digits: IDX files from mnist:DIR, or keras.datasets when online"))
    register(DatasetSpec(name="fashion_mnist", kind="images", load=_make_loader("fashion_mnist", FASHION_LABELS),
                         description="Fashion-MNIST: IDX files from fashion_mnist:DIR, or keras.datasets when online"))
