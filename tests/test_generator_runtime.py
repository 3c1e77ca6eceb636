"""The ImageGenerator pipeline and ``onnxkit sample`` on the shipped GAN exports (no TensorFlow)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.conftest import ROOT, run_cli
from toolkit import runtime
from toolkit.errors import InputError
from toolkit.images import make_grid, to_uint8
from toolkit.runtime.tasks.generator import ImageGenerator

DCGAN = ROOT / "exported" / "dcgan-mnist"
CGAN = ROOT / "exported" / "cgan-mnist"
SHAPES = ROOT / "exported" / "dcgan-shapes"
#: Every shipped generator export (found by task, so a new one is checked without editing this list).
SHIPPED = sorted(p.parent for p in (ROOT / "exported").glob("*/manifest.json")
                 if '"task": "image-generator"' in p.read_text() or '"task": "conditional-generator"' in p.read_text())


@pytest.fixture(scope="module")
def dcgan() -> ImageGenerator:
    return runtime.load(DCGAN)


@pytest.fixture(scope="module")
def cgan() -> ImageGenerator:
    return runtime.load(CGAN)


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_shipped_exports_describe_themselves(path: Path) -> None:
    generator = runtime.load(path)
    assert isinstance(generator, ImageGenerator)
    info = generator.manifest.info
    assert info["latent_dim"] == generator.latent_dim and tuple(info["image_shape"]) == generator.image_shape
    assert info["output_range"] == [0.0, 1.0] and generator.z_range == (-5.0, 5.0)
    entry = generator.manifest.files["generator"]
    assert entry.parity["max_abs_diff"] <= 1e-4
    assert "samples.png" in generator.manifest.assets
    assert sum(f.stat().st_size for f in path.iterdir()) < 5_000_000


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_committed_sample_grid_is_what_the_onnx_file_generates(path: Path) -> None:
    """samples.png was drawn by Keras at export from seed 1; the ONNX file must redraw it."""
    generator = runtime.load(path)
    committed = np.asarray(Image.open(path / "samples.png"))
    if generator.conditional:
        n, labels, columns = 100, [i // 10 for i in range(100)], 10
    else:
        n, labels, columns = 64, None, 8
    images = generator.sample(n, seed=1, labels=labels)
    grid = to_uint8(make_grid(images, columns))
    grid = grid[..., 0] if grid.shape[-1] == 1 else grid
    assert grid.shape == committed.shape
    assert np.abs(grid.astype(int) - committed.astype(int)).max() <= 1


def test_same_seed_same_images_and_range(dcgan: ImageGenerator) -> None:
    a, b, c = dcgan.sample(6, seed=4), dcgan.sample(6, seed=4), dcgan.sample(6, seed=5)
    assert a.shape == (6, 28, 28, 1) and a.dtype == np.float32
    np.testing.assert_array_equal(a, b)
    assert np.abs(a - c).max() > 0.1
    assert 0.0 <= a.min() and a.max() <= 1.0
    np.testing.assert_array_equal(dcgan.random_z(3, seed=9), dcgan.random_z(3, seed=9))
    z = dcgan.random_z(1000, seed=0)
    assert abs(z.mean()) < 0.02 and abs(z.std() - 1) < 0.02 and np.abs(z).max() <= 5
    np.testing.assert_allclose(dcgan.generate(dcgan.random_z(6, seed=4)), a, atol=1e-6)


def test_interpolation_and_grid(dcgan: ImageGenerator) -> None:
    z = dcgan.random_z(4, seed=2)
    ends = dcgan.generate(z[[0, 1]])
    for method in ("linear", "spherical"):
        path = dcgan.interpolate(z[0], z[1], 7, method=method)
        assert path.shape == (7, 28, 28, 1)
        np.testing.assert_allclose(path[[0, -1]], ends, atol=1e-5)
    linear, spherical = dcgan.interpolate(z[0], z[1], 5), dcgan.interpolate(z[0], z[1], 5, "spherical")
    assert np.abs(linear[2] - spherical[2]).max() > 1e-3  # the midpoints differ (slerp keeps the norm)
    grid = dcgan.grid(z, 3, 4)
    assert grid.shape == (12, 28, 28, 1)
    np.testing.assert_allclose(grid[[0, 3, 8, 11]], dcgan.generate(z), atol=1e-5)
    with pytest.raises(InputError, match="unknown interpolation method"):
        dcgan.interpolate(z[0], z[1], 5, method="cubic")
    with pytest.raises(InputError, match="corners must have shape"):
        dcgan.grid(z[:3], 3, 3)


def test_bad_inputs_are_named(dcgan: ImageGenerator, cgan: ImageGenerator) -> None:
    with pytest.raises(InputError, match=r"z must have shape \[N, 100\]"):
        dcgan.generate(np.zeros((2, 7), np.float32))
    with pytest.raises(InputError, match="outside its range"):
        dcgan.generate(np.full((1, 100), 9.0, np.float32))
    with pytest.raises(InputError, match="NaN"):
        dcgan.generate(np.full((1, 100), np.nan, np.float32))
    with pytest.raises(InputError, match="between 1 and"):
        dcgan.sample(0)
    with pytest.raises(InputError, match="unconditional"):
        dcgan.sample(2, seed=1, labels=[3])
    with pytest.raises(InputError, match="unknown label 'eleven'"):
        cgan.sample(2, seed=1, labels=["eleven"])
    with pytest.raises(InputError, match="out of range"):
        cgan.sample(2, seed=1, labels=[10])
    with pytest.raises(InputError, match="3 label vectors for 2 images"):
        cgan.sample(2, seed=1, labels=[1, 2, 3])
    with pytest.raises(InputError, match="needs labels"):
        cgan.generate(cgan.random_z(2, seed=1))
    with pytest.raises(InputError, match=r"labels must have shape \[N, 10\]"):
        cgan.generate(cgan.random_z(2, seed=1), np.zeros((2, 3), np.float32))


def test_conditional_labels_by_id_name_or_vector(cgan: ImageGenerator) -> None:
    assert cgan.conditional and not cgan.multi_label and cgan.label_names == [str(d) for d in range(10)]
    by_id = cgan.sample(4, seed=3, labels=[7])
    by_name = cgan.sample(4, seed=3, labels="7")
    by_vector = cgan.sample(4, seed=3, labels=np.tile(np.eye(10, dtype=np.float32)[7], (4, 1)))
    np.testing.assert_array_equal(by_id, by_name)
    np.testing.assert_array_equal(by_id, by_vector)
    assert np.abs(by_id - cgan.sample(4, seed=3, labels=[1])).max() > 0.1  # the label changes the image
    free = cgan.sample(8, seed=3)  # no labels: random classes from the same seed
    np.testing.assert_array_equal(free, cgan.sample(8, seed=3))


def test_cgan_draws_the_digit_it_is_asked_for(cgan: ImageGenerator) -> None:
    """Class accuracy by the shipped MNIST classifier: 0.77 measured on 1,000 samples (REPRODUCE.md);
    a generator that ignored its label would score ~0.1."""
    classifier = runtime.load(ROOT / "exported" / "classifier-mnist")
    labels = [i % 10 for i in range(300)]
    predicted = classifier.predict(cgan.sample(300, seed=11, labels=labels), k=1)[0][:, 0]
    assert np.mean(predicted == np.array(labels)) >= 0.7


def test_cli_sample_writes_grids(tmp_path: Path) -> None:
    out = tmp_path / "grid.png"
    result = run_cli("sample", str(DCGAN), "-n", "12", "--seed", "1", "--columns", "4", "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert "12 images, seed 1" in result.stdout
    grid = np.asarray(Image.open(out))
    images = runtime.load(DCGAN).sample(12, seed=1)
    expected = to_uint8(make_grid(images, 4))[..., 0]
    assert grid.shape == expected.shape == (3 * 30 + 2, 4 * 30 + 2)
    assert np.abs(grid.astype(int) - expected.astype(int)).max() <= 1

    result = run_cli("sample", str(CGAN), "--label", "all", "-n", "30", "--seed", "2", "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert Image.open(out).size == (3 * 30 + 2, 10 * 30 + 2)  # one row per class, 3 columns
    result = run_cli("sample", str(DCGAN), "--interpolate", "6", "--rows", "2", "--method", "spherical",
                     "--out", str(out))
    assert result.returncode == 0 and Image.open(out).size == (6 * 30 + 2, 2 * 30 + 2)
    result = run_cli("sample", str(DCGAN), "--grid", "3x5", "--out", str(out))
    assert result.returncode == 0 and Image.open(out).size == (5 * 30 + 2, 3 * 30 + 2)


@pytest.mark.parametrize("args, message", [
    (["--label", "3"], "unconditional; it takes no --label"),
    (["--grid", "3by3"], "--grid expects ROWSxCOLS"),
    (["-n", "0"], "between 1 and"),
    (["--out", "/nonexistent/dir/x.png"], "does not exist"),
])
def test_cli_sample_errors(tmp_path: Path, args: list[str], message: str) -> None:
    if "--out" not in args:
        args = [*args, "--out", str(tmp_path / "x.png")]
    result = run_cli("sample", str(DCGAN), *args)
    assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "x.png").exists()


def test_cli_sample_unknown_cgan_label(tmp_path: Path) -> None:
    result = run_cli("sample", str(CGAN), "--label", "ten", "--out", str(tmp_path / "x.png"))
    assert result.returncode == 2 and "unknown label 'ten'" in result.stderr


def test_one_label_encoder_for_cli_and_apps(cgan: ImageGenerator) -> None:
    """choose_labels: every class in turn (interleaved or grouped), names or ids cycled, clear errors."""
    classes = len(cgan.label_names)
    assert cgan.choose_labels(classes + 2) == [*range(classes), 0, 1]
    assert cgan.choose_labels(3 * classes, "all", grouped=True) == [c for c in range(classes) for _ in range(3)]
    name = cgan.label_names[4]
    assert cgan.choose_labels(4, [name.upper(), "2"]) == [4, 2, 4, 2]
    with pytest.raises(InputError, match="unknown label 'ten'"):
        cgan.choose_labels(2, ["ten"])
    dcgan = runtime.load(DCGAN)
    assert dcgan.choose_labels(5) is None
    with pytest.raises(InputError, match="unconditional generator; it takes no labels"):
        dcgan.choose_labels(5, [3])
