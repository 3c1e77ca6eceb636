"""``onnxkit serve``: plan the applications, run them on a local Ray instance, or write them as a
Ray Serve config file for ``serve deploy`` on an existing cluster.

One Ray Serve *application* per export, named after it and routed at ``/<name>``, each holding one
:class:`~toolkit.serve.deployment.ExportDeployment` with its replicas. Separate applications (not
one app with many deployments) so each export can be redeployed or scaled alone with
``serve deploy``.
"""

from __future__ import annotations

import math
import os
import re
import signal
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from toolkit.errors import ConfigError
from toolkit.fsutil import atomic_write_text
from toolkit.manifest import read_manifest

_URL_SAFE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
IMPORT_PATH = "toolkit.serve.deployment:build_app"


@dataclass(frozen=True)
class ServeOptions:
    replicas: int = 1
    max_batch_size: int = 16
    batch_wait_ms: float = 5.0
    threads: int | None = None
    cpus_per_replica: float = 1.0

    def check(self) -> ServeOptions:
        if self.replicas < 1:
            raise ConfigError(f"--replicas must be at least 1, got {self.replicas}")
        if self.max_batch_size < 1:
            raise ConfigError(f"--max-batch-size must be at least 1, got {self.max_batch_size}")
        if not 0 <= self.batch_wait_ms <= 10_000:
            raise ConfigError(f"--batch-wait-ms must be in [0, 10000], got {self.batch_wait_ms}")
        if self.threads is not None and self.threads < 1:
            raise ConfigError(f"--threads must be at least 1, got {self.threads}")
        if self.cpus_per_replica < 0:
            raise ConfigError(f"--cpus-per-replica must be >= 0, got {self.cpus_per_replica}")
        return self

    @property
    def max_ongoing_requests(self) -> int:
        """A replica must accept at least a full batch (Ray's default of 5 would cap batches at 5)."""
        return max(64, 2 * self.max_batch_size)


@dataclass(frozen=True)
class AppPlan:
    """One export as one Serve application."""

    name: str
    export_dir: Path
    task: str

    @property
    def route_prefix(self) -> str:
        return f"/{self.name}"


def plan(exports: list[str]) -> list[AppPlan]:
    """Check every export (manifest and file hashes) before any cluster work; names must be unique
    and URL-safe since they become route prefixes."""
    if not exports:
        raise ConfigError("name at least one export directory to serve")
    plans: list[AppPlan] = []
    for export in exports:
        manifest = read_manifest(export, verify_hashes=True)
        if not _URL_SAFE.match(manifest.name):
            raise ConfigError(f"{export}: export name {manifest.name!r} cannot be a URL path (letters, digits, . _ -)")
        if any(p.name == manifest.name for p in plans):
            raise ConfigError(f"two exports are both named {manifest.name!r}; each needs its own route")
        plans.append(AppPlan(manifest.name, Path(export).resolve(), manifest.task))
    return plans


def build_args(app: AppPlan, options: ServeOptions) -> dict[str, Any]:
    args: dict[str, Any] = {"export": str(app.export_dir), "max_batch_size": options.max_batch_size,
                            "batch_wait_ms": options.batch_wait_ms}
    if options.threads is not None:
        args["threads"] = options.threads
    return args


def deployment_options(options: ServeOptions) -> dict[str, Any]:
    return {"num_replicas": options.replicas, "max_ongoing_requests": options.max_ongoing_requests,
            "ray_actor_options": {"num_cpus": options.cpus_per_replica}}


def config_document(plans: list[AppPlan], options: ServeOptions, host: str, port: int) -> dict[str, Any]:
    """A Ray Serve config (the schema ``serve deploy`` reads) for these exports."""
    return {
        "proxy_location": "EveryNode",
        "http_options": {"host": host, "port": port},
        "applications": [
            {
                "name": app.name,
                "route_prefix": app.route_prefix,
                "import_path": IMPORT_PATH,
                "args": build_args(app, options),
                "deployments": [{"name": "ExportDeployment", **deployment_options(options)}],
            }
            for app in plans
        ],
    }


def write_config(path: str | Path, plans: list[AppPlan], options: ServeOptions, host: str, port: int) -> Path:
    import yaml  # a dependency of ray[serve]

    header = ("# Ray Serve config written by `onnxkit serve build`; deploy it on a running cluster with\n"
              "#   serve deploy THIS_FILE --address http://HEAD:8265\n"
              "# Every node needs onnxkit installed and the export directories at these paths.\n")
    text = header + yaml.safe_dump(config_document(plans, options, host, port), sort_keys=False)
    atomic_write_text(path, text)
    return Path(path)


def local_cpus(apps: list[tuple[AppPlan, ServeOptions]]) -> int:
    """Logical CPUs for a local instance: at least what the replicas ask for (Ray would otherwise
    leave replicas pending forever on a small machine), at least the real core count."""
    wanted = math.ceil(sum(options.replicas * options.cpus_per_replica for _, options in apps))
    return max(os.cpu_count() or 1, wanted, 1)


def start(apps: list[tuple[AppPlan, ServeOptions]], host: str, port: int) -> None:
    """Start a local Ray instance held on loopback (see :mod:`toolkit.serve.loopback`) and deploy
    every application on it, each with its own options (the benchmark serves one export batched
    and unbatched side by side)."""
    from toolkit.serve.loopback import init_local_ray

    init_local_ray(local_cpus(apps), object_store_memory=256 * 1024 * 1024)
    from ray import serve

    from toolkit.serve.deployment import ExportDeployment

    serve.start(http_options={"host": host, "port": port})
    for app, options in apps:
        args = build_args(app, options)
        export = args.pop("export")
        deployment = ExportDeployment.options(**deployment_options(options)).bind(export, **args)
        serve.run(deployment, name=app.name, route_prefix=app.route_prefix)


def stop() -> None:
    """Shut Serve and the Ray instance of this process down."""
    import ray

    try:
        if ray.is_initialized():
            from ray import serve

            serve.shutdown()
    finally:
        ray.shutdown()


def serve_forever(plans: list[AppPlan], options: ServeOptions, host: str, port: int) -> int:
    """Run until SIGINT/SIGTERM, then shut Serve and Ray down (no process left behind)."""
    stopping = threading.Event()
    try:
        start([(app, options) for app in plans], host, port)
        # After Ray's start: ray.init installs its own SIGTERM handler, which would exit at once.
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: stopping.set())
        shown = "localhost" if host in ("0.0.0.0", "::") else host
        for app in plans:
            print(f"serving {app.name} ({app.task}) at http://{shown}:{port}{app.route_prefix}/", flush=True)
        print(f"onnxkit serve: ready ({options.replicas} replica(s) per export, batches of up to "
              f"{options.max_batch_size}, waiting {options.batch_wait_ms:g} ms); Ctrl-C stops", flush=True)
        while not stopping.wait(0.5):
            pass
    finally:
        stop()
        print("onnxkit serve: stopped", file=sys.stderr, flush=True)
    return 0
