"""face-embed plugin: datasets, a tiny ArcFace training, export parity, transfer learning."""

from __future__ import annotations


import numpy as np
import pytest
from PIL import Image

from toolkit.errors import DatasetError
from toolkit.spec import DataRequest


def write_identity_folders(root, identities=3, per_identity=3, size=40):
    from tests.faces_data import lfw_faces

    faces = lfw_faces()
    for i in range(identities):
        folder = root / f"Person_{i}"
        folder.mkdir(parents=True)
        for j in range(per_identity):
            face = Image.fromarray(faces[i]).resize((size + 4 * j, size + 4 * j))
            face.convert("RGB").save(folder / f"Person_{i}_{j + 1:04d}.png")
    return root


def test_face_folder_loader(tmp_path):
    from toolkit.datasets.faces import load_face_folder

    root = write_identity_folders(tmp_path / "people")
    (root / "Solo").mkdir()
    Image.new("RGB", (30, 30)).save(root / "Solo" / "Solo_0001.png")  # one image: not usable, skipped
    data = load_face_folder(str(root), DataRequest(image_size=112, seed=0))
    assert data.label_names == ["Person_0", "Person_1", "Person_2"]
    assert data.x_train.shape[1:] == (112, 112, 3) and data.x_train.dtype == np.float32
    assert len(data.x_train) == 6 and len(data.x_test) == 3  # one held-out image per identity
    assert sorted(set(data.y_test.tolist())) == [0, 1, 2]
    assert 0.0 <= data.x_train.min() and data.x_train.max() <= 1.0


def test_face_folder_errors(tmp_path):
    from toolkit.datasets.faces import load_face_folder

    with pytest.raises(DatasetError, match="not a directory"):
        load_face_folder(str(tmp_path / "missing"), DataRequest())
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="no identity sub-folders"):
        load_face_folder(str(tmp_path / "empty"), DataRequest())
    one = write_identity_folders(tmp_path / "one", identities=1)
    with pytest.raises(DatasetError, match="at least 2 identities"):
        load_face_folder(str(one), DataRequest())
    bad = write_identity_folders(tmp_path / "bad", identities=2)
    (bad / "Person_0" / "Person_0_0009.png").write_bytes(b"not an image")
    with pytest.raises(DatasetError, match="not an image"):
        load_face_folder(str(bad), DataRequest())
    with pytest.raises(DatasetError, match="needs a directory"):
        load_face_folder(None, DataRequest())


def test_lfw_subset_pseudo_identities():
    from toolkit.datasets.faces import load_lfw_subset

    data = load_lfw_subset("5", DataRequest(image_size=112, seed=3, limit=4))
    assert data.info["pseudo_identities"] is True
    assert data.x_train.shape == (16, 112, 112, 3) and data.x_test.shape == (4, 112, 112, 3)
    again = load_lfw_subset("5", DataRequest(image_size=112, seed=3, limit=4))
    assert np.array_equal(data.x_train, again.x_train)  # deterministic under a seed
    with pytest.raises(DatasetError, match="at least 3 views"):
        load_lfw_subset("2", DataRequest())
    with pytest.raises(DatasetError, match="integer"):
        load_lfw_subset("many", DataRequest())


@pytest.mark.slow
def test_train_export_and_fine_tune(tmp_path):
    """In one process (TensorFlow starts once): train, fine-tune from the saved embedder, export."""
    from toolkit.errors import ConfigError
    from toolkit.export import export_run
    from toolkit.training import train

    runs = tmp_path / "runs"
    tiny = {"width": "4", "embedding_dim": "16", "limit": "4", "batch_size": "8"}
    result = train("face-embed", data="lfw-subset:10", overrides=tiny, epochs=1, seed=2, runs_root=runs,
                   run_id="base", verbose=0)
    base = result.run_dir
    assert (base / "embedder.keras").is_file()
    assert 0.0 <= result.metrics["verification_accuracy"] <= 1.0

    # transfer learning: start from the base embedder, new identities (a face folder), frozen base
    people = write_identity_folders(tmp_path / "people", identities=3)
    tuned = train("face-embed", data=f"faces:{people}", overrides={
        **tiny, "batch_size": "4", "base": str(base / "embedder.keras"), "freeze_base": "true"},
        epochs=1, runs_root=runs, run_id="tuned", verbose=0)
    import keras

    before = keras.models.load_model(base / "embedder.keras", compile=False)
    after = keras.models.load_model(tuned.run_dir / "embedder.keras", compile=False)
    assert np.array_equal(before.get_layer("stem_conv").get_weights()[0], after.get_layer("stem_conv").get_weights()[0])
    assert not np.array_equal(before.get_layer("embedding_conv").get_weights()[0],
                              after.get_layer("embedding_conv").get_weights()[0])

    out = tmp_path / "exported" / "embed"
    export_run(tuned.run_dir, out)
    from toolkit import runtime

    embedder = runtime.load(out)
    assert embedder.dim == 16 and embedder.size == 112
    assert embedder.manifest.files["embed"].parity["max_abs_diff"] <= 1e-4
    faces = np.random.default_rng(0).integers(0, 256, (3, 112, 112, 3), dtype=np.uint8)
    vectors = embedder.embed(faces)
    assert vectors.shape == (3, 16) and np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert np.allclose(embedder.embed(faces.astype(np.float32) / 255.0), vectors, atol=1e-5)
    after_export = keras.models.load_model(tuned.run_dir / "embedder.keras", compile=False)
    want = after_export(faces.astype(np.float32) / 255.0, training=False).numpy()
    want /= np.linalg.norm(want, axis=1, keepdims=True)
    assert np.abs(want - vectors).max() < 1e-4

    # a base of another architecture, and a checkpoint instead of an embedder, are refused clearly
    with pytest.raises(ConfigError, match="architecture differs"):
        train("face-embed", data="lfw-subset:4", overrides={**tiny, "width": "8", "base": str(base / "embedder.keras")},
              epochs=1, runs_root=runs, run_id="bad", verbose=0)
    with pytest.raises(ConfigError, match="embedder.keras"):
        train("face-embed", data="lfw-subset:4", overrides={**tiny, "base": str(base / "checkpoint.keras")},
              epochs=1, runs_root=runs, run_id="bad2", verbose=0)
    assert not (runs / "face-embed" / "bad").exists()
