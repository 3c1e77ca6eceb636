"""FaceDetector (onnxruntime) against the `mtcnn` package it was converted from."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from tests.faces_data import ROOT_EXPORTS, canvas, iou
from toolkit import runtime
from toolkit.errors import InputError

MTCNN_DIR = ROOT_EXPORTS / "mtcnn"


@pytest.fixture(scope="module")
def detector():
    return runtime.load(MTCNN_DIR)


def scenes() -> dict[str, np.ndarray]:
    from skimage import data

    return {
        "astronaut": data.astronaut(),
        "three-faces": canvas([0, 1, 2]),
        "four-faces": canvas([3, 4, 5, 6], size=(480, 260), face=80),
        "no-face": canvas([], seed=1),
        "coffee": data.coffee(),
    }


@pytest.fixture(scope="module")
def reference():
    """The mtcnn package's detections, computed once (TensorFlow is slow to start)."""
    mtcnn = pytest.importorskip("mtcnn")
    model = mtcnn.MTCNN()
    results = {}
    for name, image in scenes().items():
        rows = model.detect_faces(image, threshold_onet=0.7, box_format="xyxy", output_type="numpy")
        rows = np.asarray(rows).reshape(-1, 16)
        results[name] = [(row[1:5], row[5], np.stack([row[6:11], row[11:16]], axis=1)) for row in rows]
    return results


def assert_same_faces(ours, theirs) -> tuple[float, float]:
    assert len(ours) == len(theirs), f"found {len(ours)} faces, the package found {len(theirs)}"
    worst_iou, worst_px = 1.0, 0.0
    for box, score, landmarks in theirs:
        best = max(ours, key=lambda f: iou(f.box, box))
        overlap = iou(best.box, box)
        px = float(np.abs(best.landmarks - landmarks).max())
        assert overlap >= 0.9, f"box {best.box} vs package {box}: IoU {overlap:.3f}"
        assert px <= 2.0, f"landmarks differ by {px:.2f} px"
        assert abs(best.score - score) < 1e-3
        worst_iou, worst_px = min(worst_iou, overlap), max(worst_px, px)
    return worst_iou, worst_px


@pytest.mark.slow
@pytest.mark.parametrize("name", ["astronaut", "three-faces", "four-faces", "no-face", "coffee"])
def test_matches_mtcnn_package(detector, reference, name):
    image = scenes()[name]
    faces = detector.detect(image)
    assert_same_faces(faces, reference[name])
    if name == "no-face":
        assert faces == []
    if name == "four-faces":  # one lfw face (index 4) is not found by either implementation
        assert len(faces) == 3


@pytest.mark.slow
def test_grey_rgba_pil_and_path_inputs_match_rgb(detector, reference, tmp_path):
    rgb = canvas([0, 1, 2])
    grey = canvas([0, 1, 2], rgb=False)
    rgba = np.concatenate([rgb, np.full(rgb.shape[:2] + (1,), 255, np.uint8)], axis=-1)
    path = tmp_path / "three.png"
    Image.fromarray(grey).save(path)
    for variant in (grey, grey[..., None], rgba, Image.fromarray(rgba, "RGBA"), str(path), path,
                    rgb.astype(np.float32) / 255.0):
        assert_same_faces(detector.detect(variant), reference["three-faces"])


def test_landmarks_and_box_layout(detector):
    faces = detector.detect(canvas([0, 1, 2]))
    assert len(faces) == 3
    for face in faces:
        x1, y1, x2, y2 = face.box
        assert x2 > x1 and y2 > y1
        assert face.landmarks.shape == (5, 2) and face.landmarks.dtype == np.float32
        left_eye, right_eye, nose, mouth_left, mouth_right = face.landmarks
        assert left_eye[0] < right_eye[0] and mouth_left[0] < mouth_right[0]
        assert max(left_eye[1], right_eye[1]) < nose[1] < min(mouth_left[1], mouth_right[1])
        assert x1 <= nose[0] <= x2 and y1 <= nose[1] <= y2
    assert [f.score for f in faces] == sorted((f.score for f in faces), reverse=True)


