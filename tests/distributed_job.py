"""Run by tests/test_train_ray.py inside a network namespace of its own (``unshare -n``, only ``lo``):
Ray Train jobs on 2 workers each (through the API on one local Ray instance, and through
``onnxkit train --workers 2``, which starts its own), and a watch on every socket they open. Writes ``report.json`` into the folder it is given.

    python -m tests.distributed_job OUT_DIR
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import traceback
from pathlib import Path

GAN_TINY = {"limit": "64", "filters": "8", "batch_size": "16", "grid_samples": "9", "latent_dim": "8"}


def watch_sockets(stop: threading.Event, seen: set[tuple[str, str, str, str]]) -> None:
    """Every listening or connected inet socket of this process and its descendants, until ``stop``."""
    import psutil

    me = psutil.Process()
    while not stop.wait(0.3):
        pids = {me.pid} | {p.pid for p in me.children(recursive=True)}
        for conn in psutil.net_connections("inet"):
            if conn.pid in pids and (conn.status == psutil.CONN_LISTEN or conn.raddr):
                remote = conn.raddr.ip if conn.raddr else ""
                seen.add((conn.status, conn.laddr.ip, remote, _name(conn.pid)))


def _name(pid: int) -> str:
    """The process title (Ray sets it, e.g. ``ray::RayTrainWorker``; ``name()`` is cut at 15 chars)."""
    import psutil

    try:
        process = psutil.Process(pid)
        command = process.cmdline()
        return command[0] if command else process.name()
    except psutil.Error:
        return "?"


def reap_children(grace: float = 20.0) -> list[str]:
    """Processes Ray left running after its shutdown (killed here, by pid, and named in the report)."""
    import time

    import psutil

    deadline = time.monotonic() + grace
    children = psutil.Process().children(recursive=True)
    while children and time.monotonic() < deadline:
        time.sleep(0.5)
        children = [c for c in children if c.is_running() and c.status() != psutil.STATUS_ZOMBIE]
    left = [f"{_name(c.pid)}[{c.pid}]" for c in children]
    for child in children:
        try:
            child.kill()
        except psutil.Error:
            pass
    return left


def interfaces() -> list[str]:
    """Network interfaces of this process's namespace (/proc/net/dev is per namespace; /sys is not)."""
    lines = Path("/proc/self/net/dev").read_text().splitlines()[2:]
    return sorted(line.split(":", 1)[0].strip() for line in lines)


def main(out: Path) -> int:
    from toolkit.serve.loopback import init_local_ray

    report: dict = {"interfaces": interfaces()}
    seen: set = set()
    stop = threading.Event()
    watcher = threading.Thread(target=watch_sockets, args=(stop, seen), daemon=True)
    ray = init_local_ray(2, object_store_memory=100 * 1024 * 1024)
    watcher.start()
    from toolkit import distributed, training

    try:
        runs = out / "runs"
        first = distributed.train("dcgan", workers=2, overrides=GAN_TINY, epochs=1, runs_root=runs, run_id="gan", seed=3)
        report["gan_first"] = {"epochs_done": first.epochs_done, "history": first.history}
        resumed = distributed.resume(first.run_dir, workers=2, epochs=2)
        report["gan_resumed"] = {"epochs_done": resumed.epochs_done, "history": resumed.history,
                                 "metrics": resumed.metrics}
        # The command line, as a user runs it: it starts (and stops) a Ray instance of its own.
        command = [sys.executable, "-m", "toolkit", "train", "toy-dense", "--workers", "2", "--set",
                   "explode_at_epoch=2", "--set", "epochs=3", "--runs", str(runs), "--run-id", "nan", "--seed", "1"]
        result = subprocess.run(command, capture_output=True, text=True, timeout=600)
        report["nan"] = {"returncode": result.returncode, "stderr": result.stderr[-2000:]}
        # One SGD step on one global batch of 32 (16 per worker) against the same step in-process,
        # for a custom train_step whose loss is half a keras.losses.Loss object (which Keras scales
        # under a strategy), half tf.reduce_mean (which it does not). (A compiled loss measured the
        # same, 3e-8; left out to keep the suite short.)
        for variant, custom in (("custom", "true"),):
            settings = {"optimizer": "sgd", "learning_rate": "0.5", "epochs": "1", "batch_size": "32",
                        "custom_step": custom}
            training.train("toy-dense", data="toy-blobs:40", overrides=settings, runs_root=runs,
                           run_id=f"local-{variant}", seed=5, verbose=0)
            distributed.train("toy-dense", workers=2, data="toy-blobs:40", overrides=settings, runs_root=runs,
                              run_id=f"workers-{variant}", seed=5)
        report["one_step"] = ["custom"]
    except Exception:
        report["error"] = traceback.format_exc()
    finally:
        stop.set()
        watcher.join()
        ray.shutdown()
        report["leftover"] = reap_children()
    report["sockets"] = sorted(seen)
    (out / "report.json").write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
