"""The GAN data sets: procedural ``shapes``, image ``folder`` and ``celeba`` (on tiny files written here)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from toolkit.datasets import folder, shapes
from toolkit.errors import DatasetError
from toolkit.registry import get_registry
from toolkit.spec import DataRequest


def write_image(path: Path, colour: tuple[int, int, int], size: tuple[int, int] = (12, 8)) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, colour).save(path)


# -- shapes -----------------------------------------------------------------------------------------
def test_shapes_are_seeded_colour_images_with_shape_labels() -> None:
    a = shapes.load("40", DataRequest(image_size=32, channels=3, seed=5))
    b = shapes.load("40", DataRequest(image_size=32, channels=3, seed=5))
    c = shapes.load("40", DataRequest(image_size=32, channels=3, seed=6))
    assert a.x_train.shape == (36, 32, 32, 3) and a.x_test.shape == (4, 32, 32, 3)
    assert a.x_train.dtype == np.float32 and 0 <= a.x_train.min() and a.x_train.max() <= 1
    np.testing.assert_array_equal(a.x_train, b.x_train)
    assert not np.array_equal(a.x_train, c.x_train)
    assert a.label_names == ["circle", "square", "triangle"] and set(a.y_train) <= {0, 1, 2}
    # Really colourful: the channels differ (not grey repeated three times).
    assert np.abs(a.x_train[..., 0] - a.x_train[..., 1]).mean() > 0.05


def test_shapes_64px_and_limit() -> None:
    data = shapes.load("20", DataRequest(image_size=64, channels=3, limit=5))
    assert data.x_train.shape == (5, 64, 64, 3)


@pytest.mark.parametrize("source, message", [("abc", "expected a number"), ("1", "at least 2"),
                                             ("10000000", "at most")])
def test_shapes_bad_counts(source: str, message: str) -> None:
    with pytest.raises(DatasetError, match=message):
        shapes.load(source, DataRequest())


def test_shapes_refuses_grey() -> None:
    with pytest.raises(DatasetError, match="colour"):
        shapes.load("10", DataRequest(channels=1))


# -- folder -----------------------------------------------------------------------------------------
def test_folder_labels_from_subfolders_centre_crop_and_resize(tmp_path: Path) -> None:
    for i in range(6):
        write_image(tmp_path / "cats" / f"{i}.png", (200, 0, 0), (30, 10))
        write_image(tmp_path / "dogs" / f"{i}.jpg", (0, 0, 200), (10, 30))
    (tmp_path / "notes.txt").write_text("not an image")
    data = folder.load_folder(str(tmp_path), DataRequest(image_size=16, channels=3))
    assert data.label_names == ["cats", "dogs"]
    assert len(data.x_train) + len(data.x_test) == 12 and len(data.x_test) == 1
    assert data.x_train.shape[1:] == (16, 16, 3)
    for image, label in zip(data.x_train, data.y_train):
        red, blue = image[..., 0].mean(), image[..., 2].mean()
        assert (red > blue) == (label == 0)
    grey = folder.load_folder(str(tmp_path), DataRequest(image_size=8, channels=1, limit=3))
    assert grey.x_train.shape == (3, 8, 8, 1)


def test_flat_folder_has_no_labels(tmp_path: Path) -> None:
    for i in range(3):
        write_image(tmp_path / f"{i}.png", (i * 50, 90, 30))
    data = folder.load_folder(str(tmp_path), DataRequest(image_size=8))
    assert data.label_names == [] and data.y_train is None and len(data.x_train) == 3


def test_folder_errors(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="folder:PATH"):
        folder.load_folder(None, DataRequest())
    with pytest.raises(DatasetError, match="does not exist"):
        folder.load_folder(str(tmp_path / "nope"), DataRequest())
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="no .* images"):
        folder.load_folder(str(tmp_path / "empty"), DataRequest())
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "bad.png").write_bytes(b"\x89PNG not really")
    with pytest.raises(DatasetError, match="bad.png"):
        folder.load_folder(str(tmp_path / "broken"), DataRequest())


# -- celeba -----------------------------------------------------------------------------------------
ATTRS = ["Smiling", "Male", "Eyeglasses"]


def write_celeba(root: Path, rows: list[tuple[str, list[int]]], *, subdir: bool = True,
                 count: int | None = None, names: list[str] = ATTRS) -> Path:
    images = root / folder.CELEBA_IMAGE_DIR if subdir else root
    for name, values in rows:
        write_image(images / name, (255 if values[0] > 0 else 0, 100, 100), (18, 22))
    lines = [str(len(rows) if count is None else count), " ".join(names)]
    lines += [f"{name} " + " ".join(f"{v:2d}" for v in values) for name, values in rows]
    (root / folder.ATTRIBUTE_FILE).write_text("\n".join(lines) + "\n")
    return root


def test_celeba_attributes_become_multi_hot_labels(tmp_path: Path) -> None:
    rows = [(f"{i:06d}.jpg", [1 if i % 2 else -1, 1 if i % 3 == 0 else -1, -1]) for i in range(1, 13)]
    write_celeba(tmp_path, rows)
    data = folder.load_celeba(str(tmp_path), DataRequest(image_size=8, channels=3))
    assert data.multi_label and data.label_names == ATTRS
    assert data.y_train.dtype == np.float32 and set(np.unique(data.y_train)) <= {0.0, 1.0}
    assert len(data.x_train) == 11 and len(data.x_test) == 1
    # Label rows stay attached to their images: "Smiling" images were written red.
    for image, label in zip(data.x_train, data.y_train):
        assert (image[..., 0].mean() > 0.7) == bool(label[0])
    flat = write_celeba(tmp_path / "flat", rows[:3], subdir=False)
    assert folder.load_celeba(str(flat / folder.ATTRIBUTE_FILE), DataRequest(image_size=8)).x_train.shape[0] == 3


@pytest.mark.parametrize("mutate, message", [
    (lambda t: t.replace("3\n", "5\n", 1), "says 5 images but 3"),
    (lambda t: t.replace("000002.jpg -1", "000002.jpg  7", 1), "not -1, 0 or 1"),
    (lambda t: t.replace("000002.jpg -1", "000002.jpg", 1), "has 2 values, expected 3"),
    (lambda t: t.replace("000002.jpg", "000001.jpg", 1), "listed twice"),
    (lambda t: t.replace("000003.jpg", "000099.jpg", 1), "missing"),
    (lambda t: "three\n" + t.split("\n", 1)[1], "number of images"),
])
def test_celeba_malformed_attribute_files(tmp_path: Path, mutate, message: str) -> None:  # noqa: ANN001
    rows = [(f"{i:06d}.jpg", [-1, 1, -1]) for i in range(1, 4)]
    write_celeba(tmp_path, rows)
    path = tmp_path / folder.ATTRIBUTE_FILE
    path.write_text(mutate(path.read_text()))
    with pytest.raises(DatasetError, match=message):
        folder.load_celeba(str(tmp_path), DataRequest(image_size=8))


def test_registry_finds_loaders_for_bare_paths(tmp_path: Path) -> None:
    write_celeba(tmp_path / "celeb", [("000001.jpg", [1, 1, 1])])
    write_image(tmp_path / "pics" / "a.png", (1, 2, 3))
    registry = get_registry()
    assert {"shapes", "folder", "celeba"} <= set(registry.datasets)
    assert registry.resolve_data(str(tmp_path / "celeb"), "images")[0].name == "celeba"
    assert registry.resolve_data(str(tmp_path / "pics"), "images")[0].name == "folder"
    with pytest.raises(DatasetError, match="no images under|no dataset loader"):
        (tmp_path / "empty").mkdir()
        registry.resolve_data(str(tmp_path / "empty"), "images")
