"""The training driver: ``onnxkit train``.

A run lives in ``runs/<model>/<run-id>/``::

    config.json      the validated model config, the dataset and the seed
    data.json        facts about the data the model needs to be rebuilt (labels, vocabulary, …)
    checkpoint.keras the last good checkpoint (weights and optimizer state), replaced atomically
    state.json       epochs done, status ("running", "finished", "stopped-nan")
    history.json     per-epoch logs
    metrics.json     test-set metrics after training
    samples/         whatever the plugin writes per epoch (sample grids, texts)

A run that fails before its first checkpoint is deleted, so every run directory left behind can
be resumed or exported.
"""

from __future__ import annotations

import json
import secrets
import shutil
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from toolkit.config import build_config, config_to_json, training_fields
from toolkit.errors import ConfigError, TrainingError
from toolkit.fsutil import atomic_write_json
from toolkit.registry import Registry, get_registry
from toolkit.spec import Dataset, ModelSpec
from toolkit.tf_setup import import_keras, seed_everything

CHECKPOINT = "checkpoint.keras"


@dataclass
class RunResult:
    run_dir: Path
    epochs_done: int
    metrics: dict[str, Any]
    history: dict[str, list[float]]


def new_run_id() -> str:
    return time.strftime("%Y%m%d-%H%M%S") + "-" + secrets.token_hex(2)


def load_data(registry: Registry, spec: ModelSpec, data: str | None, config: Any) -> tuple[Dataset | None, str | None]:
    """Load the dataset named by ``--data`` (or the model's default) as the model requests it."""
    if spec.data_kind is None:
        return None, None
    data = data or spec.default_data
    if data is None:
        raise ConfigError(f"model {spec.name!r} needs --data (it trains on {spec.data_kind})")
    dataset_spec, source = registry.resolve_data(data, spec.data_kind)
    dataset = dataset_spec.load(source, spec.data_request(config))
    return dataset, data


@dataclass
class NewRun:
    """A run directory just created with its records, before any training."""

    spec: ModelSpec
    config: Any
    dataset: Dataset | None
    data_info: dict[str, Any]
    run_dir: Path
    epochs: int


def new_run(model_name: str, *, data: str | None = None, overrides: dict[str, str] | None = None,
            epochs: int | None = None, runs_root: str | Path = "runs", run_id: str | None = None,
            seed: int | None = None, registry: Registry | None = None) -> NewRun:
    """Validate the config, load the data and write a fresh run directory's records (shared by
    in-process and distributed training)."""
    registry = registry or get_registry()
    spec = registry.model(model_name)
    overrides = dict(overrides or {})
    if seed is not None:
        overrides.setdefault("seed", str(seed))
    config = build_config(spec.config_class, overrides)
    fields = training_fields(config)
    total_epochs = epochs if epochs is not None else fields.epochs
    if total_epochs < 1:
        raise ConfigError(f"--epochs must be at least 1, got {total_epochs}")
    run_seed = int(fields.seed)
    seed_everything(run_seed)
    dataset, data_name = load_data(registry, spec, data, config)
    data_info = spec.describe_data(config, dataset)

    run_dir = Path(runs_root) / spec.name / (run_id or new_run_id())
    if run_dir.exists():
        raise TrainingError(f"run directory {run_dir} already exists")
    run_dir.mkdir(parents=True)
    atomic_write_json(run_dir / "config.json", {
        "model": spec.name,
        "plugin": spec.plugin,
        "plugin_version": spec.plugin_version,
        "config": config_to_json(config),
        "data": data_name,
        "seed": run_seed,
        "epochs": total_epochs,
    })
    atomic_write_json(run_dir / "data.json", data_info)
    write_state(run_dir, 0, "running")
    return NewRun(spec, config, dataset, data_info, run_dir, total_epochs)


def train(
    model_name: str,
    *,
    data: str | None = None,
    overrides: dict[str, str] | None = None,
    epochs: int | None = None,
    runs_root: str | Path = "runs",
    run_id: str | None = None,
    seed: int | None = None,
    registry: Registry | None = None,
    verbose: int | str = "auto",
) -> RunResult:
    """Train a fresh run of ``model_name``. See the module docstring for what is written."""
    fresh = new_run(model_name, data=data, overrides=overrides, epochs=epochs, runs_root=runs_root,
                    run_id=run_id, seed=seed, registry=registry)
    run_dir = fresh.run_dir
    try:
        model = fresh.spec.build(fresh.config, fresh.data_info)
        result = _fit(fresh.spec, model, fresh.config, fresh.dataset, fresh.data_info, run_dir, 0, fresh.epochs,
                      verbose)
    except BaseException:
        if not (run_dir / CHECKPOINT).exists():
            shutil.rmtree(run_dir, ignore_errors=True)
        raise
    return result


