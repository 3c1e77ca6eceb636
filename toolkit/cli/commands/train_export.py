"""``onnxkit train`` and ``onnxkit export``: the training side (imports TensorFlow when run)."""

from __future__ import annotations

import argparse

from toolkit.config import parse_assignments
from toolkit.tf_setup import show_tf_logs

VERBOSE_HELP = "also show TensorFlow's native start-up log lines (CUDA, oneDNN notices)"


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("train", help="train a model into runs/<model>/<run-id>/")
    p.add_argument("model", nargs="?", help="model name (see `onnxkit models`)")
    p.add_argument("--data", help="dataset NAME, NAME:PATH, or a PATH its loader recognises")
    p.add_argument("--set", dest="settings", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config value (repeatable)")
    p.add_argument("--epochs", type=int, help="number of epochs (default: the config's)")
    p.add_argument("--seed", type=int, help="random seed (default: the config's)")
    p.add_argument("--runs", default="runs", help="root of run directories (default: runs)")
    p.add_argument("--run-id", help="name of the run directory (default: a timestamp)")
    p.add_argument("--resume", metavar="RUN_DIR", help="continue an interrupted run from its last checkpoint")
    p.add_argument("--workers", type=int, default=None, metavar="N",
                   help="train data-parallel on N Ray Train workers (needs the serve extra: Ray)")
    p.add_argument("--ray-address", metavar="ADDRESS",
                   help="with --workers: join this Ray cluster (e.g. auto, or HEAD:6379) instead of starting "
                        "a local one on 127.0.0.1")
    p.add_argument("--verbose", action="store_true", help=VERBOSE_HELP)
    p.set_defaults(func=train_command)

    p = subparsers.add_parser("export", help="export a run to ONNX with a manifest")
    p.add_argument("run_dir", help="a run directory written by `onnxkit train`")
    p.add_argument("--out", required=True, help="export directory to write, e.g. exported/NAME")
    p.add_argument("--name", help="export name recorded in the manifest (default: the --out folder name)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing export directory")
    p.add_argument("--verbose", action="store_true", help=VERBOSE_HELP)
    p.set_defaults(func=export_command)


def train_command(args: argparse.Namespace) -> int:
    from toolkit import training
    from toolkit.errors import ConfigError

    show_tf_logs(args.verbose)
    if args.ray_address and args.workers is None:
        raise ConfigError("--ray-address goes with --workers N")
    if args.workers is not None:
        try:
            from toolkit import distributed as engine
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise ConfigError(f"--workers needs Ray: pip install 'onnxkit[serve]' ({exc})") from None
        extra = {"workers": args.workers, "address": args.ray_address}
    else:
        engine, extra = training, {}
    if args.resume:
        if args.model or args.settings or args.data:
            raise ConfigError("--resume takes the run's own model, data and config; give only --epochs")
        result = engine.resume(args.resume, epochs=args.epochs, **extra)
    else:
        if not args.model:
            raise ConfigError("name a model to train (see `onnxkit models`), or --resume RUN_DIR")
        result = engine.train(
            args.model, data=args.data, overrides=parse_assignments(args.settings), epochs=args.epochs,
            runs_root=args.runs, run_id=args.run_id, seed=args.seed, **extra,
        )
    print(f"run: {result.run_dir}  epochs: {result.epochs_done}")
    for key, value in result.metrics.items():
        print(f"  {key}: {value:.6g}" if isinstance(value, float) else f"  {key}: {value}")
    return 0


def export_command(args: argparse.Namespace) -> int:
    show_tf_logs(args.verbose)
    from toolkit.export import export_run

    manifest = export_run(args.run_dir, args.out, name=args.name, overwrite=args.overwrite)
    print(f"exported {manifest.name} ({manifest.task}) to {args.out}")
    for entry in manifest.files.values():
        print(f"  {entry.path}: parity max abs diff {entry.parity.get('max_abs_diff', float('nan')):.3g}")
    return 0
