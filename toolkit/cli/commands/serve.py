"""``onnxkit serve``: serve exports on Ray Serve (needs the ``serve`` extra: ``pip install onnxkit[serve]``).

``onnxkit serve build EXPORT... --out serve.yaml`` writes the same applications as a Ray Serve
config file for ``serve deploy`` on an existing cluster instead of starting one.
"""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "serve", help="serve exports over HTTP on Ray Serve (replicas, dynamic batching)",
        description="Serve export directories over HTTP/JSON on a local Ray Serve instance, one application "
                    "per export at /NAME/. `onnxkit serve build EXPORT... --out FILE` writes a Ray Serve "
                    "config for `serve deploy` on an existing cluster instead (a folder named 'build': ./build).",
    )
    p.add_argument("exports", nargs="+", metavar="EXPORT", help="export directories (or: build EXPORT...)")
    p.add_argument("--replicas", type=int, default=1, help="replicas per export (default 1)")
    p.add_argument("--max-batch-size", type=int, default=16, help="requests batched into one run (default 16)")
    p.add_argument("--batch-wait-ms", type=float, default=5.0,
                   help="how long a replica waits to fill a batch (default 5 ms)")
    p.add_argument("--threads", type=int, help="onnxruntime threads per replica (default: onnxruntime's choice)")
    p.add_argument("--cpus-per-replica", type=float, default=1.0,
                   help="CPUs Ray reserves per replica (default 1)")
    p.add_argument("--host", default="127.0.0.1", help="address the HTTP proxy listens on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000, help="HTTP port (default 8000)")
    p.add_argument("--out", help="with `build`: the config file to write")
    p.set_defaults(func=serve_command)


def serve_command(args: argparse.Namespace) -> int:
    from toolkit.errors import ConfigError

    try:
        from toolkit.serve import app
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise ConfigError(f"onnxkit serve needs Ray: pip install 'onnxkit[serve]' ({exc})") from None
    exports = list(args.exports)
    build = exports[0] == "build"
    if build:
        exports = exports[1:]
        if not args.out:
            raise ConfigError("onnxkit serve build needs --out FILE (the Ray Serve config to write)")
    elif args.out:
        raise ConfigError("--out goes with `onnxkit serve build EXPORT...`")
    options = app.ServeOptions(replicas=args.replicas, max_batch_size=args.max_batch_size,
                               batch_wait_ms=args.batch_wait_ms, threads=args.threads,
                               cpus_per_replica=args.cpus_per_replica).check()
    plans = app.plan(exports)
    if build:
        path = app.write_config(args.out, plans, options, args.host, args.port)
        print(f"wrote {path}: {len(plans)} application(s); deploy with `serve deploy {path}`")
        return 0
    return app.serve_forever(plans, options, args.host, args.port)
