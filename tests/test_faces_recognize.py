"""Recognition with the shipped exports: enroll, match (top-k, percentages, unknown), draw, CLI, verify."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from tests.conftest import run_cli
from tests.faces_data import ROOT_EXPORTS, canvas
from toolkit import runtime
from toolkit.errors import InputError
from toolkit.runtime.faces.draw import draw_faces
from toolkit.runtime.faces.gallery import Gallery
from toolkit.runtime.faces.recognizer import UNKNOWN, FaceRecognizer

GALLERY = ROOT_EXPORTS / "face-embed-gallery.npz"  # lfw_subset faces enrolled with face-embed


@pytest.fixture(scope="module")
def models():
    return runtime.load(ROOT_EXPORTS / "mtcnn"), runtime.load(ROOT_EXPORTS / "face-embed")


@pytest.fixture()
def recognizer(models):
    return FaceRecognizer(*models, Gallery.load(GALLERY))


def names_left_to_right(results):
    return [r.matches[0].name for r in sorted(results, key=lambda r: r.face.box[0])]


def test_demo_gallery_recognises_its_faces_in_new_scenes(recognizer):
    assert len(recognizer.gallery.names) == 100
    results = recognizer.match(canvas([0, 20, 50], size=(420, 260), face=84, seed=5), k=3)
    assert names_left_to_right(results) == ["lfw-000", "lfw-020", "lfw-050"]
    for result in results:
        assert len(result.matches) == 3 and len({m.name for m in result.matches}) == 3
        assert abs(sum(m.percent for m in result.matches) - 100.0) < 1e-6
        sims = [m.similarity for m in result.matches]
        assert sims == sorted(sims, reverse=True) and sims[0] >= recognizer.threshold


def test_unknown_below_threshold(recognizer):
    recognizer.gallery.remove("lfw-020")
    results = recognizer.match(canvas([20], seed=9), k=3)
    assert len(results) == 1
    first = results[0].matches[0]
    assert first.name == UNKNOWN and first.similarity < recognizer.threshold
    assert results[0].label.startswith("unknown")


def test_enroll_and_errors(models, tmp_path):
    recognizer = FaceRecognizer(*models)
    with pytest.raises(InputError, match="empty"):
        recognizer.match(canvas([0]))
    with pytest.raises(InputError, match="no face found"):
        recognizer.enroll("nobody", [canvas([], seed=2)])
    assert recognizer.enroll("alice", [canvas([3], seed=1), canvas([3], face=90, seed=2)]) == 2
    root = tmp_path / "people"
    for name, index in (("bob", 5), ("carol", 7)):  # lfw face 4 is not detected at all
        (root / name).mkdir(parents=True)
        Image.fromarray(canvas([index], seed=3)).save(root / name / "1.png")
    assert recognizer.enroll_folder(root) == {"bob": 1, "carol": 1}
    with pytest.raises(InputError, match="already enrolled"):
        recognizer.enroll_folder(root)
    assert recognizer.gallery.names == ["alice", "bob", "carol"]
    assert names_left_to_right(recognizer.match(canvas([7, 3], seed=8))) == ["carol", "alice"]


def test_draw_faces(recognizer):
    image = canvas([0, 20])
    results = recognizer.match(image)
    drawn = draw_faces(image, results)
    assert drawn.size == (image.shape[1], image.shape[0])
    x1, y1, x2, y2 = (int(v) for v in results[0].face.box)
    assert not np.array_equal(np.asarray(drawn)[y1:y2, x1], image[y1:y2, x1])  # box edge painted
    assert draw_faces(image, [r.face for r in results]).size == drawn.size


def test_runtime_faces_import_no_tensorflow():
    code = ("import sys, toolkit.runtime.faces.recognizer, toolkit.runtime.tasks.faces, toolkit.cli.commands.faces;"
            "bad=[m for m in sys.modules if m.split('.')[0] in ('tensorflow','keras','tf2onnx')]; print(bad)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def scene_folder(root, identities=(0, 20, 50, 80), views=3):
    """LFW-layout folder of scenes: NAME/NAME_000k.png, each view a different size and background."""
    for index in identities:
        name = f"id{index}"
        (root / name).mkdir(parents=True, exist_ok=True)
        for k in range(views):
            Image.fromarray(canvas([index], face=70 + 8 * k, seed=10 + k)).save(root / name / f"{name}_{k + 1:04d}.png")
    return root


def test_cli_detect_enroll_match_remove(tmp_path):
    image = tmp_path / "scene.png"
    Image.fromarray(canvas([0, 20, 50], size=(420, 260), face=84, seed=5)).save(image)
    out = tmp_path / "faces.png"
    result = run_cli("faces", "detect", str(image), "--out", str(out), "--json")
    assert result.returncode == 0, result.stderr
    assert len(json.loads(result.stdout.split("drawn to")[0])) == 3 and Image.open(out).size == (420, 260)

    people = scene_folder(tmp_path / "people", identities=(0, 20, 50), views=1)
    gallery = tmp_path / "g.npz"
    result = run_cli("faces", "enroll", str(people), "--gallery", str(gallery))
    assert result.returncode == 0, result.stderr
    assert "3 identities" in result.stdout
    result = run_cli("faces", "match", str(image), "--gallery", str(gallery), "-k", "2", "--json", "--out", str(out))
    assert result.returncode == 0, result.stderr
    matches = json.loads(result.stdout.split("drawn to")[0])
    ordered = sorted(matches, key=lambda m: m["face"]["box"][0])
    assert [m["matches"][0]["name"] for m in ordered] == ["id0", "id20", "id50"]
    result = run_cli("faces", "remove", "id20", "nobody", "--gallery", str(gallery))
    assert result.returncode == 2 and "nobody" in result.stderr
    assert len(Gallery.load(gallery).names) == 3  # nothing written on error
    result = run_cli("faces", "remove", "id20", "--gallery", str(gallery))
    assert result.returncode == 0 and "2 identities left" in result.stdout
    result = run_cli("faces", "list", "--gallery", str(gallery))
    assert "id0" in result.stdout and "id20" not in result.stdout
    result = run_cli("faces", "match", str(image), "--gallery", str(tmp_path / "missing.npz"))
    assert result.returncode == 2 and "no such gallery" in result.stderr


def test_cli_verify_pairs(tmp_path):
    root = scene_folder(tmp_path / "lfw")
    ids = [f"id{i}" for i in (0, 20, 50, 80)]
    lines = ["2\t10"]
    for name in ids:
        lines += [f"{name}\t1\t2", f"{name}\t2\t3", f"{name}\t1\t3"]
    for a in range(4):
        for b in range(a + 1, 4):
            lines.append(f"{ids[a]}\t{1 + a % 3}\t{ids[b]}\t{1 + b % 3}")
    pairs = tmp_path / "pairs.txt"
    pairs.write_text("\n".join(lines) + "\n")
    result = run_cli("faces", "verify", "--pairs", str(pairs), "--images", str(root), "--folds", "6", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["pairs"] == 18 and report["undetected"] == []
    assert report["accuracy"] >= 0.9
    assert len(report["roc"]) == 11 and report["roc"][0]["tpr"] == 1.0
    (root / "id0" / "id0_0003.png").unlink()
    result = run_cli("faces", "verify", "--pairs", str(pairs), "--images", str(root))
    assert result.returncode == 2 and "id0_0003" in result.stderr
