"""The ``autoencoder`` and ``vae`` plugins and the ``AutoEncoder`` pipeline (shipped exports + tiny runs)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from toolkit import runtime
from toolkit.datasets import mnist5k
from toolkit.errors import InputError
from toolkit.spec import DataRequest

ROOT = Path(__file__).resolve().parent.parent
AE, VAE = ROOT / "exported" / "autoencoder-mnist", ROOT / "exported" / "vae-mnist"


@pytest.fixture(scope="module")
def test_images() -> np.ndarray:
    return mnist5k.load(None, DataRequest()).x_test


@pytest.fixture(scope="module")
def ae():
    return runtime.load(AE)


@pytest.fixture(scope="module")
def vae():
    return runtime.load(VAE)


@pytest.mark.parametrize("path", [AE, VAE], ids=["autoencoder", "vae"])
def test_shipped_reconstruction_matches_the_keras_test_figure(path: Path, test_images: np.ndarray) -> None:
    """The ONNX files reproduce the test-set MSE Keras measured after training (real-data parity)."""
    pipeline = runtime.load(path)
    recon = pipeline.reconstruct(test_images)
    assert recon.shape == test_images.shape and recon.dtype == np.float32
    assert 0.0 <= recon.min() and recon.max() <= 1.0
    mse = float(np.mean((recon - test_images) ** 2))
    assert mse == pytest.approx(pipeline.manifest.metrics["test_mse"], abs=1e-6)
    assert mse < 0.03
    # and far better than predicting the mean image
    assert mse < 0.5 * float(np.mean((test_images.mean(axis=0) - test_images) ** 2))
    for entry in pipeline.manifest.files.values():
        assert entry.parity["max_abs_diff"] <= 1e-4


def test_autoencoder_codes_and_compression(ae, test_images: np.ndarray) -> None:
    assert type(ae).__name__ == "AutoEncoder" and not ae.is_vae
    assert ae.latent_dim == 32 and ae.image_shape == (28, 28, 1)
    assert ae.info["compression_factor"] == pytest.approx(784 / 32)
    codes = ae.encode(test_images[:10])
    assert codes.shape == (10, 32) and (codes >= 0).all()
    np.testing.assert_allclose(ae.decode(codes), ae.reconstruct(test_images[:10]), atol=1e-6)
    full = ae.run("autoencoder", image=test_images[:10])["reconstruction"]
    np.testing.assert_allclose(full, ae.decode(codes), atol=1e-5)
    with pytest.raises(InputError, match="no latent distribution"):
        ae.encode_distribution(test_images[:2])
    with pytest.raises(InputError, match=r"codes must have shape \[N, 32\]"):
        ae.decode(np.zeros((2, 8), np.float32))


@pytest.mark.parametrize("method", ["linear", "spherical"])
def test_interpolation_runs_between_the_two_reconstructions(ae, vae, test_images: np.ndarray, method: str) -> None:
    a, b = test_images[0], test_images[1]
    for pipeline in (ae, vae):
        path = pipeline.interpolate(a, b, steps=6, method=method)
        assert path.shape == (6, 28, 28, 1)
        ends = pipeline.reconstruct(np.stack([a, b]))
        np.testing.assert_allclose(path[0], ends[0], atol=1e-5)
        np.testing.assert_allclose(path[-1], ends[1], atol=1e-5)
        steps = np.abs(np.diff(path, axis=0)).mean(axis=(1, 2, 3))
        assert steps.max() < np.abs(ends[1] - ends[0]).mean()  # each step is a part of the way
    if method == "spherical":  # same ends, another path in between
        linear = vae.interpolate(a, b, steps=5, method="linear")
        assert np.abs(linear[2] - vae.interpolate(a, b, steps=5, method=method)[2]).max() > 1e-4
    with pytest.raises(InputError, match="unknown interpolation method"):
        vae.interpolate(a, b, steps=4, method="cubic")


def test_latent_grid(ae, vae) -> None:
    grid = vae.latent_grid(rows=3, columns=4, span=2.0)
    assert grid.shape == (12, 28, 28, 1)
    # the centre of a 3x3 grid is the decoded origin of the prior
    centre = vae.latent_grid(rows=3, columns=3)[4]
    np.testing.assert_allclose(centre, vae.decode(np.zeros((1, vae.latent_dim), np.float32))[0], atol=1e-5)
    seeded = vae.latent_grid(3, 3, seed=1)
    np.testing.assert_array_equal(seeded, vae.latent_grid(3, 3, seed=1))
    assert np.abs(seeded - vae.latent_grid(3, 3, seed=2)).max() > 1e-3
    assert ae.latent_grid(2, 2, dims=(3, 7)).shape == (4, 28, 28, 1)
    with pytest.raises(InputError, match="two different dimensions"):
        ae.latent_grid(2, 2, dims=(1, 1))
    with pytest.raises(InputError, match="span must be a positive"):
        vae.latent_grid(2, 2, span=0)


def test_vae_distributions(vae, test_images: np.ndarray) -> None:
    assert vae.is_vae and vae.info["prior"].startswith("standard normal")
    mu, logvar = vae.encode_distribution(test_images[:4])
    assert mu.shape == logvar.shape == (4, vae.latent_dim)
    np.testing.assert_allclose(vae.encode(test_images[:4]), mu)
    assert (logvar < 0).mean() > 0.5  # the posterior is narrower than the prior
    path = vae.interpolate_distributions(test_images[0], test_images[1], steps=5, seed=3)
    assert path.shape == (5, 28, 28, 1)
    np.testing.assert_array_equal(path, vae.interpolate_distributions(test_images[0], test_images[1], 5, seed=3))
    eps = np.random.default_rng(3).standard_normal(vae.latent_dim).astype(np.float32)
    first = vae.decode(mu[:1] + np.exp(0.5 * logvar[:1]) * eps)
    np.testing.assert_allclose(path[0], first[0], atol=1e-5)


def test_prepare_accepts_drawings_and_rejects_junk(vae, test_images: np.ndarray) -> None:
    drawing = np.full((200, 150, 3), 255, np.uint8)
    drawing[60:140, 50:70] = 0  # a dark vertical bar on white: a "1"
    prepared = vae.prepare(drawing)
    assert prepared.shape == (1, 28, 28, 1) and prepared[0, :3].max() == 0.0
    assert prepared[0, 10:18, 12:16].mean() > 0.5  # the bar is centred and white
    with pytest.raises(InputError, match="expected an image array"):
        vae.prepare(np.zeros((2, 3, 4, 5)))
    with pytest.raises(InputError, match=r"\[0, 1\]"):
        vae.prepare(np.full((10, 10), 7.0))
    with pytest.raises(InputError, match="expected uint8, or float"):
        vae.prepare(np.zeros((10, 10), np.int64))
    with pytest.raises(InputError, match="not an image"):
        vae.prepare(b"not a png")


def _train_tiny(name: str, tmp_path: Path, overrides: dict[str, str], run_id: str = "t"):
    from toolkit import training

    return training.train(name, data="mnist-5k", runs_root=tmp_path / "runs", run_id=run_id, seed=4, epochs=1,
                          overrides={"limit": "128", **overrides}, verbose=0)


@pytest.mark.slow
def test_tiny_autoencoder_exports_three_files_matching_keras(tmp_path: Path, test_images: np.ndarray) -> None:
    from toolkit.export import export_run

    result = _train_tiny("autoencoder", tmp_path, {"hidden": "16,8", "latent_dim": "4"})
    manifest = export_run(result.run_dir, tmp_path / "ae")
    assert set(manifest.files) == {"encoder", "decoder", "autoencoder"}
    pipeline = runtime.load(tmp_path / "ae")
    mse = float(np.mean((pipeline.reconstruct(test_images) - test_images) ** 2))
    assert mse == pytest.approx(result.metrics["test_mse"], abs=1e-6)
    assert len(result.metrics["latent_mean"]) == 4 and pipeline.latent_center.shape == (4,)


@pytest.mark.slow
def test_tiny_vae_is_deterministic_and_exports_matching_keras(tmp_path: Path, test_images: np.ndarray) -> None:
    from toolkit.export import export_run

    overrides = {"latent_dim": "2", "filters": "4,8", "dense": "16"}
    first = _train_tiny("vae", tmp_path, overrides, "a")
    second = _train_tiny("vae", tmp_path, overrides, "b")
    assert first.metrics == second.metrics  # same seed, same result
    assert json.loads((first.run_dir / "history.json").read_text()) == \
        json.loads((second.run_dir / "history.json").read_text())
    manifest = export_run(first.run_dir, tmp_path / "vae")
    assert set(manifest.files) == {"encoder", "decoder"}
    pipeline = runtime.load(tmp_path / "vae")
    mse = float(np.mean((pipeline.reconstruct(test_images) - test_images) ** 2))
    assert mse == pytest.approx(first.metrics["test_mse"], abs=1e-6)
