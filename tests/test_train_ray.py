"""Data-parallel training on Ray Train (``onnxkit train --workers N``), on 2 workers of a local Ray
instance: the plugins' own ``train_step`` (the DCGAN trainer here: two optimizers, batch norm in
both networks, each worker its own noise) runs unchanged, both workers end bit-identical, each
trained on its own half of the data, resume and the NaN guard work, one step equals the same step
in-process, and the result exports with parity.

TensorFlow's worker gRPC servers listen on every interface (TF hard-codes ``0.0.0.0``), so the
jobs run in a network namespace of their own holding only ``lo`` (``unshare -n``, needs root or
CAP_SYS_ADMIN); the test checks the namespace and every socket the cluster opened.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import ROOT

pytest.importorskip("ray.train", reason="the serve extra (Ray) is not installed")
pytestmark = pytest.mark.slow

LOOPBACK = {"127.0.0.1", "::ffff:127.0.0.1", "::1"}
WILDCARD = {"0.0.0.0", "::"}


def _namespace_problem() -> str | None:
    if not shutil.which("unshare") or not shutil.which("ip"):
        return "needs unshare and ip (util-linux, iproute2)"
    probe = subprocess.run(["unshare", "-n", "ip", "link", "set", "lo", "up"], capture_output=True, text=True)
    if probe.returncode != 0:
        return f"cannot make a network namespace here (unshare -n: {probe.stderr.strip()[:200]}); run as root"
    return None


@pytest.fixture(scope="module")
def job(tmp_path_factory: pytest.TempPathFactory, toy_site: Path) -> dict:
    """The three Ray Train jobs of tests/distributed_job.py, run once in a fresh namespace."""
    problem = _namespace_problem()
    if problem:
        pytest.skip(problem)
    out = tmp_path_factory.mktemp("ray-train")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), str(toy_site)]), ONNXKIT_PROVIDER="cpu")
    script = f"ip link set lo up && exec {sys.executable} -m tests.distributed_job {out}"
    process = subprocess.Popen(["unshare", "-n", "sh", "-c", script], cwd=ROOT, env=env,
                               stdout=open(out / "job.log", "wb"), stderr=subprocess.STDOUT)
    try:
        process.wait(timeout=1200)  # 4 to 9 minutes here, on 2 cores shared with other jobs
    finally:
        if process.poll() is None:  # out of time: stop the driver and everything under it, by pid
            import psutil

            for child in psutil.Process(process.pid).children(recursive=True):
                child.kill()
            process.kill()
            process.wait()
    report_path = out / "report.json"
    assert report_path.is_file(), (out / "job.log").read_text()[-3000:]
    report = json.loads(report_path.read_text())
    assert "error" not in report, report["error"]
    report["out"] = out
    return report


def test_workers_end_identical_after_training_on_different_halves(job: dict) -> None:
    run_dir = job["out"] / "runs" / "dcgan" / "gan"
    records = [json.loads((run_dir / "workers" / f"rank-{r}.json").read_text()) for r in (0, 1)]
    assert records[0]["weights_sha256"] == records[1]["weights_sha256"]
    seen = [np.load(run_dir / "workers" / f"rank-{r}-examples.npy") for r in (0, 1)]
    assert len(seen[0]) == len(seen[1]) == 32  # limit=64 examples, global batch 16 = 8 per worker x 4 steps
    assert not set(seen[0].tolist()) & set(seen[1].tolist())
    assert set(seen[0].tolist()) | set(seen[1].tolist()) == set(range(64))

    # The checkpoint worker 0 wrote holds exactly the weights both workers ended with.
    from toolkit import distributed, training
    from toolkit.registry import get_registry

    run = training.open_run(run_dir, get_registry())
    model = run.spec.build(run.config, run.data_info)
    training.load_checkpoint(model, run_dir)
    assert distributed.weights_digest(model) == records[0]["weights_sha256"]


def test_gan_train_step_runs_distributed_and_resumes(job: dict) -> None:
    first, resumed = job["gan_first"], job["gan_resumed"]
    assert first["epochs_done"] == 1 and resumed["epochs_done"] == 2
    assert {"d_loss", "g_loss", "d_real", "d_fake"} <= set(resumed["history"])
    assert all(len(v) == 2 and np.isfinite(v).all() for v in resumed["history"].values())
    # the resumed run's history starts with the first run's epoch
    assert resumed["history"]["d_loss"][0] == first["history"]["d_loss"][0]
    run_dir = job["out"] / "runs" / "dcgan" / "gan"
    assert json.loads((run_dir / "state.json").read_text()) == {"epochs_done": 2, "status": "finished"}
    assert (run_dir / "samples" / "epoch_002.png").is_file()
    assert "diversity_ratio" in json.loads((run_dir / "metrics.json").read_text())


@pytest.mark.parametrize("variant", ["custom"])
def test_one_step_on_two_workers_equals_the_same_step_in_process(job: dict, variant: str, toy_registry) -> None:
    """Plain SGD shows the gradient's scale (Adam would hide a factor of 2): the workers' mean
    gradient over their halves must be the in-process gradient over the whole batch."""
    from toolkit import training

    assert variant in job["one_step"]
    weights = []
    for run_id in (f"local-{variant}", f"workers-{variant}"):
        run_dir = job["out"] / "runs" / "toy-dense" / run_id
        run = training.open_run(run_dir, toy_registry)
        training.seed_everything(5)
        model = run.spec.build(run.config, run.data_info)
        initial = model.get_weights()
        training.load_checkpoint(model, run_dir)
        weights.append(model.get_weights())
    moved = max(float(np.abs(a - b).max()) for a, b in zip(weights[0], initial))
    assert moved > 1e-2, "the step did not move the weights"
    for local, distributed in zip(*weights):
        assert np.allclose(local, distributed, atol=1e-5), float(np.abs(local - distributed).max())


def test_nan_guard_stops_every_worker_and_keeps_the_last_checkpoint(job: dict) -> None:
    nan = job["nan"]  # from `onnxkit train toy-dense --workers 2 …`
    assert nan["returncode"] == 2, nan["stderr"]
    assert "loss became nan at epoch 2" in nan["stderr"] and "last good checkpoint (epoch 1)" in nan["stderr"]
    state = json.loads((job["out"] / "runs" / "toy-dense" / "nan" / "state.json").read_text())
    assert state["status"] == "stopped-nan" and state["epochs_done"] == 1


def test_export_of_the_distributed_run_passes_parity(job: dict) -> None:
    from toolkit import runtime
    from toolkit.export import export_run

    out = job["out"] / "exported" / "gan"
    manifest = export_run(job["out"] / "runs" / "dcgan" / "gan", out)
    assert manifest.files["generator"].parity["max_abs_diff"] <= 1e-4
    images = runtime.load(out).sample(3, seed=1)
    assert images.shape == (3, 28, 28, 1) and np.isfinite(images).all()


def test_the_cluster_was_torn_down(job: dict) -> None:
    assert job["leftover"] == [], "processes outlived ray.shutdown() and had to be killed"


def test_the_cluster_stayed_on_loopback(job: dict) -> None:
    assert job["interfaces"] == ["lo"], "the jobs must run in a namespace holding only lo"
    sockets = [tuple(s) for s in job["sockets"]]
    assert any(status == "LISTEN" for status, *_ in sockets), "the watch saw no socket at all"
    for status, local, remote, process in sockets:
        # TensorFlow's collective server (in the training workers) binds the wildcard address, which
        # in a namespace holding only lo is loopback; everything of Ray's binds 127.0.0.1 itself.
        if local in WILDCARD:
            # The title is ray::RayTrainWorker, or its first 15 characters when the watcher caught
            # the process before its command line was readable (Linux's comm is cut at 15).
            assert process.startswith("ray::RayTrainWo"), (status, local, process)
        else:
            assert local in LOOPBACK, (status, local, process)
        assert not remote or remote in LOOPBACK, (status, local, remote, process)


def test_train_refuses_bad_worker_arguments_before_starting_ray(tmp_path: Path) -> None:
    from tests.conftest import run_cli

    for args, words in [
        (["--workers", "0"], "--workers must be a whole number >= 1"),
        (["--ray-address", "auto"], "--ray-address goes with --workers N"),
    ]:
        result = run_cli("train", "gan", "--runs", str(tmp_path), *args, timeout=300)
        assert result.returncode == 2 and words in result.stderr, (args, result.stderr)
    assert not any(tmp_path.iterdir()), "a refused run must leave no run directory"
