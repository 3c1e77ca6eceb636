"""Face detection speed: onnxruntime FaceDetector vs the `mtcnn` package's detect_faces, same images, one run.

Images: scikit-image's astronaut and coffee, and lfw_subset faces on larger canvases (3 and 4
faces, and none). Both detectors get the same uint8 RGB arrays and the same parameters (minimum
face 20 px, thresholds 0.6/0.7/0.7, factor 0.709); each image is run once to warm up, then
``--repeats`` times, the two detectors alternating call by call (so a busy machine slows both
alike). Prints per-image median wall times, the speed ratio, the ratio of CPU time used (all
threads of the process: on a shared machine the wall ratio also measures who gets the cores, the
CPU ratio only the work done), and whether the same faces were found (box IoU and landmark
distance against the package).

    .venv/bin/python benchmarks/bench_face_detect.py
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


def cpu_seconds() -> float:
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def median_times(fns, repeats: int) -> tuple[list[float], list[float]]:
    """Median wall seconds and median CPU seconds per call of each function, timed interleaved
    (one call of each per round)."""
    for fn in fns:
        fn()
    walls: list[list[float]] = [[] for _ in fns]
    cpus: list[list[float]] = [[] for _ in fns]
    for _ in range(repeats):
        for fn, wall, cpu in zip(fns, walls, cpus):
            start, start_cpu = time.perf_counter(), cpu_seconds()
            fn()
            wall.append(time.perf_counter() - start)
            cpu.append(cpu_seconds() - start_cpu)
    return [statistics.median(t) for t in walls], [statistics.median(t) for t in cpus]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--export", default=str(ROOT / "exported" / "mtcnn"))
    parser.add_argument("--threads", type=int, default=1,
                        help="onnxruntime intra-op threads (default 1: MTCNN is many small runs, where "
                             "thread hand-offs cost more than they save; 0 = onnxruntime's default)")
    args = parser.parse_args()

    from faces_data import canvas, iou
    from skimage import data

    from toolkit import runtime

    detector = runtime.load(args.export, threads=args.threads or None)
    from mtcnn import MTCNN

    reference = MTCNN()
    images = {
        "astronaut 512x512": data.astronaut(),
        "coffee 600x400": data.coffee(),
        "3 lfw faces 360x240": canvas([0, 1, 2]),
        "4 lfw faces 480x260": canvas([3, 4, 5, 6], size=(480, 260), face=80),
        "no face 360x240": canvas([], seed=1),
        "3 lfw faces 1440x960": np.asarray(__import__("PIL.Image", fromlist=["Image"]).fromarray(
            canvas([0, 1, 2], face=72)).resize((1440, 960))),
    }
    print(f"onnxruntime provider: {detector.provider}, intra-op threads: {args.threads or 'default'}")
    print(f"{'image':24} {'faces':>5} {'package ms':>11} {'onnxkit ms':>11} {'speedup':>8} {'CPU ratio':>9} "
          f"{'min IoU':>8} {'max lm px':>9}")
    total_ref = total_ours = cpu_ref = cpu_ours = 0.0
    for name, image in images.items():
        def ref_call():
            return reference.detect_faces(image, threshold_onet=0.7, box_format="xyxy", output_type="numpy")

        (t_ref, t_ours), (c_ref, c_ours) = median_times([ref_call, lambda: detector.detect(image)], args.repeats)
        rows = np.asarray(ref_call()).reshape(-1, 16)
        faces = detector.detect(image)
        same = len(rows) == len(faces)
        ious, pxs = [], []
        for row in rows:
            best = max(faces, key=lambda f: iou(f.box, row[1:5])) if faces else None
            if best is None:
                same = False
                continue
            ious.append(iou(best.box, row[1:5]))
            pxs.append(float(np.abs(best.landmarks - np.stack([row[6:11], row[11:16]], 1)).max()))
        total_ref += t_ref
        total_ours += t_ours
        cpu_ref += c_ref
        cpu_ours += c_ours
        print(f"{name:24} {len(faces):>2}/{len(rows):<2} {t_ref * 1000:>11.1f} {t_ours * 1000:>11.1f} "
              f"{t_ref / t_ours:>7.1f}x {c_ref / max(c_ours, 1e-9):>8.1f}x {min(ious) if ious else float('nan'):>8.4f} "
              f"{max(pxs) if pxs else float('nan'):>9.3f}{'' if same else '  MISMATCH'}")
    print(f"{'all images':24} {'':>5} {total_ref * 1000:>11.1f} {total_ours * 1000:>11.1f} {total_ref / total_ours:>7.1f}x "
          f"{cpu_ref / max(cpu_ours, 1e-9):>8.1f}x")


if __name__ == "__main__":
    main()
