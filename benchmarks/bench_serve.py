"""Requests/s and p95 latency of exports served by Ray Serve, batched and unbatched, against plain
in-process onnxruntime, for a generator and the face embedders (dlib-resnet when shipped), in one run (loopback only).

    .venv/bin/python benchmarks/bench_serve.py [--rounds 3] [--requests 120] [--clients 8]

One local Ray Serve instance (started as a child process, stopped by its pid) holds, per export,
two applications with 2 replicas each: ``NAME`` with ``@serve.batch`` (up to --max-batch-size
requests per run, waiting up to --batch-wait-ms) and ``NAME-b1`` with batches of one. Every round
runs each variant once, in rotating order (interleaved, so load from elsewhere on the machine hits
all of them alike); the table gives the median over rounds. Each request is one row (one z, one
face) as JSON over HTTP, its tensor as base64 bytes (``--encoding b64``, the default) or as nested
lists of numbers (``--encoding lists``); "in-process" is ``ModelSession.run`` on the same row from
the same number of client threads, with no HTTP and no JSON.
"""

from __future__ import annotations

import argparse
import signal
import statistics
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

import local_server  # noqa: E402
import ray_serve_local as rsl  # noqa: E402

#: export -> (file, input); dlib-resnet (a 150x150 ResNet, far more compute per face) when shipped.
EXPORTS = {"dcgan-mnist": ("generator", "z"), "face-embed": ("embed", "faces"), "dlib-resnet": ("embed", "faces")}


def child(port: int, max_batch_size: int, batch_wait_ms: float, exported: Path) -> int:
    """The server side: both variants of every export on one local Ray Serve instance."""
    from toolkit.serve import app

    batched = app.ServeOptions(replicas=2, max_batch_size=max_batch_size, batch_wait_ms=batch_wait_ms,
                               threads=1, cpus_per_replica=0.5)
    single = app.ServeOptions(replicas=2, max_batch_size=1, batch_wait_ms=0, threads=1, cpus_per_replica=0.5)
    apps = []
    for plan in app.plan([str(exported / name) for name in EXPORTS]):
        apps.append((plan, batched))
        apps.append((app.AppPlan(f"{plan.name}-b1", plan.export_dir, plan.task), single))
    stopping = threading.Event()
    try:
        app.start(apps, rsl.LOOPBACK, port)
        signal.signal(signal.SIGINT, lambda *_: stopping.set())
        signal.signal(signal.SIGTERM, lambda *_: stopping.set())
        print("ready", flush=True)
        while not stopping.wait(0.5):
            pass
    finally:
        app.stop()
    return 0


def example(name: str, rng: np.random.Generator) -> np.ndarray:
    if name == "dcgan-mnist":
        return rng.standard_normal((1, 100)).astype(np.float32)
    side = 150 if name == "dlib-resnet" else 112
    return rng.random((1, side, side, 3), dtype=np.float32)


def load(call: Any, requests: int, clients: int) -> dict[str, float]:
    """``requests`` calls from ``clients`` threads, back to back; req/s, p95 and mean batch size."""
    latencies: list[float] = []
    batches: list[int] = []

    def one(_: int) -> None:
        start = time.perf_counter()
        batch = call()
        latencies.append(time.perf_counter() - start)
        batches.append(batch)

    start = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(one, range(requests)))
    wall = time.perf_counter() - start
    return {"rps": requests / wall, "p95_ms": float(np.percentile(latencies, 95)) * 1000,
            "batch": float(np.mean(batches))}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--requests", type=int, default=120, help="requests per variant per round")
    parser.add_argument("--clients", type=int, default=8, help="client threads")
    parser.add_argument("--max-batch-size", type=int, default=16)
    parser.add_argument("--batch-wait-ms", type=float, default=10.0)
    parser.add_argument("--encoding", choices=("b64", "lists"), default="b64",
                        help="how request and answer tensors travel (default b64)")
    parser.add_argument("--exported", type=Path, default=HERE.parent / "exported")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    for name in [n for n in EXPORTS if not (args.exported / n).is_dir()]:
        del EXPORTS[name]
    if args.child:
        return child(args.child, args.max_batch_size, args.batch_wait_ms, args.exported)

    from toolkit import runtime
    from toolkit.serve.codec import to_b64

    port = local_server.free_port()
    log = Path("/tmp") / f"bench_serve-{port}.log"
    command = [sys.executable, str(Path(__file__).resolve()), "--child", str(port), "--max-batch-size",
               str(args.max_batch_size), "--batch-wait-ms", str(args.batch_wait_ms), "--exported", str(args.exported)]
    server = rsl.Server(command, port, log)
    rng = np.random.default_rng(0)
    results: dict[tuple[str, str], list[dict[str, float]]] = {}
    try:
        server.wait_ready([n + suffix for n in EXPORTS for suffix in ("", "-b1")])
        sessions = {name: runtime.load(args.exported / name, threads=1).sessions[file]
                    for name, (file, _) in EXPORTS.items()}
        for round_index in range(args.rounds):
            for name, (file, input_name) in EXPORTS.items():
                row = example(name, rng)
                if args.encoding == "b64":
                    body = {"encoding": "b64", "inputs": {input_name: to_b64(row)}}
                else:
                    body = {"inputs": {input_name: row.tolist()}}

                def ray(app: str, body: dict = body, file: str = file) -> int:
                    status, answer = rsl.post(f"{server.base}/{app}/{file}", body)
                    assert status == 200, answer
                    return answer["batch"]["requests"]

                def in_process(session: Any = sessions[name], row: np.ndarray = row, input_name: str = input_name) -> int:
                    session.run({input_name: row})
                    return 1

                variants = [("in-process onnxruntime", in_process),
                            ("Ray Serve, no batching", lambda n=name: ray(f"{n}-b1")),
                            ("Ray Serve, @serve.batch", lambda n=name: ray(n))]
                shift = round_index % len(variants)
                for label, call in variants[shift:] + variants[:shift]:
                    results.setdefault((name, label), []).append(load(call, args.requests, args.clients))
            print(f"round {round_index + 1}/{args.rounds} done", file=sys.stderr, flush=True)
        off = rsl.off_loopback_sockets({server.process.pid} | rsl.descendants(server.process.pid))
    finally:
        killed = server.stop()
    print(f"\n{args.clients} client threads, {args.requests} one-row requests per variant per round "
          f"(tensors as {'base64 bytes' if args.encoding == 'b64' else 'JSON lists'}), "
          f"median of {args.rounds} interleaved rounds; Ray Serve: 2 replicas x 1 onnxruntime thread, "
          f"batches of up to {args.max_batch_size} waiting up to {args.batch_wait_ms:g} ms\n")
    print("| export | variant | req/s | p95 latency (ms) | mean requests per run |")
    print("| --- | --- | ---: | ---: | ---: |")
    for (name, label), runs in results.items():
        rps = statistics.median(r["rps"] for r in runs)
        p95 = statistics.median(r["p95_ms"] for r in runs)
        batch = statistics.median(r["batch"] for r in runs)
        print(f"| {name} | {label} | {rps:.0f} | {p95:.1f} | {batch:.2f} |")
    for name in EXPORTS:
        batched = statistics.median(r["rps"] for r in results[(name, "Ray Serve, @serve.batch")])
        single = statistics.median(r["rps"] for r in results[(name, "Ray Serve, no batching")])
        print(f"\n{name}: batching x{batched / single:.2f} req/s", end="")
    print(f"\n\nsockets off loopback: {off or 'none'}; processes killed at stop: {killed or 'none'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
