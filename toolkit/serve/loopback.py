"""Keep a single-machine Ray cluster on 127.0.0.1: nothing it starts listens on another address.

Measured with Ray 2.60 (see tests/test_serve_ray.py, which checks every listening socket):

* by default Ray rewrites ``127.0.0.1`` as the node address to the host's address and its C++
  servers listen on every interface; with ``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0`` (Ray's own
  "local only" mode, the default on macOS and Windows) they bind the loopback address;
* Serve replicas bind their inter-deployment gRPC server to ``[::]:0`` whatever the node address;
  :func:`bind_replicas_to_loopback`, run in every worker as Ray's ``worker_process_setup_hook``,
  rebinds it to ``127.0.0.1:0`` (the only address its peers on this node dial anyway);
* usage statistics are reported to the internet unless ``RAY_USAGE_STATS_ENABLED=0``;
* a new local instance writes a token for its token authentication to ``~/.ray/auth_token`` if
  none is there, non-atomically: two instances starting at once (two test files in parallel on a
  fresh machine) could each use a different token. :func:`ensure_auth_token` writes it once,
  atomically, first.

These environment variables must be set before ``import ray`` (Ray reads them at import) and are
inherited by every process the cluster starts. A real cluster (``ray start --head``) is left alone.
"""

from __future__ import annotations

import os
import secrets
import tempfile
from pathlib import Path
from typing import Any

LOOPBACK = "127.0.0.1"
#: Environment for a Ray driver and everything it starts on one machine.
LOCAL_ENV = {
    "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",
    "RAY_USAGE_STATS_ENABLED": "0",
    "RAY_DISABLE_DOCKER_CPU_WARNING": "1",
}
SETUP_HOOK = "toolkit.serve.loopback.bind_replicas_to_loopback"
#: Addresses a socket on loopback may show (IPv4, IPv4-mapped IPv6, IPv6).
LOOPBACK_ADDRESSES = frozenset({"127.0.0.1", "::ffff:127.0.0.1", "::1"})


def set_local_environment() -> None:
    """Put :data:`LOCAL_ENV` into ``os.environ``; call before the first ``import ray``."""
    os.environ.update(LOCAL_ENV)


def bind_replicas_to_loopback() -> None:
    """Ray worker setup hook: make Serve replicas' internal gRPC server listen on loopback only."""
    try:
        from ray.serve._private import replica
    except ImportError:  # pragma: no cover - a worker of a Ray without Serve
        return
    original = replica.add_port_to_grpc_server
    if getattr(original, "_onnxkit_loopback", False):
        return

    def add_port(server: Any, address: str) -> int:
        if address.startswith("[::]:") or address.startswith("0.0.0.0:"):
            address = f"{LOOPBACK}:{address.rsplit(':', 1)[1]}"
        return original(server, address)

    add_port._onnxkit_loopback = True  # type: ignore[attr-defined]
    replica.add_port_to_grpc_server = add_port


def ensure_auth_token() -> None:
    """Create Ray's default token file (256 random bits, as Ray makes it) unless it exists; two
    processes racing here both end up using the file that won."""
    path = Path.home() / ".ray" / "auth_token"
    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".auth_token.")
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_hex(32))
        os.chmod(tmp, 0o600)
        try:
            os.link(tmp, path)  # atomic and exclusive: fails if another process got there first
        except FileExistsError:
            pass
    finally:
        os.unlink(tmp)


def init_local_ray(num_cpus: int, **kwargs: Any) -> Any:
    """Start (or join, when this process already did) a one-machine Ray instance held on 127.0.0.1."""
    set_local_environment()
    ensure_auth_token()
    import ray

    if ray.is_initialized():
        return ray
    runtime_env = dict(kwargs.pop("runtime_env", None) or {})
    runtime_env.setdefault("worker_process_setup_hook", SETUP_HOOK)
    ray.init(
        address="local",
        _node_ip_address=LOOPBACK,
        num_cpus=num_cpus,
        include_dashboard=False,
        log_to_driver=kwargs.pop("log_to_driver", False),
        runtime_env=runtime_env,
        **kwargs,
    )
    return ray
