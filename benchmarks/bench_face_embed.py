"""Embedding speed: the dlib-resnet ONNX export (onnxruntime) vs dlib's own compute_face_descriptor.

Same 150x150 chips on both sides (dlib's chip of the astronaut and lfw_subset faces scaled to
chips), batch 1 and batch 32, timed interleaved in one run (each round times every contestant
once, so machine load hits both alike); prints median seconds per call, faces/s and the ratio,
and the largest descriptor difference between the two (they compute the same network).
Needs dlib (``dlib-bin``, test extra)::

    .venv/bin/python benchmarks/bench_face_embed.py [--rounds 15] [--threads 0]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def chips(count: int) -> np.ndarray:
    import dlib
    import face_recognition_models
    from PIL import Image
    from skimage import data

    photo = data.astronaut()
    detector = dlib.get_frontal_face_detector()
    predictor = dlib.shape_predictor(face_recognition_models.pose_predictor_five_point_model_location())
    rect = min(detector(photo, 1), key=lambda r: r.top())
    result = [np.asarray(dlib.get_face_chip(photo, predictor(photo, rect), size=150, padding=0.25))]
    faces = (data.lfw_subset()[:100] * 255).astype(np.uint8)
    for face in faces[:count - 1]:
        result.append(np.stack([np.asarray(Image.fromarray(face).resize((150, 150), Image.Resampling.BICUBIC))] * 3, -1))
    return np.stack(result)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--threads", type=int, default=0, help="onnxruntime intra-op threads (0: its default)")
    args = parser.parse_args()

    import dlib
    import face_recognition_models

    from toolkit import runtime

    embedder = runtime.load(ROOT / "exported" / "dlib-resnet", threads=args.threads or None)
    reference = dlib.face_recognition_model_v1(face_recognition_models.face_recognition_model_location())
    batch = chips(32)
    single = batch[:1]
    batch_list = list(batch)

    contestants = {
        ("onnx", 1): lambda: embedder.embed(single),
        ("dlib", 1): lambda: reference.compute_face_descriptor(single[0]),
        ("onnx", 32): lambda: embedder.embed(batch, batch_size=32),
        ("dlib", 32): lambda: reference.compute_face_descriptor(batch_list),
    }
    ours = embedder.embed(batch, batch_size=32)
    theirs = np.array([np.array(d) for d in reference.compute_face_descriptor(batch_list)])
    print(f"same chips, {len(batch)} faces: max abs descriptor difference {np.abs(ours - theirs).max():.2g}")
    for fn in contestants.values():  # warm up
        fn()
    times: dict[tuple[str, int], list[float]] = {key: [] for key in contestants}
    for _ in range(args.rounds):
        for key, fn in contestants.items():
            start = time.perf_counter()
            fn()
            times[key].append(time.perf_counter() - start)
    print(f"dlib {dlib.__version__} (CUDA: {dlib.DLIB_USE_CUDA}), onnxruntime on {embedder.provider}; "
          f"{args.rounds} interleaved rounds, median")
    for size in (1, 32):
        onnx, ref = statistics.median(times[("onnx", size)]), statistics.median(times[("dlib", size)])
        print(f"  batch {size:2d}: onnx {onnx * 1000:8.1f} ms ({size / onnx:6.1f} faces/s)   "
              f"dlib {ref * 1000:8.1f} ms ({size / ref:6.1f} faces/s)   ratio {ref / onnx:.2f}x")


if __name__ == "__main__":
    main()
