"""The ``digits`` and ``mnist`` loaders: layout, split, request handling, and malformed IDX files."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
import pytest

from toolkit.datasets import digits, mnist
from toolkit.errors import DatasetError
from toolkit.registry import get_registry
from toolkit.spec import DataRequest


def test_digits_is_mnist_like_and_split_is_fixed_and_stratified() -> None:
    data = digits.load(None, DataRequest(seed=5))
    assert data.x_train.shape[1:] == (28, 28, 1) and data.x_train.dtype == np.float32
    assert len(data.x_train) + len(data.x_test) == 1797
    assert 0.0 <= data.x_train.min() and data.x_train.max() <= 1.0
    # white digit on black: the border is black, the centre carries ink
    assert data.x_train[:, :4].max() == 0.0 and data.x_train[:, :, :4].max() == 0.0
    assert data.x_train[:, 10:18, 10:18].mean() > 0.2
    # stratified: every class is ~20% test
    for label in range(10):
        share = (data.y_test == label).sum() / ((data.y_test == label).sum() + (data.y_train == label).sum())
        assert abs(share - 0.2) < 0.02
    again = digits.load(None, DataRequest(seed=99))  # the split does not follow the run seed
    np.testing.assert_array_equal(again.x_test, data.x_test)
    np.testing.assert_array_equal(again.y_train, data.y_train)


def test_digits_honours_size_channels_and_limit() -> None:
    data = digits.load(None, DataRequest(image_size=32, channels=3, limit=50))
    assert data.x_train.shape == (50, 32, 32, 3)
    assert data.x_test.shape[1:] == (32, 32, 3)
    np.testing.assert_array_equal(data.x_train[..., 0], data.x_train[..., 2])
    with pytest.raises(DatasetError, match="channels"):
        digits.load(None, DataRequest(channels=2))
    with pytest.raises(DatasetError, match="takes no path"):
        digits.load("/tmp/x", DataRequest())


def write_idx(path: Path, array: np.ndarray, *, magic: int | None = None, cut: int = 0, gz: bool = False) -> Path:
    magic = magic if magic is not None else 0x0800 + array.ndim
    payload = struct.pack(">I", magic) + struct.pack(f">{array.ndim}I", *array.shape) + array.astype(np.uint8).tobytes()
    if cut:
        payload = payload[:-cut]
    path.write_bytes(gzip.compress(payload) if gz else payload)
    return path


def make_mnist_dir(root: Path, n_train: int = 30, n_test: int = 10, gz: bool = False) -> Path:
    rng = np.random.default_rng(0)
    suffix = ".gz" if gz else ""
    root.mkdir(parents=True, exist_ok=True)
    for split, n in (("train", n_train), ("t10k", n_test)):
        write_idx(root / f"{split}-images-idx3-ubyte{suffix}", rng.integers(0, 256, (n, 28, 28)), gz=gz)
        write_idx(root / f"{split}-labels-idx1-ubyte{suffix}", np.arange(n) % 10, gz=gz)
    return root


@pytest.mark.parametrize("gz", [False, True])
def test_mnist_reads_idx_directory(tmp_path: Path, gz: bool) -> None:
    root = make_mnist_dir(tmp_path / "m", gz=gz)
    raw = mnist.read_idx(root / f"train-images-idx3-ubyte{'.gz' if gz else ''}", 3)
    data = get_registry().dataset("mnist").load(str(root), DataRequest(seed=1))
    assert data.x_train.shape == (30, 28, 28, 1) and data.x_test.shape == (10, 28, 28, 1)
    assert data.label_names == [str(d) for d in range(10)]
    # values are the file's bytes / 255, in some seed-fixed order
    np.testing.assert_allclose(np.sort(data.x_train.ravel()), np.sort(raw.ravel() / 255.0), atol=1e-6)
    small = get_registry().dataset("mnist").load(str(root), DataRequest(image_size=14, limit=7))
    assert small.x_train.shape == (7, 14, 14, 1)
    assert mnist.accepts(root)
    spec, source = get_registry().resolve_data(str(root), "images")
    assert spec.name == "mnist" and source == str(root)


def test_fashion_mnist_uses_fashion_labels(tmp_path: Path) -> None:
    root = make_mnist_dir(tmp_path / "f")
    data = get_registry().dataset("fashion_mnist").load(str(root), DataRequest())
    assert data.label_names[9] == "Ankle boot"


def test_malformed_idx_files_are_clear_errors(tmp_path: Path) -> None:
    images = np.zeros((4, 28, 28))
    with pytest.raises(DatasetError, match="bad magic number 0x00000999"):
        mnist.read_idx(write_idx(tmp_path / "a-idx3-ubyte", images, magic=0x999), 3)
    with pytest.raises(DatasetError, match="truncated"):
        mnist.read_idx(write_idx(tmp_path / "b-idx3-ubyte", images, cut=10), 3)
    with pytest.raises(DatasetError, match="bad magic"):  # a label file where images are expected
        mnist.read_idx(write_idx(tmp_path / "c-idx1-ubyte", np.zeros(4)), 3)
    (tmp_path / "d-idx3-ubyte.gz").write_bytes(gzip.compress(b"\x00\x00\x08\x03" + b"\x00" * 8)[:-6])
    with pytest.raises(DatasetError, match="d-idx3-ubyte.gz"):
        mnist.read_idx(tmp_path / "d-idx3-ubyte.gz", 3)
    (tmp_path / "e-idx1-ubyte").write_bytes(b"\x00\x00")
    with pytest.raises(DatasetError, match="shorter than the 4-byte magic"):
        mnist.read_idx(tmp_path / "e-idx1-ubyte", 1)


def test_mnist_directory_problems(tmp_path: Path) -> None:
    root = make_mnist_dir(tmp_path / "m")
    write_idx(root / "t10k-labels-idx1-ubyte", np.arange(9) % 10)
    with pytest.raises(DatasetError, match="10 images but t10k-labels-idx1-ubyte holds 9 labels"):
        mnist.load_idx_directory(root)
    (root / "t10k-labels-idx1-ubyte").unlink()
    with pytest.raises(DatasetError, match="no test labels IDX file"):
        mnist.load_idx_directory(root)
    with pytest.raises(DatasetError, match="not a directory"):
        mnist.load_idx_directory(tmp_path / "nowhere")
    bad = make_mnist_dir(tmp_path / "bad")
    write_idx(bad / "train-labels-idx1-ubyte", np.full(30, 12))
    with pytest.raises(DatasetError, match="label 12 is out of range"):
        get_registry().dataset("mnist").load(str(bad), DataRequest())


class _FakeKeras:
    """Stands in for keras (no TensorFlow import, no network) to test the keras.datasets path."""

    def __init__(self, load_data) -> None:
        self.datasets = type("datasets", (), {})()
        self.datasets.mnist = type("m", (), {"load_data": staticmethod(load_data)})()
        self.datasets.fashion_mnist = self.datasets.mnist


def test_mnist_without_path_uses_keras_datasets(monkeypatch: pytest.MonkeyPatch) -> None:
    import toolkit.tf_setup

    rng = np.random.default_rng(0)
    arrays = ((rng.integers(0, 256, (20, 28, 28), dtype=np.uint8), np.arange(20) % 10),
              (rng.integers(0, 256, (5, 28, 28), dtype=np.uint8), np.arange(5)))
    monkeypatch.setattr(toolkit.tf_setup, "import_keras", lambda: _FakeKeras(lambda: arrays))
    data = get_registry().dataset("mnist").load(None, DataRequest(limit=8))
    assert data.source == "keras.datasets.mnist" and data.x_train.shape == (8, 28, 28, 1)
    np.testing.assert_allclose(data.x_test[..., 0], arrays[1][0] / 255.0, atol=1e-6)

    def offline():
        raise OSError("URL fetch failure: no network")

    monkeypatch.setattr(toolkit.tf_setup, "import_keras", lambda: _FakeKeras(offline))
    with pytest.raises(DatasetError, match=r"keras.datasets could not load it .*--data fashion_mnist:DIR"):
        get_registry().dataset("fashion_mnist").load(None, DataRequest())
