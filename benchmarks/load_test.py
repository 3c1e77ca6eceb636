"""A bounded burst against a local demo: N requests from C concurrent clients, all must succeed.

Starts ``python -m apps`` on a free 127.0.0.1 port (or uses ``--port`` of one already running on
127.0.0.1 — no other host is ever contacted), then C threads, each with its own gradio_client,
send N requests in total, cycling over the endpoints the app offers (generate, classify, write,
match). Prints the success count and p50/p95 latency, overall and per endpoint; exits 1 if any
request failed.

    .venv/bin/python benchmarks/load_test.py [--requests 50] [--clients 10] [--exported DIR]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import local_server  # noqa: E402

from toolkit.manifest import read_manifest  # noqa: E402


def digit_png(path: Path) -> Path:
    """A hand-drawn-looking '7' (dark on light, like a sketchpad), to classify."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (200, 200), "white")
    draw = ImageDraw.Draw(image)
    draw.line([(40, 40), (160, 40), (90, 170)], fill="black", width=18)
    image.save(path)
    return path


def face_png(path: Path) -> Path:
    from skimage import data  # a dev-only dependency: the load test runs from a checkout
    from PIL import Image

    Image.fromarray(data.astronaut()).save(path)
    return path


def requests_for(exported: Path, files: Path) -> dict[str, list]:
    """Request data per endpoint, for the capabilities whose exports are present."""
    from gradio_client import handle_file

    by_task: dict[str, str] = {}
    for path in sorted(p for p in exported.iterdir() if (p / "manifest.json").is_file()):
        by_task.setdefault(read_manifest(path, verify_hashes=False).task, path.name)
    plans: dict[str, list] = {}
    generator = by_task.get("image-generator") or by_task.get("conditional-generator")
    if generator:
        plans["/generate"] = [generator, 16, 0, "every class in turn", []]
    if "classifier" in by_task:
        plans["/classify"] = [by_task["classifier"], None, handle_file(str(digit_png(files / "seven.png")))]
    if "text-generator" in by_task:
        plans["/write"] = [by_task["text-generator"], "The ", 0.8, 120, 1.0, 0]
    if "face-detector" in by_task and "face-embedder" in by_task:
        plans["/match"] = [handle_file(str(face_png(files / "face.png"))), None]
    if not plans:
        raise SystemExit(f"no servable exports in {exported}")
    return plans


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))]


def burst(port: int, plans: dict[str, list], total: int, clients: int,
          timeout: float | None = None) -> list[tuple[str, float, str]]:
    """Run the jobs; (endpoint, seconds, error or ""). ``timeout``: seconds each client waits for an
    upload, a download or a reply (None: gradio_client's own default, 5 s for uploads)."""
    from gradio_client import Client

    endpoints = list(plans)
    jobs = [endpoints[i % len(endpoints)] for i in range(total)]
    results: list[tuple[str, float, str]] = []
    lock = threading.Lock()
    start_gate = threading.Barrier(clients)

    def worker(index: int) -> None:
        client = Client(f"http://{local_server.LOOPBACK}:{port}/", verbose=False,
                        httpx_kwargs=None if timeout is None else {"timeout": timeout})
        start_gate.wait()
        for job in jobs[index::clients]:
            began = time.perf_counter()
            try:
                client.predict(*plans[job], api_name=job)
                error = ""
            except Exception as exc:  # counted and reported, never hidden
                error = f"{type(exc).__name__}: {exc}"[:200]
            with lock:
                results.append((job, time.perf_counter() - began, error))

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--clients", type=int, default=10)
    parser.add_argument("--exported", type=Path, default=local_server.ROOT / "exported")
    parser.add_argument("--port", type=int, default=None, help="use an app already serving on 127.0.0.1:PORT")
    parser.add_argument("--timeout", type=float, default=None,
                        help="seconds a client waits for an upload/download/reply (default: gradio_client's, "
                             "5 s for uploads; a browser waits far longer)")
    args = parser.parse_args()
    if not 1 <= args.clients <= 64 or not 1 <= args.requests <= 1000:
        parser.error("keep the burst bounded: 1-64 clients, 1-1000 requests")
    with tempfile.TemporaryDirectory() as tmp:
        plans = requests_for(args.exported, Path(tmp))
        process = None
        port = args.port
        if port is None:
            port = local_server.free_port()
            log = Path(tmp) / "app.log"
            process = local_server.start([local_server.python(), "-m", "apps", "--exported", str(args.exported),
                                          "--port", str(port)], port, log_path=log)
            local_server.wait_ready(process, port, log_path=log)
        try:
            began = time.perf_counter()
            results = burst(port, plans, args.requests, args.clients, args.timeout)
            wall = time.perf_counter() - began
        finally:
            if process is not None:
                local_server.stop(process)
    ok = [r for r in results if not r[2]]
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    waits = "gradio_client's default timeouts" if args.timeout is None else f"{args.timeout:g} s client timeout"
    print(f"{len(ok)}/{len(results)} requests succeeded from {args.clients} clients in {wall:.1f} s "
          f"({len(results) / wall:.1f} req/s; {waits}; load average {load:.1f})")
    latencies = [r[1] for r in ok]
    if latencies:
        print(f"latency all: p50 {percentile(latencies, 50):.2f} s, p95 {percentile(latencies, 95):.2f} s, "
              f"max {max(latencies):.2f} s")
    for endpoint in plans:
        mine = [r[1] for r in ok if r[0] == endpoint]
        if mine:
            print(f"  {endpoint:10s} n={len(mine):3d}  p50 {percentile(mine, 50):.2f} s  p95 {percentile(mine, 95):.2f} s"
                  f"  (median {statistics.median(mine):.2f})")
    for job, _, error in results:
        if error:
            print(f"  FAILED {job}: {error}")
    return 0 if len(ok) == len(results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
