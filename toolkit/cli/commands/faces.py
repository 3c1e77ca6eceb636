"""``onnxkit faces detect|enroll|remove|list|match|verify``: face recognition from the shell.

Serving side only (numpy + onnxruntime + Pillow): no TensorFlow is imported.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

# Export names inside the exports directory ($ONNXKIT_EXPORTED, ./exported, or the checkout's).
DEFAULT_DETECTOR = "mtcnn"
DEFAULT_EMBEDDER = "dlib-resnet"


def _export_path(value: str) -> str:
    """A path as given when it exists, else the export of that name in the exports directory."""
    from toolkit.runtime.exports import default_exported_dir

    if Path(value).exists() or "/" in value:
        return value
    return str(default_exported_dir() / value)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("faces", help="detect, enroll, match and verify faces (onnxruntime)")
    sub = parser.add_subparsers(dest="faces_command", metavar="ACTION")
    sub.required = True

    def models(p: argparse.ArgumentParser, embedder: bool = True) -> None:
        p.add_argument("--rotations", action="store_true",
                       help="also search the image turned 90, 180, 270 and +-30 degrees (finds sideways or "
                            "tilted faces; six detections instead of one)")
        p.add_argument("--detector", type=_export_path, default=_export_path(DEFAULT_DETECTOR),
                       help=f"MTCNN export (default: exported/{DEFAULT_DETECTOR})")
        if embedder:
            p.add_argument("--embedder", type=_export_path, default=_export_path(DEFAULT_EMBEDDER),
                           help=f"embedder export (default: exported/{DEFAULT_EMBEDDER})")

    p = sub.add_parser("detect", help="find faces and their five landmarks; draw them on a PNG")
    p.add_argument("image")
    p.add_argument("--out", help="write the image with boxes and landmarks to this PNG")
    p.add_argument("--min-face-size", type=float, help="smallest face to find, in pixels (default 20)")
    p.add_argument("--json", action="store_true", help="print the faces as JSON")
    models(p, embedder=False)
    p.set_defaults(func=detect_command)

    p = sub.add_parser("enroll", help="add every sub-folder of DIR (one per identity) to a gallery file")
    p.add_argument("folder")
    p.add_argument("--gallery", required=True, help="gallery .npz file (created if missing, updated atomically)")
    p.add_argument("--replace", action="store_true", help="re-enroll identities that are already in the gallery")
    models(p)
    p.set_defaults(func=enroll_command)

    p = sub.add_parser("remove", help="remove identities from a gallery file")
    p.add_argument("names", nargs="+")
    p.add_argument("--gallery", required=True)
    p.set_defaults(func=remove_command)

    p = sub.add_parser("list", help="list the identities in a gallery file")
    p.add_argument("--gallery", required=True)
    p.set_defaults(func=list_command)

    p = sub.add_parser("match", help="top-k identities for each face in an image")
    p.add_argument("image")
    p.add_argument("--gallery", required=True)
    p.add_argument("-k", type=int, default=3, help="identities per face (default 3)")
    p.add_argument("--threshold", type=float,
                   help="when a face is 'unknown': Euclidean distance at or above it (dlib-resnet, default 0.6), "
                        "or cosine similarity below it (face-embed)")
    p.add_argument("--out", help="write the image with boxes, landmarks and names to this PNG")
    p.add_argument("--json", action="store_true")
    models(p)
    p.set_defaults(func=match_command)

    p = sub.add_parser("align", help="cut the largest face of every photo in DIR/IDENTITY/ the way the embedder "
                                     "expects it (e.g. dlib chips), same folders under --out")
    p.add_argument("folder")
    p.add_argument("--out", required=True, help="folder to write IDENTITY/NAME.png chips into (must not exist)")
    models(p)
    p.set_defaults(func=align_command)

    p = sub.add_parser("demo-gallery", help="enroll scikit-image's lfw_subset faces (lfw-000..lfw-099) into a gallery")
    p.add_argument("--out", default="exported/face-gallery.npz")
    p.add_argument("--overwrite", action="store_true")
    models(p)
    p.set_defaults(func=demo_gallery_command)

    p = sub.add_parser("verify", help="LFW-style verification: 10-fold accuracy at the best threshold, ROC points")
    p.add_argument("--pairs", required=True, help="pairs.txt (LFW format)")
    p.add_argument("--images", required=True, help="folder with NAME/NAME_0001.jpg images")
    p.add_argument("--aligned", action="store_true", help="images are already aligned crops: skip detection")
    p.add_argument("--folds", type=int, default=10)
    p.add_argument("--json", action="store_true")
    models(p)
    p.set_defaults(func=verify_command)


def _load(path: str, task: str) -> Any:
    from toolkit import runtime

    return runtime.load(path, expect=task)


def _recognizer(args: argparse.Namespace, gallery: Any = None) -> Any:
    from toolkit.runtime.faces.recognizer import FaceRecognizer

    return FaceRecognizer(_load(args.detector, "face-detector"), _load(args.embedder, "face-embedder"), gallery,
                          threshold=getattr(args, "threshold", None), rotations=getattr(args, "rotations", False))


def detect_command(args: argparse.Namespace) -> int:
    from toolkit.runtime.faces.draw import draw_faces
    from toolkit.runtime.faces.imageio import to_rgb_uint8

    detector = _load(args.detector, "face-detector")
    rgb = to_rgb_uint8(args.image)
    faces = detector.detect(rgb, min_face_size=args.min_face_size, rotations=args.rotations)
    if args.json:
        print(json.dumps([f.to_json() for f in faces], indent=2))
    else:
        print(f"{len(faces)} face(s) in {args.image}")
        for i, face in enumerate(faces):
            box = ", ".join(f"{v:.1f}" for v in face.box)
            turned = f" (found turned {face.rotation:g} degrees)" if face.rotation else ""
            print(f"  #{i + 1} score {face.score:.4f} box ({box}){turned}")
    if args.out:
        _save_png(draw_faces(rgb, faces), args.out)
        print(f"drawn to {args.out}")
    return 0


def _save_png(image: Any, path: str) -> None:
    import io

    from toolkit.fsutil import atomic_write_bytes

    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    atomic_write_bytes(path, buffer.getvalue())


def enroll_command(args: argparse.Namespace) -> int:
    from toolkit.runtime.faces.gallery import Gallery

    gallery = Gallery.load(args.gallery) if Path(args.gallery).exists() else None
    recognizer = _recognizer(args, gallery)
    if gallery is None:
        recognizer.gallery.info.update({"embedder": args.embedder, "threshold": recognizer.threshold})
    counts = recognizer.enroll_folder(args.folder, replace=args.replace)
    recognizer.gallery.save(args.gallery)
    for name, count in counts.items():
        print(f"  {name}: {count} face(s)")
    print(f"gallery {args.gallery}: {len(recognizer.gallery.names)} identities, {len(recognizer.gallery)} embeddings")
    return 0


def remove_command(args: argparse.Namespace) -> int:
    from toolkit.runtime.faces.gallery import Gallery

    gallery = Gallery.load(args.gallery)
    for name in args.names:
        gallery.remove(name)  # raises before anything is written when a name is unknown
    gallery.save(args.gallery)
    print(f"removed {', '.join(args.names)}; {len(gallery.names)} identities left")
    return 0


def list_command(args: argparse.Namespace) -> int:
    from toolkit.runtime.faces.gallery import Gallery

    gallery = Gallery.load(args.gallery)
    counts: dict[str, int] = {}
    for label in gallery.labels:
        counts[label] = counts.get(label, 0) + 1
    print(f"{args.gallery}: {len(counts)} identities, {len(gallery)} embeddings of dimension {gallery.dim}")
    for name, count in counts.items():
        print(f"  {name} ({count})")
    return 0


def match_command(args: argparse.Namespace) -> int:
    from toolkit.errors import InputError
    from toolkit.runtime.faces.draw import draw_faces
    from toolkit.runtime.faces.gallery import Gallery
    from toolkit.runtime.faces.imageio import to_rgb_uint8

    if args.k < 1:
        raise InputError(f"-k must be at least 1, got {args.k}")
    recognizer = _recognizer(args, Gallery.load(args.gallery))
    rgb = to_rgb_uint8(args.image)
    results = recognizer.match(rgb, k=args.k)
    if args.json:
        key = "distance" if recognizer.metric == "euclidean" else "similarity"
        print(json.dumps([{"face": r.face.to_json(), "matches": [
            {"name": m.name, key: round(m.score, 4), "percent": round(m.percent, 2)} for m in r.matches]}
            for r in results], indent=2))
    else:
        print(f"{len(results)} face(s) in {args.image}")
        for i, result in enumerate(results):
            box = ", ".join(f"{v:.0f}" for v in result.face.box)
            print(f"  #{i + 1} box ({box}):")
            for m in result.matches:
                score = f"distance {m.score:.3f}" if m.metric == "euclidean" else f"similarity {m.score:+.3f}"
                print(f"      {m.name:24s} {score}  {m.percent:5.1f}%")
    if args.out:
        _save_png(draw_faces(rgb, results), args.out)
        print(f"drawn to {args.out}")
    return 0


def align_command(args: argparse.Namespace) -> int:
    """Aligned chips for training (``--data faces:OUT``): written to a temporary folder, then renamed."""
    import shutil
    import tempfile

    from PIL import Image

    from toolkit.errors import InputError
    from toolkit.runtime.faces.recognizer import IMAGE_SUFFIXES

    source, out = Path(args.folder), Path(args.out)
    if not source.is_dir():
        raise InputError(f"{source}: not a directory (expected one sub-folder per identity)")
    if out.exists():
        raise InputError(f"{out} already exists; give a new folder")
    detector, embedder = _load(args.detector, "face-detector"), _load(args.embedder, "face-embedder")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    written, missed = 0, []
    try:
        for folder in sorted(p for p in source.iterdir() if p.is_dir() and not p.name.startswith(".")):
            for path in sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES):
                faces = detector.detect(path, rotations=args.rotations)
                if not faces:
                    missed.append(f"{folder.name}/{path.name}")
                    continue
                face = max(faces, key=lambda f: f.width * f.height)
                (tmp / folder.name).mkdir(exist_ok=True)
                Image.fromarray(embedder.align(path, face.landmarks)).save(tmp / folder.name / f"{path.stem}.png")
                written += 1
        if not written:
            raise InputError(f"{source}: no face found in any photo")
        tmp.rename(out)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    print(f"{written} chips ({embedder.size}x{embedder.size}, {embedder.info.get('alignment', 'arcface-5-point')}) "
          f"in {out}" + (f"; no face in {len(missed)}: {', '.join(missed[:10])}" if missed else ""))
    return 0


def verify_command(args: argparse.Namespace) -> int:
    import numpy as np
    from PIL import Image

    from toolkit.runtime.faces.imageio import to_rgb_uint8
    from toolkit.runtime.faces.verification import image_path, kfold_accuracy, parse_pairs, roc_points

    pairs = parse_pairs(args.pairs)
    root = Path(args.images)
    embedder = _load(args.embedder, "face-embedder")
    recognizer = None if args.aligned else _recognizer(args)
    cache: dict[Path, np.ndarray] = {}
    undetected: list[str] = []

    def embedding(name: str, number: int) -> np.ndarray:
        path = image_path(root, name, number)
        if path not in cache:
            vector = None if recognizer is None else recognizer.embed_largest(path)
            if vector is None:  # aligned input, or no face found: use the whole image, centre-cropped
                if recognizer is not None:
                    undetected.append(path.name)
                rgb = to_rgb_uint8(path)
                side = min(rgb.shape[:2])
                top, left = (rgb.shape[0] - side) // 2, (rgb.shape[1] - side) // 2
                crop = Image.fromarray(rgb[top:top + side, left:left + side]).resize(
                    (embedder.size, embedder.size), Image.Resampling.BILINEAR)
                vector = embedder.embed(np.asarray(crop)[None])[0]
            cache[path] = vector
        return cache[path]

    # Higher = more alike for the metrics below: a euclidean model's score is minus the distance.
    sign = -1.0 if embedder.metric == "euclidean" else 1.0

    def score(left: np.ndarray, right: np.ndarray) -> float:
        return -float(np.linalg.norm(left - right)) if sign < 0 else float(left @ right)

    scores = np.array([score(embedding(*p.left), embedding(*p.right)) for p in pairs])
    same = np.array([p.same for p in pairs])
    result = kfold_accuracy(scores, same, folds=args.folds)
    roc = roc_points(scores, same)
    result["threshold"] = sign * result["threshold"]
    for point in roc:
        point["threshold"] = sign * point["threshold"]
    what = "Euclidean distance (same below)" if sign < 0 else "cosine similarity (same above)"
    if args.json:
        print(json.dumps({**result, "metric": embedder.metric, "pairs": len(pairs),
                          "undetected": sorted(set(undetected)), "roc": roc}, indent=2))
        return 0
    print(f"{len(pairs)} pairs ({int(same.sum())} same, {int((~same).sum())} different), {len(cache)} images")
    if undetected:
        print(f"  no face found in {len(set(undetected))} image(s): used the centre crop")
    print(f"  {args.folds}-fold accuracy {result['accuracy']:.4f} +- {result['accuracy_std']:.4f} "
          f"at threshold {result['threshold']:.3f} ({what})")
    print("  ROC points (threshold, TPR, FPR):")
    for point in roc:
        print(f"    {point['threshold']:+.3f}  {point['tpr']:.3f}  {point['fpr']:.3f}")
    return 0


def lfw_subset_scene(index: int, face_size: int = 100, seed: int = 0) -> Any:
    """One lfw_subset face (25x25 grey) upscaled to ``face_size`` on a grey canvas twice its size,
    so MTCNN sees it with context (needs scikit-image)."""
    import numpy as np
    from PIL import Image
    from skimage import data

    face = (data.lfw_subset()[index] * 255).astype(np.uint8)
    rng = np.random.default_rng(seed + index)
    side = face_size * 2
    board = np.clip(128 + rng.normal(0, 8, (side, side)), 0, 255).astype(np.uint8)
    start = face_size // 2
    board[start:start + face_size, start:start + face_size] = np.asarray(
        Image.fromarray(face).resize((face_size, face_size), Image.Resampling.BICUBIC))
    return board


def demo_gallery_command(args: argparse.Namespace) -> int:
    from toolkit.errors import InputError
    from toolkit.runtime.faces.recognizer import FaceRecognizer

    if Path(args.out).exists() and not args.overwrite:
        raise InputError(f"{args.out} already exists (use --overwrite to replace it)")
    recognizer = FaceRecognizer(_load(args.detector, "face-detector"), _load(args.embedder, "face-embedder"))
    skipped = []
    for index in range(100):
        name = f"lfw-{index:03d}"
        try:
            recognizer.enroll(name, [lfw_subset_scene(index)])
        except InputError:
            skipped.append(name)
    # Open-set threshold: above the verification threshold AND above 99.9% of the similarities
    # between different enrolled people, so a stranger is "unknown" rather than a weak match.
    import numpy as np

    vectors = recognizer.gallery.vectors
    if recognizer.metric == "cosine":  # a distance model keeps its own calibrated threshold
        between = (vectors @ vectors.T)[~np.eye(len(vectors), dtype=bool)]
        recognizer.threshold = round(max(recognizer.threshold, float(np.quantile(between, 0.999))), 3)
    recognizer.gallery.info.update({
        "source": "scikit-image lfw_subset faces 0-99 (no names in the data set: lfw-NNN is the index), "
                  "each upscaled to 100 px on a 200 px canvas, detected, aligned and embedded",
        "embedder": args.embedder, "threshold": recognizer.threshold, "not_detected": skipped})
    recognizer.gallery.save(args.out)
    print(f"gallery {args.out}: {len(recognizer.gallery.names)} identities"
          + (f" ({len(skipped)} without a detected face: {', '.join(skipped)})" if skipped else ""))
    return 0