def resume(run_dir: str | Path, *, epochs: int | None = None, registry: Registry | None = None,
           verbose: int | str = "auto") -> RunResult:
    """Continue an interrupted (or finished, with more ``epochs``) run from its last checkpoint."""
    run_dir = Path(run_dir)
    registry = registry or get_registry()
    done, total = plan_resume(run_dir, epochs, registry)
    run = open_run(run_dir, registry)
    spec, config, record, data_info = run.spec, run.config, run.record, run.data_info
    seed_everything(int(record.get("seed", 0)) + done)
    dataset, _ = load_data(registry, spec, record.get("data"), config)
    model = spec.build(config, data_info)
    fit = spec.fit_data(config, dataset, data_info)
    _prime_optimizers(model, fit)
    load_checkpoint(model, run_dir)
    return _fit(spec, model, config, dataset, data_info, run_dir, done, total, verbose, fit=fit)


def plan_resume(run_dir: Path, epochs: int | None, registry: Registry) -> tuple[int, int]:
    """``(epochs done, epochs wanted)`` for resuming ``run_dir``; records the new total."""
    run = open_run(run_dir, registry)
    done = int(read_state(run_dir).get("epochs_done", 0))
    total = epochs if epochs is not None else int(run.record.get("epochs", done))
    if total <= done:
        raise TrainingError(f"{run_dir} already has {done} epochs; ask for more with --epochs N (N > {done})")
    if not (run_dir / CHECKPOINT).is_file():
        raise TrainingError(f"{run_dir}: no checkpoint ({CHECKPOINT} is missing; did the first epoch finish?)")
    record = dict(run.record, epochs=total)
    atomic_write_json(run_dir / "config.json", record)
    return done, total


def read_state(run_dir: Path) -> dict[str, Any]:
    return read_run_json(Path(run_dir) / "state.json")


def write_state(run_dir: Path, epochs_done: int, status: str, **extra: Any) -> None:
    atomic_write_json(Path(run_dir) / "state.json", {"epochs_done": epochs_done, "status": status, **extra})


def read_history(run_dir: Path) -> dict[str, list[float]]:
    return read_run_json(Path(run_dir) / "history.json", required=False)


@dataclass
class OpenedRun:
    """A run directory's records, with its spec and validated config (model not built yet)."""

    spec: ModelSpec
    config: Any
    record: dict[str, Any]
    data_info: dict[str, Any]


def open_run(run_dir: Path, registry: Registry) -> OpenedRun:
    record = read_run(run_dir)
    spec = registry.model(record["model"])
    config = build_config(spec.config_class, record["config"])
    data_info = read_run_json(run_dir / "data.json")
    return OpenedRun(spec=spec, config=config, record=record, data_info=data_info)


def read_run_json(path: Path, *, required: bool = True) -> dict[str, Any]:
    """A run directory's JSON file as a dict (the one reader of run files, training and export alike).

    A missing file is an error naming it, or ``{}`` when not ``required`` (an interrupted run has
    no metrics yet); a corrupt one is always an error: silently reading it as empty would export
    a manifest that lies.
    """
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        if not required:
            return {}
        raise TrainingError(f"{path.parent}: missing {path.name}") from None
    except json.JSONDecodeError as exc:
        raise TrainingError(f"{path}: corrupt ({exc})") from None
    if not isinstance(data, dict):
        raise TrainingError(f"{path}: expected a JSON object")
    return data


