"""GAN plugins end to end on tiny configs: train (logs, sample grids, NaN stop, collapse warning),
export the generator alone, and check ONNX against Keras."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import onnx
import pytest

from toolkit import runtime, training
from toolkit.errors import TrainingError
from toolkit.export import export_run

TINY = {"limit": "48", "filters": "8", "batch_size": "16", "grid_samples": "9", "latent_dim": "8"}

pytestmark = pytest.mark.slow


def train_tiny(tmp_path: Path, model: str, data: str = "digits", epochs: int = 1, **overrides: str) -> Path:
    result = training.train(model, data=data, overrides={**TINY, **overrides}, epochs=epochs,
                            runs_root=tmp_path / "runs", run_id=f"{model}-r", verbose=0)
    return result.run_dir


@pytest.mark.parametrize("model, figures", [
    ("gan", {"d_loss", "g_loss", "d_real", "d_fake"}),
    ("dcgan", {"d_loss", "g_loss", "d_real", "d_fake"}),
    ("cgan", {"d_loss", "g_loss", "d_class_loss", "real_class_acc", "fake_class_acc"}),
    ("ebgan", {"d_loss", "g_loss", "energy_real", "energy_fake", "pull_away"}),
    ("began", {"d_loss", "g_loss", "k", "convergence"}),
])
def test_train_logs_grids_and_exports_the_generator(tmp_path: Path, model: str, figures: set[str]) -> None:
    run_dir = train_tiny(tmp_path, model)
    history = json.loads((run_dir / "history.json").read_text())
    assert figures <= set(history) and all(np.isfinite(history[k][0]) for k in figures)
    grid = run_dir / "samples" / "epoch_001.png"
    assert grid.is_file() and grid.read_bytes().startswith(b"\x89PNG")
    assert "1" in json.loads((run_dir / "samples" / "diversity.json").read_text())["ratio_by_epoch"]

    out = tmp_path / "exported" / model
    manifest = export_run(run_dir, out)
    entry = manifest.files["generator"]
    assert entry.parity["max_abs_diff"] <= 1e-4
    assert [t.name for t in entry.inputs] == (["z", "labels"] if model == "cgan" else ["z"])
    assert entry.inputs[0].value_range == (-5.0, 5.0)
    assert entry.outputs[0].shape == (None, 28, 28, 1) and entry.outputs[0].value_range == (0.0, 1.0)
    ops = {node.op_type for node in onnx.load(out / "generator.onnx").graph.node}
    assert "ConvTranspose" in ops or model == "gan"
    assert not ops & {"Tile", "Resize"}, "upsampling must be ConvTranspose"
    assert (out / "samples.png").is_file()

    generator = runtime.load(out)
    assert generator.conditional == (model == "cgan") and generator.latent_dim == 8
    images = generator.sample(5, seed=2, labels=[3] if model == "cgan" else None)
    assert images.shape == (5, 28, 28, 1) and 0 <= images.min() and images.max() <= 1
    if model == "began":  # the convergence curve travels with the export
        curve = json.loads((out / "convergence.json").read_text())
        assert curve["epoch"] == [1] and curve["convergence"] == pytest.approx(history["convergence"], abs=1e-5)
        assert curve["k"] == pytest.approx(history["k"], abs=1e-5)


def test_ema_generator_is_what_samples_and_exports(tmp_path: Path) -> None:
    """With ema > 0 the trainer keeps a moving average of the generator; it survives the checkpoint,
    differs from the last step's generator, and is the network exported."""
    from toolkit.gan.spec import draw_z
    from toolkit.registry import get_registry
    from toolkit.training import load_checkpoint, open_run

    run_dir = train_tiny(tmp_path, "dcgan", ema="0.9", epochs=2)
    run = open_run(run_dir, get_registry())
    model = run.spec.build(run.config, run.data_info)
    load_checkpoint(model, run_dir)
    assert model.sampler is model.ema_generator is not model.generator
    z = draw_z(4, 8, seed=0)
    averaged = (np.asarray(model.ema_generator(z, training=False)) + 1) / 2
    last = (np.asarray(model.generator(z, training=False)) + 1) / 2
    assert np.abs(averaged - last).max() > 1e-3
    export_run(run_dir, tmp_path / "exported" / "ema")
    got = runtime.load(tmp_path / "exported" / "ema").generate(z)
    np.testing.assert_allclose(got, np.clip(averaged, 0, 1), atol=1e-4)


