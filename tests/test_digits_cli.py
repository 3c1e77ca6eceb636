"""``onnxkit reconstruct|interpolate|classify`` on PNG files, through the real command line."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.conftest import run_cli
from toolkit.datasets import mnist5k
from toolkit.spec import DataRequest

ROOT = Path(__file__).resolve().parent.parent
AE, VAE, CLS = (str(ROOT / "exported" / n) for n in ("autoencoder-mnist", "vae-mnist", "classifier-mnist"))


@pytest.fixture(scope="module")
def drawings(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, list[int]]:
    """Two test digits as large dark-on-light PNGs (as a user would draw them)."""
    data = mnist5k.load(None, DataRequest())
    root = tmp_path_factory.mktemp("drawings")
    paths = []
    for i in (0, 1):
        pen = (255 - data.x_test[i, :, :, 0] * 255).astype(np.uint8)
        Image.fromarray(pen).resize((112, 112), Image.Resampling.BICUBIC).save(root / f"d{i}.png")
        paths.append(root / f"d{i}.png")
    return paths[0], paths[1], [int(data.y_test[0]), int(data.y_test[1])]


def test_classify_prints_top_k(drawings) -> None:
    a, _, labels = drawings
    result = run_cli("classify", CLS, "--image", str(a), "-k", "3")
    assert result.returncode == 0, result.stderr
    rows = [line.split("\t") for line in result.stdout.strip().splitlines()]
    assert len(rows) == 3 and rows[0][0] == str(labels[0])
    probabilities = [float(p) for _, p in rows]
    assert probabilities == sorted(probabilities, reverse=True) and 0 < sum(probabilities) <= 1.0001


def test_reconstruct_writes_a_png(drawings, tmp_path: Path) -> None:
    a, _, _ = drawings
    out = tmp_path / "r.png"
    result = run_cli("reconstruct", AE, "--image", str(a), "--out", str(out), "--compare", "--scale", "2")
    assert result.returncode == 0, result.stderr
    image = Image.open(out)
    assert image.mode == "L" and image.size == ((2 * 28 + 3 * 2) * 2, (28 + 2 * 2) * 2)
    assert "MSE" in result.stdout


@pytest.mark.parametrize("export,method", [(AE, "spherical"), (VAE, "linear"), (VAE, "distribution")])
def test_interpolate_writes_a_strip(drawings, tmp_path: Path, export: str, method: str) -> None:
    a, b, _ = drawings
    out = tmp_path / "s.png"
    result = run_cli("interpolate", export, "--from", str(a), "--to", str(b), "--steps", "5",
                     "--method", method, "--out", str(out), "--scale", "1")
    assert result.returncode == 0, result.stderr
    strip = np.asarray(Image.open(out))
    assert strip.shape == (28 + 4, 5 * 28 + 6 * 2)
    cells = [strip[2:30, 2 + i * 30:30 + i * 30] for i in range(5)]
    assert np.abs(cells[0].astype(int) - cells[-1].astype(int)).mean() > 5  # it goes somewhere


@pytest.mark.parametrize("args,message", [
    (["classify", AE, "--image", "IMG"], "has task 'autoencoder'; expected classifier"),
    (["interpolate", AE, "--from", "IMG", "--to", "IMG", "--method", "distribution", "--out", "OUT"],
     "--method distribution needs a VAE export"),
    (["reconstruct", VAE, "--image", "MISSING", "--out", "OUT"], "cannot open"),
    (["reconstruct", VAE, "--image", "IMG", "--out", "x.jpg"], "--out must name a .png file"),
    (["classify", CLS, "--image", "IMG", "-k", "11"], "-k must be from 1 to 10"),
    (["interpolate", VAE, "--from", "IMG", "--to", "IMG", "--steps", "1", "--out", "OUT"], "--steps must be from 2"),
])
def test_cli_errors_are_one_line(drawings, tmp_path: Path, args: list[str], message: str) -> None:
    a, _, _ = drawings
    args = [{"IMG": str(a), "OUT": str(tmp_path / "o.png"), "MISSING": str(tmp_path / "none.png")}.get(x, x)
            for x in args]
    result = run_cli(*args)
    assert result.returncode == 2
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "o.png").exists()
