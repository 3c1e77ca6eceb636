"""Start an onnxkit demo in a subprocess on 127.0.0.1 and talk to it over Gradio's HTTP API.

Shared by the benchmarks and the tests. Traffic only ever goes to the loopback interface.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
LOOPBACK = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        return sock.getsockname()[1]


def start(command: Sequence[str], port: int, *, cwd: Path | None = None, env: dict[str, str] | None = None,
          log_path: Path | None = None) -> subprocess.Popen:
    """Start ``command`` (which must serve on 127.0.0.1:``port``) with its output in ``log_path``."""
    full_env = dict(os.environ if env is None else env)
    full_env.update(GRADIO_SERVER_NAME=LOOPBACK, GRADIO_SERVER_PORT=str(port), GRADIO_ANALYTICS_ENABLED="False",
                    ONNXKIT_PROVIDER=full_env.get("ONNXKIT_PROVIDER", "cpu"))
    out = open(log_path, "wb") if log_path else subprocess.DEVNULL
    return subprocess.Popen(list(command), cwd=cwd or ROOT, env=full_env, stdout=out, stderr=subprocess.STDOUT)


def wait_ready(process: subprocess.Popen, port: int, timeout: float = 120.0, log_path: Path | None = None) -> None:
    """Poll until the app answers on ``/`` (raise with the log's tail if it dies or times out)."""
    deadline = time.monotonic() + timeout
    url = f"http://{LOOPBACK}:{port}/gradio_api/info"
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"app exited with {process.returncode}:\n{_tail(log_path)}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
            time.sleep(0.02)
    raise RuntimeError(f"app did not answer on port {port} within {timeout:.0f} s:\n{_tail(log_path)}")


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _tail(log_path: Path | None, lines: int = 30) -> str:
    if log_path is None or not log_path.exists():
        return "(no log)"
    return "\n".join(log_path.read_text(errors="replace").splitlines()[-lines:])


def call(port: int, api_name: str, data: list[Any], timeout: float = 60.0) -> list[Any]:
    """One request through Gradio's REST protocol (POST, then read the event stream); the outputs."""
    base = f"http://{LOOPBACK}:{port}/gradio_api/call/{api_name}"
    request = urllib.request.Request(base, data=json.dumps({"data": data}).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        event_id = json.load(response)["event_id"]
    with urllib.request.urlopen(f"{base}/{event_id}", timeout=timeout) as response:
        event = None
        for raw in response:
            line = raw.decode().strip()
            if line.startswith("event:"):
                event = line.split(":", 1)[1].strip()
            elif line.startswith("data:") and event in ("complete", "error"):
                payload = line.split(":", 1)[1].strip()
                if event == "error":
                    raise RuntimeError(f"{api_name} failed: {payload}")
                return json.loads(payload)
    raise RuntimeError(f"{api_name}: the event stream ended without a result")


def python() -> str:
    return sys.executable
