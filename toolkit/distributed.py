"""``onnxkit train MODEL --workers N``: data-parallel training on Ray Train.

Design (measured with Keras 3.15 / TensorFlow 2.21 / Ray 2.60, see docs/SCALING.md):

* ``model.fit`` under ``MultiWorkerMirroredStrategy`` fails (keras-team/keras#20585) and so does
  Ray Train's ``TensorflowTrainer`` with stock ``fit``; Keras' ``DataParallel`` needs the JAX
  backend, where the plugins' TensorFlow ``train_step``s (``tf.GradientTape`` in the GAN trainers)
  and tf2onnx export do not run. So each Ray Train worker runs **this module's loop**: the
  plugin's own compiled model, built inside ``strategy.scope()``, and its own ``train_step``
  called through ``strategy.run``. Keras' TensorFlow optimizer already all-reduces gradients in a
  replica context, so every worker applies the same update and the weights stay identical.
* Keras scales a loss by 1/workers only where it passes through Keras' loss code and sums the
  gradients, so a custom ``train_step`` would get the mean or ``workers`` times it depending on
  how it wrote its loss; each worker turns that scaling off and divides the optimizers' all-reduce
  by the number of workers instead (:func:`_uniform_gradient_mean`): every model gets the
  gradient of the mean loss over the global batch, as on one worker.
* Non-trainable float state a ``train_step`` updates from its own batch (batch-norm moving
  statistics, BEGAN's ``k``) is averaged across workers after every step, so it cannot drift apart.
* Each worker draws its own random numbers (the GAN trainers' z, dropout): worker r shifts the
  seeds of the model's seed generators by r, worker 0 keeps the run's own.
* Each epoch one seeded permutation (the same on every worker) is cut into global batches of
  ``batch_size``; worker r takes the r-th slice of each, so workers see disjoint shares of equal
  size and take the same number of steps (a remainder smaller than a global batch is dropped).
* Logs are averaged across workers before any callback sees them, so the NaN guard decides the
  same everywhere; callbacks run on every worker but only worker 0 writes into the run (checkpoint,
  history, state, sample grids; the others' plugin callbacks write into a scratch folder). The
  driver evaluates the final checkpoint on a plain (undistributed) model and writes metrics.json,
  so runs, resume and export are the same files as single-process training.

Each worker leaves ``workers/rank-R.json`` (a digest of its final weights, its example count) and
``workers/rank-R-examples.npy`` (the example indices it trained on in its last epoch): the record
that the workers agreed and split the data.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from toolkit import training
from toolkit.errors import ConfigError, TrainingError
from toolkit.fsutil import atomic_write_bytes, atomic_write_json
from toolkit.registry import Registry, get_registry

WORKERS_DIR = "workers"


# -- the driver --------------------------------------------------------------------------------------
def train(model_name: str, *, workers: int, data: str | None = None, overrides: dict[str, str] | None = None,
          epochs: int | None = None, runs_root: str | Path = "runs", run_id: str | None = None,
          seed: int | None = None, registry: Registry | None = None, address: str | None = None,
          ) -> training.RunResult:
    """Like :func:`toolkit.training.train`, on ``workers`` Ray Train workers."""
    _check_workers(workers)
    registry = registry or get_registry()
    fresh = training.new_run(model_name, data=data, overrides=overrides, epochs=epochs, runs_root=runs_root,
                             run_id=run_id, seed=seed, registry=registry)
    try:
        _run_workers(fresh.run_dir, workers, 0, fresh.epochs, address)
        return _finish(fresh.run_dir, registry)
    except BaseException:
        if not (fresh.run_dir / training.CHECKPOINT).exists():
            shutil.rmtree(fresh.run_dir, ignore_errors=True)
        raise


def resume(run_dir: str | Path, *, workers: int, epochs: int | None = None, registry: Registry | None = None,
           address: str | None = None) -> training.RunResult:
    """Like :func:`toolkit.training.resume`, on ``workers`` Ray Train workers (any number: the
    checkpoint holds no per-worker state)."""
    _check_workers(workers)
    run_dir = Path(run_dir)
    registry = registry or get_registry()
    done, total = training.plan_resume(run_dir, epochs, registry)
    _run_workers(run_dir, workers, done, total, address)
    return _finish(run_dir, registry)


def _check_workers(workers: int) -> None:
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ConfigError(f"--workers must be a whole number >= 1, got {workers!r}")


def _run_workers(run_dir: Path, workers: int, initial_epoch: int, epochs: int, address: str | None) -> None:
    """Start (or join) Ray, run :func:`worker_loop` on ``workers`` workers, stop what was started."""
    from toolkit.serve.loopback import init_local_ray, set_local_environment

    if address is None:
        set_local_environment()  # before the first `import ray`: Ray reads it at import
    import ray

    owned = not ray.is_initialized()  # a caller that started Ray itself keeps it (tests run several jobs)
    if owned and address is None:
        init_local_ray(max(os.cpu_count() or 1, workers), object_store_memory=128 * 1024 * 1024)
    elif owned:
        ray.init(address=address, log_to_driver=False)
    from ray.train import RunConfig, ScalingConfig
    from ray.train.tensorflow import TensorflowTrainer

    storage = tempfile.mkdtemp(prefix="onnxkit-ray-train-")
    try:
        trainer = TensorflowTrainer(
            worker_loop,
            train_loop_config={"run_dir": str(Path(run_dir).resolve()), "initial_epoch": initial_epoch,
                               "epochs": epochs},
            scaling_config=ScalingConfig(num_workers=workers, use_gpu=False, resources_per_worker={"CPU": 1}),
            run_config=RunConfig(name=Path(run_dir).name, storage_path=storage),
        )
        try:
            trainer.fit()
        except Exception as exc:  # Ray wraps the worker's error; keep its last line
            message = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
            raise TrainingError(f"distributed training failed: {message[:500]}") from exc
    finally:
        shutil.rmtree(storage, ignore_errors=True)
        if owned:
            ray.shutdown()


def _finish(run_dir: Path, registry: Registry) -> training.RunResult:
    """Driver side, after the workers: NaN verdict from the chief's records, else evaluate the final
    checkpoint on a plain model and mark the run finished (what ``training._fit`` does in-process)."""
    state = training.read_state(run_dir)
    run = training.open_run(run_dir, registry)
    history = training.read_history(run_dir)
    if state.get("status") == "stopped-nan":
        training.raise_stopped(run_dir, int(state.get("epochs_done", 0)), str(state.get("detail", "a value became NaN")))
    training.seed_everything(int(run.record.get("seed", 0)))
    dataset, _ = training.load_data(registry, run.spec, run.record.get("data"), run.config)
    model = run.spec.build(run.config, run.data_info)
    training.load_checkpoint(model, run_dir)
    return training.finish_run(run.spec, model, run.config, dataset, run.data_info, run_dir,
                               int(state["epochs_done"]), history)


# -- the workers -------------------------------------------------------------------------------------
def worker_loop(loop_config: dict[str, Any]) -> None:
    """One Ray Train worker (TF_CONFIG is set by ``TensorflowTrainer``)."""
    import ray.train

    context = ray.train.get_context()
    rank, world = context.get_world_rank(), context.get_world_size()
    run_dir = Path(loop_config["run_dir"])
    initial_epoch, epochs = int(loop_config["initial_epoch"]), int(loop_config["epochs"])

    training.import_keras()  # the quiet, deterministic TensorFlow set-up, before TensorFlow loads
    import tensorflow as tf

    strategy = tf.distribute.MultiWorkerMirroredStrategy()
    registry = get_registry()
    run = training.open_run(run_dir, registry)
    seed = int(run.record.get("seed", 0))
    training.seed_everything(seed + initial_epoch)
    dataset, _ = training.load_data(registry, run.spec, run.record.get("data"), run.config)
    fit = run.spec.fit_data(run.config, dataset, run.data_info)
    with strategy.scope():
        model = run.spec.build(run.config, run.data_info)
    loop = DistributedLoop(model, fit, strategy, rank, world, seed)
    if initial_epoch > 0:
        loop.prime()
        training.load_checkpoint(model, run_dir)
    loop.distinct_randomness()
    from toolkit.callbacks import CheckpointAndNaNGuard

    guard = CheckpointAndNaNGuard(run_dir, initial_epoch, write=rank == 0)
    # The plugin's callbacks run on every worker (one may change the learning rate: all must), but
    # only worker 0 writes into the run; the others write into a scratch folder (Keras' own rule
    # for multi-worker callbacks).
    with tempfile.TemporaryDirectory(prefix=f"onnxkit-worker{rank}-") as scratch:
        callbacks = [guard, *run.spec.callbacks(model, run.config, run.data_info, run_dir if rank == 0 else Path(scratch))]
        loop.run(callbacks, initial_epoch, epochs)
    if rank == 0 and guard.nan_detail is not None:
        training.write_state(run_dir, guard.epochs_done, "stopped-nan", detail=guard.nan_detail)
    _write_worker_record(run_dir, rank, world, model, loop)
    ray.train.report({"epochs_done": guard.epochs_done, "rank": rank})


def _write_worker_record(run_dir: Path, rank: int, world: int, model: Any, loop: DistributedLoop) -> None:
    folder = run_dir / WORKERS_DIR
    folder.mkdir(exist_ok=True)
    seen = np.asarray(loop.last_epoch_examples, dtype=np.int64)
    buffer = _npy_bytes(seen)
    atomic_write_bytes(folder / f"rank-{rank}-examples.npy", buffer)
    atomic_write_json(folder / f"rank-{rank}.json", {
        "rank": rank, "workers": world, "weights_sha256": weights_digest(model),
        "examples_last_epoch": int(seen.size), "steps_per_epoch": loop.steps,
        "batch_per_worker": loop.per_worker,
    })


SEED_STATE = "seed_generator_state"


def weights_digest(model: Any) -> str:
    """sha256 of every variable's bytes in order but the random-number generators' states (which
    differ between workers by design, see :meth:`DistributedLoop.distinct_randomness`): equal
    digests mean bit-identical weights."""
    digest = hashlib.sha256()
    for variable in model.variables:
        if not variable.path.endswith(SEED_STATE):
            digest.update(np.ascontiguousarray(np.asarray(variable)).tobytes())
    return digest.hexdigest()


def _npy_bytes(array: np.ndarray) -> bytes:
    import io

    out = io.BytesIO()
    np.save(out, array)
    return out.getvalue()


class DistributedLoop:
    """The epoch/step loop of ``keras.Model.fit``, for one worker of a ``MultiWorkerMirroredStrategy``."""

    def __init__(self, model: Any, fit: Any, strategy: Any, rank: int, world: int, seed: int) -> None:
        if training.is_tf_dataset(fit.x):
            raise ConfigError("--workers needs a model whose fit_data gives arrays (this one gives a tf.data.Dataset)")
        self.model, self.fit, self.strategy = model, fit, strategy
        self.rank, self.world, self.seed = rank, world, seed
        self.count = len(fit.x[0] if isinstance(fit.x, (list, tuple)) else fit.x)
        global_batch = fit.batch_size or 32
        if global_batch < world:
            raise ConfigError(f"batch_size {global_batch} is smaller than --workers {world}")
        self.per_worker = global_batch // world
        self.steps = self.count // (self.per_worker * world)
        if self.steps == 0:
            raise ConfigError(f"{self.count} training examples make no global batch of {self.per_worker * world}")
        self.last_epoch_examples: np.ndarray = np.zeros(0, np.int64)
        _uniform_gradient_mean(model, world)
        self._step = self._make_step(model.train_step, sync=True)
        self._test = self._make_step(model.test_step, sync=False) if fit.validation is not None else None

    def _make_step(self, step_fn: Any, sync: bool) -> Any:
        import tensorflow as tf

        strategy = self.strategy
        # Non-trainable state a train_step updates from its own batch (batch-norm moving statistics,
        # BEGAN's k) would drift apart between workers: average it after every step.
        shared = [v for v in self.model.non_trainable_variables if v.dtype in ("float16", "float32", "float64")]

        def average_state() -> None:
            context = tf.distribute.get_replica_context()
            means = context.all_reduce(tf.distribute.ReduceOp.MEAN, [tf.identity(v.value) for v in shared])
            for variable, mean in zip(shared, means):
                variable.assign(mean)

        @tf.function
        def step(batch: Any) -> dict[str, Any]:
            logs = strategy.run(step_fn, args=(batch,))
            if sync and shared:
                strategy.run(average_state)
            return {k: strategy.reduce(tf.distribute.ReduceOp.MEAN, v, axis=None) for k, v in logs.items()}

        return step

    def distinct_randomness(self) -> None:
        """Give each worker its own random streams (the GAN trainers' noise, dropout masks): the
        same seed everywhere would make every worker draw the same z, so the generator would learn
        from ``world`` copies of one noise batch. Worker 0 keeps the run's own streams (what it
        checkpoints); the others shift their seed generators' seeds by their rank."""
        if self.rank == 0:
            return
        for variable in self.model.non_trainable_variables:
            if variable.path.endswith(SEED_STATE):
                state = np.asarray(variable)
                variable.assign(state + np.array([self.rank * 1_000_003, 0], dtype=state.dtype))

    def shares(self, epoch: int) -> np.ndarray:
        """``[steps, per_worker]`` example indices this worker trains on in ``epoch``."""
        order = (np.random.default_rng([self.seed, epoch]).permutation(self.count) if self.fit.shuffle
                 else np.arange(self.count))
        used = order[: self.steps * self.per_worker * self.world].reshape(self.steps, self.world, self.per_worker)
        return used[:, self.rank, :]

    def _batch(self, x: Any, y: Any, index: np.ndarray) -> tuple[Any, ...]:
        def take(part: Any) -> Any:
            if isinstance(part, (list, tuple)):
                return type(part)(np.asarray(p)[index] for p in part)
            return np.asarray(part)[index]

        return (take(x),) if y is None else (take(x), take(y))

    def prime(self) -> None:
        """One step so every optimizer variable exists before a checkpoint loads over it."""
        self._step(self._batch(self.fit.x, self.fit.y, self.shares(0)[0]))

    def run(self, callbacks: list[Any], initial_epoch: int, epochs: int) -> None:
        model = self.model
        for callback in callbacks:
            callback.set_model(model)
            callback.set_params({"epochs": epochs, "steps": self.steps, "verbose": 0})
        model.stop_training = False
        _call(callbacks, "on_train_begin")
        for epoch in range(initial_epoch, epochs):
            model.reset_metrics()
            _call(callbacks, "on_epoch_begin", epoch)
            shares = self.shares(epoch)
            logs: dict[str, float] = {}
            for step, index in enumerate(shares):
                _call(callbacks, "on_train_batch_begin", step)
                logs = _floats(self._step(self._batch(self.fit.x, self.fit.y, index)))
                _call(callbacks, "on_train_batch_end", step, logs)
                if model.stop_training:
                    break
            self.last_epoch_examples = shares.reshape(-1)
            if self._test is not None and not model.stop_training:
                logs.update({f"val_{k}": v for k, v in self._validate().items()})
            _call(callbacks, "on_epoch_end", epoch, logs)
            if self._any_worker_stops():
                break
        _call(callbacks, "on_train_end")

    def _validate(self) -> dict[str, float]:
        """Validation on every worker's equal share of the validation data, averaged."""
        vx, vy = (self.fit.validation + (None,))[:2] if isinstance(self.fit.validation, tuple) else (self.fit.validation, None)
        count = len(vx[0] if isinstance(vx, (list, tuple)) else vx)
        steps = count // (self.per_worker * self.world)
        self.model.reset_metrics()
        logs: dict[str, float] = {}
        for step in range(steps):
            start = (step * self.world + self.rank) * self.per_worker
            logs = _floats(self._test(self._batch(vx, vy, np.arange(start, start + self.per_worker))))
        return logs

    def _any_worker_stops(self) -> bool:
        """Callbacks only run their writing parts on worker 0; agree on stopping so no worker waits
        forever in a collective the others left."""
        import tensorflow as tf

        flag = tf.constant(1.0 if self.model.stop_training else 0.0)
        total = self.strategy.reduce(tf.distribute.ReduceOp.SUM, self.strategy.run(lambda: flag), axis=None)
        self.model.stop_training = bool(float(total) > 0)
        return self.model.stop_training