def test_same_seed_same_generator(tmp_path: Path) -> None:
    a = train_tiny(tmp_path / "a", "gan", limit="32")
    b = train_tiny(tmp_path / "b", "gan", limit="32")
    assert json.loads((a / "history.json").read_text()) == json.loads((b / "history.json").read_text())
    assert (a / "samples" / "epoch_001.png").read_bytes() == (b / "samples" / "epoch_001.png").read_bytes()


def test_nan_loss_stops_training_and_keeps_the_last_good_checkpoint(tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    from toolkit.gan.spec import GANSpec

    run_dir = train_tiny(tmp_path, "gan")  # one good epoch
    good = (run_dir / "checkpoint.keras").read_bytes()
    clean_fit_data = GANSpec.fit_data

    def poisoned(self, config, data, data_info):  # noqa: ANN001, ANN202
        fit = clean_fit_data(self, config, data, data_info)
        fit.x = fit.x.copy()
        fit.x[:, 0, 0, 0] = np.nan  # NaN pixels -> NaN discriminator loss in the custom train_step
        return fit

    monkeypatch.setattr(GANSpec, "fit_data", poisoned)
    with pytest.raises(TrainingError, match=r"(d_loss|d_fake|d_real|g_loss) became nan at epoch 2, batch 1.*epoch 1\) is kept"):
        training.resume(run_dir, epochs=3, verbose=0)
    state = json.loads((run_dir / "state.json").read_text())
    assert {k: state[k] for k in ("epochs_done", "status")} == {"epochs_done": 1, "status": "stopped-nan"}
    assert "became nan at epoch 2, batch 1" in state["detail"]
    assert (run_dir / "checkpoint.keras").read_bytes() == good
    assert not (run_dir / "samples" / "epoch_002.png").exists()


def test_nan_in_the_first_epoch_keeps_nothing(tmp_path: Path) -> None:
    with pytest.raises(TrainingError, match="became (nan|inf).*nothing was kept"):
        train_tiny(tmp_path, "gan", learning_rate="1e30")  # Adam steps of 1e30 overflow the weights
    assert not (tmp_path / "runs" / "gan" / "gan-r").exists()


def test_collapse_warning(tmp_path: Path) -> None:
    from toolkit.gan.callbacks import ModeCollapseWarning

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        run_dir = train_tiny(tmp_path, "dcgan", epochs=2, collapse_threshold="1.0", collapse_after="1")
    messages = [str(w.message) for w in caught if issubclass(w.category, ModeCollapseWarning)]
    assert len(messages) == 1 and messages[0].startswith("epoch 2: sample diversity")  # armed after epoch 1
    ratios = json.loads((run_dir / "samples" / "diversity.json").read_text())["ratio_by_epoch"]
    assert set(ratios) == {"1", "2"} and all(0 <= r < 1.0 for r in ratios.values())


def test_cgan_multi_label_celeba_attributes(tmp_path: Path) -> None:
    from tests.test_gan_datasets import write_celeba

    rows = [(f"{i:06d}.jpg", [1 if i % 2 else -1, 1 if i % 3 == 0 else -1, -1]) for i in range(1, 25)]
    root = write_celeba(tmp_path / "celeba", rows)
    run_dir = train_tiny(tmp_path, "cgan", data=f"celeba:{root}", image_size="16", channels="3",
                         attributes="Smiling,Male")
    out = tmp_path / "exported" / "cgan-celeba"
    manifest = export_run(run_dir, out)
    assert manifest.info["labels"] == ["Smiling", "Male"] and manifest.info["multi_label"] is True
    assert manifest.files["generator"].parity["max_abs_diff"] <= 1e-4
    generator = runtime.load(out)
    assert generator.multi_label and generator.image_shape == (16, 16, 3)
    a = generator.sample(4, seed=1, labels=[["Smiling"], [], ["Smiling", "male"], ["Male"]])
    b = generator.sample(4, seed=1, labels=np.array([[1, 0], [0, 0], [1, 1], [0, 1]], np.float32))
    np.testing.assert_array_equal(a, b)
    from toolkit.errors import InputError
    with pytest.raises(InputError, match="unknown attribute 'Bald'"):
        generator.sample(2, seed=1, labels=[["Bald"]])
    with pytest.raises(InputError, match="give labels"):
        generator.sample(2, seed=1)


def test_unknown_attribute_in_config_is_a_dataset_error(tmp_path: Path) -> None:
    from tests.test_gan_datasets import write_celeba

    from toolkit.errors import DatasetError

    root = write_celeba(tmp_path / "celeba", [("000001.jpg", [1, 1, 1]), ("000002.jpg", [-1, 1, -1])])
    with pytest.raises(DatasetError, match="unknown attribute.*Bald"):
        train_tiny(tmp_path, "cgan", data=f"celeba:{root}", image_size="16", channels="3", attributes="Bald")
    assert not (tmp_path / "runs" / "cgan" / "cgan-r").exists()


def test_spectral_normalisation_exports_cleanly() -> None:
    """keras.layers.SpectralNormalization (the cgan discriminator's) converts with parity."""
    from toolkit.export import convert
    from toolkit.gan.networks import conv_discriminator
    from toolkit.spec import ExportSpec
    from toolkit.tensors import TensorInfo

    disc = conv_discriminator((16, 16, 1), 4, classes=3, spectral=True)
    x = np.random.default_rng(0).random((4, 16, 16, 1)).astype(np.float32)
    disc(x, training=True)  # one power-iteration update, as in training
    converted = convert(ExportSpec("d", lambda image: disc(image, training=False),
                                   [TensorInfo("image", (None, 16, 16, 1), value_range=(0, 1))],
                                   [TensorInfo("logit", (None, 1)), TensorInfo("classes", (None, 3))]),
                        np.random.default_rng(1))
    assert converted.parity["max_abs_diff"] <= 1e-5


def test_warm_start_copies_another_runs_generator_once(tmp_path: Path) -> None:
    """init_generator starts a run from another GAN run's (EMA) generator; a later resume keeps
    its own checkpoint; a mismatched network is a clear error."""
    from toolkit.errors import ConfigError
    from toolkit.registry import get_registry
    from toolkit.training import load_checkpoint, open_run

    source = train_tiny(tmp_path, "dcgan", ema="0.5")
    result = training.train("began", data="digits", overrides={**TINY, "init_generator": str(source),
                                                               "learning_rate": "0"},
                            epochs=1, runs_root=tmp_path / "runs2", run_id="warm", verbose=0)

    def generator_weights(run_dir: Path) -> list[np.ndarray]:
        run = open_run(run_dir, get_registry())
        model = run.spec.build(run.config, run.data_info)
        load_checkpoint(model, run_dir)
        return [np.asarray(w) for w in model.sampler.trainable_weights]

    # learning rate 0: the trainable weights are still the source's (batch-norm statistics move)
    for got, want in zip(generator_weights(result.run_dir), generator_weights(source), strict=True):
        np.testing.assert_allclose(got, want, atol=1e-6)
    with pytest.raises(ConfigError, match="does not have this run's generator shapes"):
        training.train("ebgan", data="digits", overrides={**TINY, "filters": "4", "init_generator": str(source)},
                       epochs=1, runs_root=tmp_path / "runs3", run_id="bad", verbose=0)
