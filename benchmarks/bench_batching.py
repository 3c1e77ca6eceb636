"""Dynamic batching under concurrent users: requests/s of the demo with and without, in one run.

Starts the combined demo on free 127.0.0.1 ports in two configurations and, round after round,
sends each the same burst (``--requests`` requests from ``--clients`` concurrent gradio_clients,
cycling over Generate, Classify and Face match, the events whose models are batched), the
configurations taking turns so that a busy spell of the shared machine hits them alike:

* ``batched``: the shipped default (merged runs of up to 32 rows, 2 requests in flight per event);
* ``unbatched``: ``--batch-size 1``: as many requests in flight, each with its own onnxruntime run.

Prints requests/s per round and configuration, the medians, and batched / unbatched ratios.
Every request must succeed (exit 1 otherwise).

First, the same comparison without HTTP (``--only inprocess``): ``--clients`` threads in this
process call the models the way the demo's handlers do (16 samples from the generator, one
digit through the classifier, one aligned face through the embedder), on a batched and an
unbatched copy of the models in turn; it also prints how many calls each merged run served.

    .venv/bin/python benchmarks/bench_batching.py [--clients 20] [--requests 60] [--rounds 3]
                                                  [--only inprocess|http]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import load_test  # noqa: E402
import local_server  # noqa: E402
from together import run_together  # noqa: E402

CONFIGS = {
    "batched": [],
    "unbatched": ["--batch-size", "1"],
}
BATCHED_ENDPOINTS = ("/generate", "/classify", "/match")


def inprocess(exported: Path, clients: int, requests: int, rounds: int) -> None:
    """Threads calling batched vs unbatched pipelines directly, interleaved; prints calls/s."""
    import numpy as np

    from apps.models import ModelStore
    from apps.serve import batch_policy

    stores = {"batched": ModelStore(exported, batching=batch_policy()), "unbatched": ModelStore(exported)}
    work = {}
    for name, store in stores.items():
        calls = {}
        if (generator := store.first("image-generator")) is not None:
            calls["generate x16"] = lambda i, g=generator: g.sample(16, seed=i)
        if (classifier := store.first("classifier")) is not None:
            digit = np.random.default_rng(0).random((1, *classifier.image_shape), dtype=np.float32)
            calls["classify"] = lambda i, c=classifier, d=digit: c.predict(d)
        if (embedder := store.first("face-embedder")) is not None:
            face = np.random.default_rng(0).integers(0, 255, (1, embedder.size, embedder.size, 3), np.uint8)
            calls["embed face"] = lambda i, e=embedder, f=face: e.embed(f)
        work[name] = calls

    def burst(fn) -> float:
        def client(k: int) -> None:
            for i in range(k, requests, clients):
                fn(i)

        seconds, _ = run_together([lambda k=k: client(k) for k in range(clients)])
        return requests / seconds

    for what in work["batched"]:
        rates: dict[str, list[float]] = {"batched": [], "unbatched": []}
        for name in stores:
            burst(work[name][what])  # warm-up
        order = list(stores)
        for _ in range(rounds):
            for name in order:
                rates[name].append(burst(work[name][what]))
            order.reverse()
        b, u = statistics.median(rates["batched"]), statistics.median(rates["unbatched"])
        print(f"in-process {what:12s} at {clients} threads: batched {b:8.1f} calls/s, unbatched {u:8.1f} calls/s, "
              f"{b / u:.2f}x", flush=True)
    for pipeline in stores["batched"].pipelines.values():
        for file, session in pipeline.sessions.items():
            if session.batcher is not None and session.batcher.stats.runs:
                st = session.batcher.stats
                print(f"  {pipeline.name}/{file}: {st.calls} calls in {st.runs} runs "
                      f"({st.calls_per_run:.1f} calls per run, largest {st.largest} rows)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--requests", type=int, default=60, help="requests per burst")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--exported", type=Path, default=local_server.ROOT / "exported")
    parser.add_argument("--only", choices=("inprocess", "http"), default=None)
    parser.add_argument("--endpoints", nargs="+", default=list(BATCHED_ENDPOINTS),
                        help="HTTP endpoints to cycle over (add /write for continuous batching)")
    args = parser.parse_args()
    if not 1 <= args.clients <= 64 or not 1 <= args.requests <= 1000 or not 1 <= args.rounds <= 20:
        parser.error("keep it bounded: 1-64 clients, 1-1000 requests, 1-20 rounds")
    if args.only != "http":
        inprocess(args.exported, args.clients, max(args.requests, 200), args.rounds)
    if args.only == "inprocess":
        return 0
    rates: dict[str, list[float]] = {name: [] for name in CONFIGS}
    failures = 0
    with tempfile.TemporaryDirectory() as tmp:
        plans = {k: v for k, v in load_test.requests_for(args.exported, Path(tmp)).items() if k in args.endpoints}
        if not plans:
            raise SystemExit(f"none of {args.endpoints} is served from {args.exported}")
        servers = {}
        try:
            for name, extra in CONFIGS.items():
                port = local_server.free_port()
                log = Path(tmp) / f"{name}.log"
                process = local_server.start([local_server.python(), "-m", "apps", "--exported", str(args.exported),
                                              "--port", str(port), *extra], port, log_path=log)
                servers[name] = (process, port, log)
            for process, port, log in servers.values():
                local_server.wait_ready(process, port, log_path=log)
            for name, (_, port, _) in servers.items():  # warm-up: first calls pay lazy initialisation
                load_test.burst(port, plans, len(plans) * 2, 2)
            order = list(CONFIGS)
            for round_ in range(1, args.rounds + 1):
                line = []
                for name in order:
                    began = time.perf_counter()
                    results = load_test.burst(servers[name][1], plans, args.requests, args.clients)
                    rate = len(results) / (time.perf_counter() - began)
                    failed = [r for r in results if r[2]]
                    failures += len(failed)
                    for job, _, error in failed[:3]:
                        print(f"  FAILED {name} {job}: {error}")
                    rates[name].append(rate)
                    line.append(f"{name} {rate:.2f} req/s")
                print(f"round {round_}: " + ", ".join(line), flush=True)
                order = order[1:] + order[:1]  # take turns at going first
        finally:
            for process, _, _ in servers.values():
                local_server.stop(process)
    medians = {name: statistics.median(values) for name, values in rates.items()}
    print(f"median requests/s at {args.clients} clients over {args.rounds} rounds of {args.requests} "
          f"({', '.join(plans)}): " + ", ".join(f"{n} {m:.2f}" for n, m in medians.items()))
    print(f"batched / unbatched: {medians['batched'] / medians['unbatched']:.2f}x")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