def _call(callbacks: list[Any], hook: str, *args: Any) -> None:
    for callback in callbacks:
        method = getattr(callback, hook, None)
        if method is not None:
            method(*args)


def _floats(logs: dict[str, Any]) -> dict[str, float]:
    return {k: float(v) for k, v in logs.items()}


def _uniform_gradient_mean(model: Any, world: int) -> None:
    """One rule for every ``train_step``: each worker's loss is its local mean, each optimizer's
    all-reduce divides the summed gradients by the number of workers.

    Keras' own rule scales a loss by 1/workers only where it passes through Keras' loss code
    (``compile``'s loss, a ``keras.losses.Loss`` object, ``compute_loss``) and then sums gradients,
    so a custom ``train_step`` gets the mean gradient or ``workers`` times it depending on how it
    wrote its loss (``tf.reduce_mean`` in the GAN trainers: the sum). Turning Keras' scaling off in
    this worker and averaging in the optimizer gives every model the gradient of the mean loss over
    the global batch, as on one worker (tests/test_train_ray.py checks one SGD step against
    in-process training, for a compiled loss and for a custom ``train_step`` with a Loss object).
    """
    from keras.src.losses import loss as loss_module  # Keras has no public switch for this

    loss_module.scale_loss_for_distribution = _identity
    loss_module.unscale_loss_for_distribution = _identity
    for optimizer in _optimizers(model):
        _average_gradients(optimizer, world)


def _identity(value: Any) -> Any:
    return value


def _optimizers(model: Any) -> list[Any]:
    """Every optimizer a model holds as an attribute (``optimizer``, ``d_optimizer``, ``g_optimizer`` …)."""
    import keras

    found: dict[int, Any] = {}
    for name in dir(model):
        if "optimizer" not in name:
            continue
        try:
            value = getattr(model, name)
        except Exception:  # properties that need a compiled model
            continue
        if isinstance(value, keras.optimizers.Optimizer):
            found[id(value)] = value
    return list(found.values())


def _average_gradients(optimizer: Any, world: int) -> None:
    """Make ``optimizer``'s cross-worker all-reduce a mean instead of a sum (see the module docstring)."""
    original = optimizer._all_reduce_sum_gradients
    if getattr(original, "_onnxkit_mean", False):
        return

    def all_reduce_mean(grads_and_vars: Any) -> list[Any]:
        return [(None if g is None else g / world, v) for g, v in original(grads_and_vars)]

    all_reduce_mean._onnxkit_mean = True  # type: ignore[attr-defined]
    optimizer._all_reduce_sum_gradients = all_reduce_mean
