"""Keep a single-machine Ray cluster on 127.0.0.1: nothing it starts listens on another address.

Measured with Ray 2.60 (see tests/test_serve_ray.py, which checks every listening socket):

* by default Ray rewrites ``127.0.0.1`` as the node address to the host's address and its C++
  servers listen on every interface; with ``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0`` (Ray's own
  "local only" mode, the default on macOS and Windows) they bind the loopback address;
* Serve replicas bind their inter-deployment gRPC server to ``[::]:0`` whatever the node address;
  :func:`bind_replicas_to_loopback`, run in every worker as Ray's ``worker_process_setup_hook``,
  rebinds it to ``127.0.0.1:0`` (the only address its peers on this node dial anyway);
* usage statistics are reported to the internet unless ``RAY_USAGE_STATS_ENABLED=0``.

These environment variables must be set before ``import ray`` (Ray reads them at import) and are
inherited by every process the cluster starts. A real cluster (``ray start --head``) is left alone.
"""

from __future__ import annotations

import os
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


def init_local_ray(num_cpus: int, **kwargs: Any) -> Any:
    """Start (or join, when this process already did) a one-machine Ray instance held on 127.0.0.1."""
    set_local_environment()
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