def read_run(run_dir: str | Path) -> dict[str, Any]:
    """Read a run directory's ``config.json``, with errors that say what is wrong."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise TrainingError(f"{run_dir}: no such run directory")
    path = run_dir / "config.json"
    if not path.is_file():
        raise TrainingError(f"{run_dir}: not a run directory (no config.json)")
    record = read_run_json(path)
    for key in ("model", "config"):
        if key not in record:
            raise TrainingError(f"{path}: missing {key!r}")
    if not (run_dir / "data.json").is_file():
        raise TrainingError(f"{run_dir}: missing data.json")
    return record


def load_checkpoint(model: Any, run_dir: Path) -> None:
    """Load ``checkpoint.keras`` into a freshly built model, turning Keras errors into one line."""
    path = run_dir / CHECKPOINT
    if not path.is_file():
        raise TrainingError(f"{run_dir}: no checkpoint ({CHECKPOINT} is missing; did the first epoch finish?)")
    try:
        with warnings.catch_warnings():
            # Export loads into a model without a built optimizer; its state is not needed there.
            warnings.filterwarnings("ignore", message="Skipping variable loading for optimizer")
            model.load_weights(str(path))
    except Exception as exc:  # zip errors, h5 errors, shape mismatches: all mean "bad checkpoint"
        raise TrainingError(f"{path}: cannot load checkpoint ({type(exc).__name__}: {str(exc)[:200]})") from None


def _prime_optimizers(model: Any, fit: Any) -> None:
    """Run one step on one batch so every optimizer variable exists before the checkpoint loads
    over it (loading then restores weights *and* optimizer state exactly)."""
    import numpy as np

    x = fit.x
    if is_tf_dataset(x):
        batch = next(iter(x.take(1)))
        model.train_on_batch(*batch) if isinstance(batch, tuple) else model.train_on_batch(batch)
        return
    n = min(len(x), fit.batch_size or 32)
    xb = x[:n] if not isinstance(x, (list, tuple)) else [np.asarray(part[:n]) for part in x]
    yb = None if fit.y is None else (fit.y[:n] if not isinstance(fit.y, (list, tuple)) else [p[:n] for p in fit.y])
    model.train_on_batch(xb, yb)


def _fit(spec: ModelSpec, model: Any, config: Any, dataset: Dataset | None, data_info: dict[str, Any],
         run_dir: Path, initial_epoch: int, epochs: int, verbose: int | str, fit: Any = None) -> RunResult:
    keras = import_keras()
    fit = fit or spec.fit_data(config, dataset, data_info)
    from toolkit.callbacks import CheckpointAndNaNGuard

    guard = CheckpointAndNaNGuard(run_dir, initial_epoch)
    callbacks = [guard, *spec.callbacks(model, config, data_info, run_dir)]
    if verbose == "auto":
        verbose = 1 if sys.stdout.isatty() else 2
    keras_history = model.fit(
        fit.x, fit.y,
        batch_size=None if is_tf_dataset(fit.x) else fit.batch_size,
        epochs=epochs,
        initial_epoch=initial_epoch,
        validation_data=fit.validation,
        shuffle=fit.shuffle,
        callbacks=callbacks,
        verbose=verbose,
    )
    del keras_history, keras
    if guard.nan_detail is not None:
        write_state(run_dir, guard.epochs_done, "stopped-nan", detail=guard.nan_detail)
        raise_stopped(run_dir, guard.epochs_done, guard.nan_detail)
    return finish_run(spec, model, config, dataset, data_info, run_dir, guard.epochs_done, guard.history)


def raise_stopped(run_dir: Path, epochs_done: int, detail: str) -> None:
    """The NaN guard stopped training: keep the last good checkpoint, or nothing before the first."""
    if epochs_done == 0:
        shutil.rmtree(run_dir, ignore_errors=True)
        raise TrainingError(f"training stopped: {detail} before the first epoch finished; nothing was kept")
    raise TrainingError(
        f"training stopped: {detail}; the last good checkpoint (epoch {epochs_done}) is kept in {run_dir}"
    )


def finish_run(spec: ModelSpec, model: Any, config: Any, dataset: Dataset | None, data_info: dict[str, Any],
               run_dir: Path, epochs_done: int, history: dict[str, list[float]]) -> RunResult:
    """Test-set metrics of the trained model, then mark the run finished."""
    metrics = spec.evaluate(model, config, dataset, data_info) if dataset is not None or spec.data_kind is None else {}
    atomic_write_json(run_dir / "metrics.json", metrics)
    write_state(run_dir, epochs_done, "finished")
    return RunResult(run_dir=run_dir, epochs_done=epochs_done, metrics=metrics, history=history)


def is_tf_dataset(x: Any) -> bool:
    """A ``tf.data.Dataset`` (numpy arrays also have ``take``, so check the type, not the method)."""
    return hasattr(x, "take") and hasattr(x, "element_spec")