def test_tiny_and_huge_images(detector):
    assert detector.detect(np.zeros((5, 7, 3), np.uint8)) == []
    assert detector.detect(np.full((11, 300), 200, np.uint8)) == []
    # 4x upscaled three-face scene: longer side 1440 > max_side, so it is shrunk, then boxes mapped back
    big = np.asarray(Image.fromarray(canvas([0, 1, 2])).resize((1440, 960), Image.Resampling.BICUBIC))
    detector.max_side = 720
    try:
        faces = detector.detect(big)
    finally:
        detector.max_side = 2048
    small = detector.detect(canvas([0, 1, 2]))
    assert len(faces) == 3
    for face in small:
        scaled = [v * 4 for v in face.box]
        assert max(iou(f.box, scaled) for f in faces) > 0.8


@pytest.mark.parametrize("bad, message", [
    (np.zeros((10, 10, 2), np.uint8), "shape"),
    (np.zeros((0, 10, 3), np.uint8), "empty"),
    (np.full((30, 30, 3), 2.0, np.float32), r"\[0, 1\]"),
    (np.zeros((30, 30, 3), np.int32), "dtype"),
    (np.full((30, 30, 3), np.nan, np.float32), "NaN"),
    ("no/such/file.png", "cannot open"),
    (42, "expected a PIL image"),
])
def test_bad_images_are_clear_errors(detector, bad, message):
    with pytest.raises(InputError, match=message):
        detector.detect(bad)


def test_not_an_image_file(detector, tmp_path):
    path = tmp_path / "notes.png"
    path.write_text("not a png")
    with pytest.raises(InputError, match="not an image"):
        detector.detect(path)


def test_bad_parameters(detector):
    image = canvas([0])
    with pytest.raises(InputError, match="thresholds"):
        detector.detect(image, thresholds=(0.6, 0.7))
    with pytest.raises(InputError, match="scale_factor"):
        detector.detect(image, scale_factor=1.5)
    with pytest.raises(InputError, match="min_face_size"):
        detector.detect(image, min_face_size=0)
    # a larger minimum face size skips the small scales: the 72 px face is still found, not with 200
    assert len(detector.detect(image, min_face_size=40)) == 1
    assert detector.detect(image, min_face_size=200) == []


def test_manifest_describes_the_cascade(detector):
    assert detector.task == "face-detector"
    pnet = detector.manifest.files["pnet"]
    assert pnet.inputs[0].shape == (None, None, None, 3)
    assert detector.manifest.files["onet"].inputs[0].shape == (None, 48, 48, 3)
    assert detector.info["defaults"]["thresholds"] == [0.6, 0.7, 0.7]
    for entry in detector.manifest.files.values():
        assert entry.parity["max_abs_diff"] <= 1e-4


@pytest.mark.slow
def test_onnx_networks_equal_the_package_networks(detector):
    """The converted files compute what the package's own Keras networks compute (weights mapped right)."""
    stages = pytest.importorskip("mtcnn.stages")
    rng = np.random.default_rng(0)
    cases = {
        "pnet": (stages.StagePNet().model, rng.uniform(-1, 1, (2, 41, 29, 3)).astype(np.float32)),
        "rnet": (stages.StageRNet().model, rng.uniform(-1, 1, (5, 24, 24, 3)).astype(np.float32)),
        "onet": (stages.StageONet().model, rng.uniform(-1, 1, (5, 48, 48, 3)).astype(np.float32)),
    }
    for name, (model, x) in cases.items():
        theirs = [np.asarray(t) for t in model(x)]
        session = detector.sessions[name]
        ours = session.session.run(None, {session.inputs[0].name: x})
        names = [o.name for o in session.session.get_outputs()]
        by_name = dict(zip(names, ours))
        # package order: regression, (landmarks,) probability
        for want, key in zip(theirs, [t.name for t in session.outputs]):
            assert np.abs(by_name[key] - want).max() < 1e-4, (name, key)
