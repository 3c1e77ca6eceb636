"""Command line and launch settings shared by the combined app and each single-capability app.

One place decides the queue (bounded concurrency, bounded waiting line), the upload size limit
Gradio itself enforces, and where the models come from, so ``python -m apps`` and
``python -m apps.generate`` behave alike.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
import threading
import time
from collections.abc import Callable, Sequence

from apps.limits import DEFAULT, Limits
from toolkit.runtime.batching import BatchPolicy

#: Requests run at once per event (the machine has few cores; more would only thrash). Batching
#: merges what is in flight together (and the events sharing one model: Generate's three, Face
#: match's two). More per event would let more requests share a run, but on this 2-core machine
#: under load the extra handler threads (GIL-bound numpy/Pillow work) starved the server's event
#: loop: with 16 per event, then 4, uploads timed out at the client (load_test 500/50: 35, then 58
#: client read timeouts, load averages 20-60). Write streams, which mostly wait on their shared step
#: call, get their own limit (apps.write.STREAMS_IN_FLIGHT).
DEFAULT_CONCURRENCY = 2
#: Most rows (images, faces) one merged model run takes, and how long a call that finds its model
#: idle waits for company (0: none; calls arriving while a run is under way merge into the next).
DEFAULT_BATCH_SIZE = 32
DEFAULT_BATCH_WAIT_MS = 0.0
#: Requests allowed to wait; beyond it Gradio answers "queue is full" at once.
DEFAULT_QUEUE_SIZE = 64
#: Threads for request handlers, in a pool of their own. Gradio's default (40) makes handlers share
#: anyio's default thread pool with the server's own file I/O (uploads, picture downloads); any other
#: number gives handlers their own limiter, so handlers waiting on a batched model or a Write stream
#: never hold the threads a download needs.
HANDLER_THREADS = 64
#: Every response's pictures are files of their own (apps.ui.publish_image); Gradio sweeps those
#: older than CACHE_AGE_S every CACHE_SWEEP_S, so a long-running Space's disk stays bounded.
CACHE_SWEEP_S, CACHE_AGE_S = 600, 3600

log = logging.getLogger("apps")


def parse_args(argv: Sequence[str] | None, description: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--exported", metavar="DIR", default=None,
                        help="directory of exports (default: $ONNXKIT_EXPORTED, else ./exported)")
    parser.add_argument("--host", default=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"),
                        help="address to listen on (default 127.0.0.1; $GRADIO_SERVER_NAME)")
    parser.add_argument("--port", type=int, default=int(os.environ.get("GRADIO_SERVER_PORT", "7860")),
                        help="port (default 7860; $GRADIO_SERVER_PORT)")
    parser.add_argument("--concurrency", type=int, default=DEFAULT_CONCURRENCY,
                        help=f"requests served at once per event (default {DEFAULT_CONCURRENCY})")
    parser.add_argument("--queue-size", type=int, default=DEFAULT_QUEUE_SIZE,
                        help=f"requests allowed to wait (default {DEFAULT_QUEUE_SIZE})")
    parser.add_argument("--threads", type=int, default=None,
                        help="onnxruntime threads per session (default: $ONNXKIT_THREADS or 1)")
    parser.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE,
                        help="most rows one merged model run takes when concurrent requests are batched "
                             f"(default {DEFAULT_BATCH_SIZE}; 1 turns batching off)")
    parser.add_argument("--batch-wait-ms", type=float, default=DEFAULT_BATCH_WAIT_MS,
                        help=f"how long a request waits for others to share its run (default {DEFAULT_BATCH_WAIT_MS})")
    args = parser.parse_args(argv)
    if args.queue_size < 1 or args.concurrency < 1:
        parser.error("--concurrency and --queue-size must be at least 1")
    if args.batch_size < 1 or not 0 <= args.batch_wait_ms <= 1000:
        parser.error("--batch-size must be at least 1 and --batch-wait-ms between 0 and 1000")
    args.batching = batch_policy(args.batch_size, args.batch_wait_ms)
    return args


def batch_policy(size: int = DEFAULT_BATCH_SIZE, wait_ms: float = DEFAULT_BATCH_WAIT_MS) -> BatchPolicy | None:
    """How concurrent requests share model runs; None (no batching) for a batch size of 1."""
    return BatchPolicy(max_batch=size, max_wait_s=wait_ms / 1000) if size > 1 else None


def queue(demo, *, concurrency: int = DEFAULT_CONCURRENCY, queue_size: int = DEFAULT_QUEUE_SIZE):
    """Bounded concurrency and a bounded queue: the app degrades by waiting, then by refusing."""
    return demo.queue(default_concurrency_limit=concurrency, max_size=queue_size)


def launch(demo, *, host: str, port: int, limits: Limits = DEFAULT, **kwargs):
    if demo.delete_cache is None:
        demo.delete_cache = (CACHE_SWEEP_S, CACHE_AGE_S)
    kwargs.setdefault("max_threads", HANDLER_THREADS)
    return demo.launch(server_name=host, server_port=port, max_file_size=limits.max_upload_bytes,
                       footer_links=["api"], **kwargs)


def main(build: Callable[..., object] | str, argv: Sequence[str] | None = None, *, description: str) -> int:
    """Parse arguments, open the models once, build the Blocks with ``build(store)``, serve.

    ``build`` may be given as ``"module:function"``: the models are then opened in a thread while
    that module (and Gradio, the slowest import of the start-up) is imported, which shortens the
    cold start by the model-loading time.
    """
    started = time.perf_counter()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s", stream=sys.stderr)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # Gradio's own start-up probes
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # a demo phones nowhere
    args = parse_args(argv, description)
    from apps.models import ModelStore

    opened: dict[str, object] = {}
    loader = threading.Thread(target=lambda: opened.update(store=ModelStore(args.exported, threads=args.threads,
                                                                         batching=args.batching)),
                              name="open-models")
    loader.start()
    if isinstance(build, str):
        module, _, function = build.partition(":")
        build = getattr(importlib.import_module(module), function)
    loader.join()
    if "store" not in opened:
        raise SystemExit("opening the models failed (see the log above)")
    store = opened["store"]
    log.info("%s", store.summary())
    demo = build(store)
    queue(demo, concurrency=args.concurrency, queue_size=args.queue_size)
    log.info("app built %.2f s after main() began (%.2f s after process start); serving on http://%s:%d",
             time.perf_counter() - started, since_process_start(), args.host, args.port)
    launch(demo, host=args.host, port=args.port)
    return 0


def since_process_start() -> float:
    """Seconds since this process began (Linux /proc; NaN elsewhere): the honest cold-start clock."""
    try:
        ticks = os.sysconf("SC_CLK_TCK")
        start = int(open("/proc/self/stat").read().rsplit(")", 1)[1].split()[19]) / ticks
        uptime = float(open("/proc/uptime").read().split()[0])
        return uptime - start
    except (OSError, ValueError, IndexError):
        return float("nan")
