"""Cold start of the combined demo: process start -> first served sample, model load included.

Starts ``python -m apps`` on a free 127.0.0.1 port, then requests one sample from the first image
generator (or, if none is shipped, 20 characters from the language model) as soon as the port
accepts connections; the clock runs from just before the process is
spawned to the moment the sample's PNG is back. Repeats ``--runs`` times and prints each run, the
median, and the app's own log line on how long opening the models took.

    .venv/bin/python benchmarks/bench_cold_start.py [--exported DIR] [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import local_server  # noqa: E402

from toolkit.manifest import read_manifest  # noqa: E402

TARGET_S = 3.0


def first_request(exported: Path) -> tuple[str, str, list]:
    """(export name, endpoint, request data) for one sample: from the first image generator, or
    (when none is shipped) a short text from the language model, or a classification."""
    by_task: dict[str, str] = {}
    for path in sorted(p for p in exported.iterdir() if (p / "manifest.json").is_file()):
        by_task.setdefault(read_manifest(path, verify_hashes=False).task, path.name)
    for task in ("image-generator", "conditional-generator"):
        if task in by_task:
            return by_task[task], "generate", [by_task[task], 1, 0, "every class in turn", []]
    if "text-generator" in by_task:
        return by_task["text-generator"], "write", [by_task["text-generator"], "The ", 0.8, 20, 1.0, 0]
    raise SystemExit(f"no image generator or text generator export in {exported}: nothing to sample")


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds the process has used so far (Linux /proc; NaN elsewhere).

    On a busy shared machine the wall clock mostly measures waiting for a core; the app's own CPU
    time is what its start-up costs, and close to the wall time it takes on an idle machine.
    """
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return float("nan")


def one_run(exported: Path, log: Path) -> tuple[float, float, float, str]:
    name, endpoint, data = first_request(exported)
    port = local_server.free_port()
    command = [local_server.python(), "-m", "apps", "--exported", str(exported), "--port", str(port)]
    start = time.perf_counter()
    process = local_server.start(command, port, log_path=log)
    try:
        while True:
            if process.poll() is not None:
                raise SystemExit(f"app exited early:\n{log.read_text()[-3000:]}")
            try:
                result = local_server.call(port, endpoint, data, timeout=60)
                break
            except (ConnectionError, OSError):
                time.sleep(0.01)
            except RuntimeError as exc:
                raise SystemExit(str(exc))
        first_sample = time.perf_counter() - start
        cpu = cpu_seconds(process.pid)
        assert result and result[0], "no sample came back"
    finally:
        local_server.stop(process)
    text = log.read_text(errors="replace")
    loaded = re.search(r"export\(s\) from .* in ([0-9.]+) s", text)
    return first_sample, cpu, float(loaded.group(1)) if loaded else float("nan"), f"{name} (/{endpoint})"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--exported", type=Path, default=local_server.ROOT / "exported")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    times, cpus = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for run in range(1, args.runs + 1):
            total, cpu, models, name = one_run(args.exported, Path(tmp) / f"run{run}.log")
            times.append(total)
            cpus.append(cpu)
            print(f"run {run}: first sample from {name} after {total:.2f} s wall, {cpu:.2f} s CPU of the app "
                  f"process (models opened in {models:.2f} s)")
    median, cpu = statistics.median(times), statistics.median(cpus)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"cold start (process start -> first served sample), median of {len(times)}: {median:.2f} s wall, "
          f"{cpu:.2f} s CPU; {os.cpu_count()} cores, load average {load:.1f} "
          f"(target < {TARGET_S:.0f} s: {'met' if median < TARGET_S else 'NOT met'} on the wall clock)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
