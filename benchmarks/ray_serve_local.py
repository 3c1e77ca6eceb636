"""Start ``onnxkit serve`` (a local Ray Serve instance) on 127.0.0.1, talk JSON to it, prove it kept
to loopback, and stop it by its process id. Shared by tests/test_serve_ray.py and bench_serve.py.
"""

from __future__ import annotations

import json
import os
import signal
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
LOOPBACK_IPS = frozenset({"127.0.0.1", "::ffff:127.0.0.1", "::1"})


class Server:
    """A running ``onnxkit serve`` (or any command serving the same routes) and its processes."""

    def __init__(self, command: Sequence[str], port: int, log_path: Path, env: dict[str, str] | None = None) -> None:
        self.port = port
        self.log_path = log_path
        full_env = dict(os.environ if env is None else env)
        full_env.setdefault("ONNXKIT_PROVIDER", "cpu")
        full_env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), full_env.get("PYTHONPATH", "")]))
        self._log = open(log_path, "wb")
        self.process = subprocess.Popen(list(command), cwd=ROOT, env=full_env, stdout=self._log,
                                        stderr=subprocess.STDOUT)
        self.pids: set[int] = {self.process.pid}

    @property
    def base(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def wait_ready(self, names: Sequence[str], timeout: float = 300.0) -> None:
        """Until every application answers ``GET /NAME/`` (raise with the log's tail if it dies)."""
        deadline = time.monotonic() + timeout
        pending = list(names)
        while pending and time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"onnxkit serve exited with {self.process.returncode}:\n{self.tail()}")
            try:
                status, _ = get(f"{self.base}/{pending[0]}/", timeout=5)
                if status == 200:
                    pending.pop(0)
                    continue
            except OSError:
                pass
            time.sleep(0.5)
        if pending:
            raise RuntimeError(f"{pending} did not answer within {timeout:.0f} s:\n{self.tail()}")
        self.pids |= descendants(self.process.pid)

    def tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self, timeout: float = 60.0) -> list[int]:
        """SIGINT to the server (it shuts Serve and Ray down), then SIGKILL to any of its processes
        still alive, by pid. Returns the pids that had to be killed."""
        self.pids |= descendants(self.process.pid)
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()
        deadline = time.monotonic() + 20
        survivors = [pid for pid in self.pids if _alive(pid)]
        while survivors and time.monotonic() < deadline:
            time.sleep(0.5)
            survivors = [pid for pid in survivors if _alive(pid)]
        for pid in survivors:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        return survivors


def serve_command(exports: Sequence[str | Path], port: int, *options: str) -> list[str]:
    return [sys.executable, "-m", "toolkit", "serve", *map(str, exports), "--host", LOOPBACK, "--port", str(port),
            *options]


def descendants(pid: int) -> set[int]:
    import psutil

    try:
        return {p.pid for p in psutil.Process(pid).children(recursive=True)}
    except psutil.NoSuchProcess:
        return set()


def _alive(pid: int) -> bool:
    import psutil

    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def off_loopback_sockets(pids: set[int]) -> list[str]:
    """Every inet socket of ``pids`` that listens on, or is connected to, anything but loopback."""
    import psutil

    bad = []
    for conn in psutil.net_connections("inet"):
        if conn.pid not in pids:
            continue
        listening = conn.status == psutil.CONN_LISTEN or (conn.type == 2 and not conn.raddr)  # 2: SOCK_DGRAM
        if listening and conn.laddr.ip not in LOOPBACK_IPS:
            bad.append(f"{_name(conn.pid)} listens on {conn.laddr.ip}:{conn.laddr.port}")
        if conn.raddr and conn.raddr.ip not in LOOPBACK_IPS:
            bad.append(f"{_name(conn.pid)} talks to {conn.raddr.ip}:{conn.raddr.port}")
    return bad


def listening_sockets(pids: set[int]) -> list[tuple[str, int]]:
    import psutil

    return [(c.laddr.ip, c.laddr.port) for c in psutil.net_connections("inet")
            if c.pid in pids and c.status == psutil.CONN_LISTEN]


def _name(pid: int) -> str:
    import psutil

    try:
        return f"{psutil.Process(pid).name()}[{pid}]"
    except psutil.Error:
        return f"[{pid}]"


def get(url: str, timeout: float = 30.0) -> tuple[int, Any]:
    return _request(urllib.request.Request(url), timeout)


def post(url: str, body: Any, timeout: float = 60.0) -> tuple[int, Any]:
    """POST ``body`` (JSON-encoded unless bytes); ``(status, decoded JSON answer)``, 4xx/5xx included."""
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return _request(urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"}), timeout)


def _request(request: urllib.request.Request, timeout: float) -> tuple[int, Any]:
    assert request.host.split(":")[0] == LOOPBACK, f"loopback only, not {request.host}"
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, _decode(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, _decode(exc.read())


def _decode(body: bytes) -> Any:
    """JSON, or the text itself (Ray's proxy answers plain text for a route not deployed yet)."""
    try:
        return json.loads(body)
    except ValueError:
        return body.decode(errors="replace")
