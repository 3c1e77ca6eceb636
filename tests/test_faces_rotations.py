"""Rotated faces (opt-in): search turned copies of the image and map faces back, on a real photo."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from tests.conftest import run_cli
from tests.faces_data import ROOT_EXPORTS
from toolkit import runtime
from toolkit.errors import InputError
from toolkit.runtime.faces.gallery import Gallery
from toolkit.runtime.faces.recognizer import FaceRecognizer
from toolkit.runtime.faces.rotate import map_points, rotated_copy, rotation_angles


@pytest.fixture(scope="module")
def detector():
    return runtime.load(ROOT_EXPORTS / "mtcnn")


@pytest.fixture(scope="module")
def astronaut():
    from skimage import data

    return data.astronaut()


def turned_quarter(image: np.ndarray) -> np.ndarray:
    """The photo saved sideways (a quarter turn counter-clockwise)."""
    return np.ascontiguousarray(np.rot90(image, 1))


def test_sideways_photo_missed_upright_found_with_rotations(detector, astronaut):
    upright = detector.detect(astronaut)
    assert len(upright) == 1
    sideways = turned_quarter(astronaut)
    assert detector.detect(sideways) == [], "MTCNN misses the sideways face without rotations"
    found = detector.detect(sideways, rotations=True)
    assert len(found) == 1 and found[0].rotation == 270.0 and found[0].score > 0.9
    # The upright face's landmarks, carried into the sideways photo: x' = y, y' = W - 1 - x.
    width = astronaut.shape[1]
    expected = np.stack([upright[0].landmarks[:, 1], width - 1 - upright[0].landmarks[:, 0]], 1)
    assert np.abs(found[0].landmarks - expected).max() < 3.0
    x1, y1, x2, y2 = found[0].box
    assert x1 <= expected[:, 0].min() and x2 >= expected[:, 0].max() and y1 <= expected[:, 1].min() <= y2
    assert found[0].to_json()["rotation"] == 270.0 and "rotation" not in upright[0].to_json()


def test_tilted_photo(detector, astronaut):
    tilted = np.asarray(Image.fromarray(astronaut).rotate(45, expand=True, resample=Image.Resampling.BILINEAR))
    best = detector.detect(tilted, rotations=True)[0]
    assert best.rotation == -30.0 and best.score > 0.95
    eyes = best.landmarks[1] - best.landmarks[0]  # image-left eye to image-right eye, as in the tilted photo
    assert 30 < np.degrees(np.arctan2(-eyes[1], eyes[0])) < 60


def test_rotated_copy_maps_points_back():
    rng = np.random.default_rng(0)
    image = np.zeros((90, 140, 3), np.uint8)
    for angle in (90.0, 180.0, 270.0, 30.0, -30.0):
        y, x = int(rng.integers(20, 70)), int(rng.integers(20, 120))
        image[:] = 0
        image[y - 1:y + 2, x - 1:x + 2] = 255  # a 3x3 dot centred on (x, y)
        copy, back = rotated_copy(image, angle)
        ys, xs = np.nonzero(copy[..., 0] > 60)
        weights = copy[ys, xs, 0].astype(np.float64)
        centre = np.array([np.average(xs, weights=weights), np.average(ys, weights=weights)])
        np.testing.assert_allclose(map_points(centre, back), [x, y], atol=0.6)


def test_rotation_angles():
    assert rotation_angles(None) == () and rotation_angles(False) == ()
    assert rotation_angles(True) == (90.0, 180.0, 270.0, 30.0, -30.0)
    assert rotation_angles([0, 45, 360]) == (45.0,)
    with pytest.raises(InputError, match="rotations must be True or a list of angles"):
        rotation_angles(["sideways"])


def test_recognise_a_sideways_photo(detector, astronaut):
    embedder = runtime.load(ROOT_EXPORTS / "dlib-resnet")
    recognizer = FaceRecognizer(detector, embedder, Gallery.load(ROOT_EXPORTS / "face-gallery.npz"))
    recognizer.enroll("Eileen Collins", [astronaut])
    sideways = turned_quarter(astronaut)
    assert recognizer.match(sideways) == []
    recognizer.rotations = True
    (result,) = recognizer.match(sideways)
    assert result.matches[0].name == "Eileen Collins" and result.matches[0].distance < 0.3


def test_cli_detect_rotations(tmp_path, astronaut):
    photo = tmp_path / "sideways.png"
    Image.fromarray(turned_quarter(astronaut)).save(photo)
    plain = run_cli("faces", "detect", str(photo), "--json")
    assert plain.returncode == 0 and json.loads(plain.stdout) == []
    turned = run_cli("faces", "detect", str(photo), "--json", "--rotations")
    assert turned.returncode == 0, turned.stderr
    (face,) = json.loads(turned.stdout)
    assert face["rotation"] == 270.0
