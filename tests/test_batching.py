"""Dynamic batching: concurrent calls share one onnxruntime run, each caller gets its own rows
(independent of who else was in the batch), and errors reach only the caller that caused them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.conftest import ROOT, together
from toolkit import runtime
from toolkit.errors import InputError
from toolkit.runtime.batching import BatchPolicy, MicroBatcher


def shipped(task: str) -> Path:
    from toolkit.manifest import read_manifest

    for path in sorted((ROOT / "exported").iterdir()):
        if (path / "manifest.json").is_file() and read_manifest(path, verify_hashes=False).task == task:
            return path
    pytest.skip(f"no shipped {task} export")


def test_concurrent_samples_share_runs_and_match_the_unbatched_ones():
    generator = runtime.load(shipped("image-generator"))
    alone = {seed: generator.sample(3, seed=seed) for seed in range(8)}
    (batcher,) = generator.enable_batching(BatchPolicy(max_batch=24, max_wait_s=1.0)).values()
    merged = together([lambda s=seed: generator.sample(3, seed=s) for seed in range(8)])
    for seed, images in enumerate(merged):
        np.testing.assert_array_equal(images, alone[seed])  # its own seed, whoever was alongside
    assert batcher.stats.calls == 8 and batcher.stats.runs < 8 and batcher.stats.rows == 24


def test_batches_respect_max_batch_and_big_calls_run_alone():
    classifier = runtime.load(shipped("classifier"))
    (batcher,) = classifier.enable_batching(BatchPolicy(max_batch=4, max_wait_s=1.0)).values()
    rng = np.random.default_rng(0)
    images = [rng.random((2, 28, 28, 1), dtype=np.float32) for _ in range(6)]
    classifier.sessions["classifier"].disable_batching()
    expected = [classifier.probabilities(x) for x in images]
    classifier.sessions["classifier"].batcher = batcher
    got = together([lambda x=x: classifier.probabilities(x) for x in images])
    for have, want in zip(got, expected):
        np.testing.assert_allclose(have, want, atol=1e-6)
    assert batcher.stats.largest <= 4 and batcher.stats.runs >= 3
    big = rng.random((9, 28, 28, 1), dtype=np.float32)
    runs = batcher.stats.runs
    assert classifier.probabilities(big).shape == (9, 10) and batcher.stats.runs == runs + 1


def test_a_bad_input_fails_only_its_own_caller():
    generator = runtime.load(shipped("image-generator"))
    generator.enable_batching(BatchPolicy(max_batch=4, max_wait_s=0.5))
    session = generator.sessions["generator"]
    good = np.zeros((2, generator.latent_dim), np.float32)
    nan = good.copy()
    nan[0, 0] = np.nan
    results = together([lambda: session.run({"z": good}), lambda: session.run({"z": nan}),
                        lambda: session.run({"z": good.astype(np.float64)}, validate=False),
                        lambda: session.run({"z": good})])
    assert isinstance(results[1], InputError) and "NaN" in str(results[1])
    assert isinstance(results[2], Exception) and not isinstance(results[2], InputError)  # onnxruntime's own
    for ok in (results[0], results[3]):
        assert ok["images"].shape == (2, *generator.image_shape)


def test_a_failed_merged_run_is_retried_call_by_call():
    """A run that fails because of one caller's rows: the others still get their answers."""
    seen: list[int] = []

    def run(feeds, outputs):
        x = feeds["x"]
        seen.append(len(x))
        if (x < 0).any():
            raise ValueError("negative input")
        return {"y": x * 2}

    batcher = MicroBatcher(run, BatchPolicy(max_batch=6, max_wait_s=1.0), name="double")
    inputs = [np.full((2, 3), v, np.float32) for v in (1, -1, 3)]
    results = together([lambda x=x: batcher.run({"x": x}, ["y"]) for x in inputs])
    assert max(seen) > 2  # they were merged first
    assert isinstance(results[1], ValueError)
    np.testing.assert_array_equal(results[0]["y"], inputs[0] * 2)
    np.testing.assert_array_equal(results[2]["y"], inputs[2] * 2)


def test_calls_that_cannot_stack_are_never_merged():
    shapes: list[tuple] = []

    def run(feeds, outputs):
        shapes.append(feeds["x"].shape)
        return {"y": feeds["x"].sum(axis=tuple(range(1, feeds["x"].ndim)))}

    batcher = MicroBatcher(run, BatchPolicy(max_batch=2, max_wait_s=0.3))
    inputs = [np.ones((1, 4)), np.ones((1, 5)), np.ones((1, 4)), np.ones((1, 5), np.float32)]
    results = together([lambda x=x: batcher.run({"x": x}, ["y"]) for x in inputs])
    assert [float(r["y"][0]) for r in results] == [4, 5, 4, 5]
    assert sorted(shapes) == [(1, 5), (1, 5), (2, 4)]  # the two (1, 4) merged; the 5s differ in dtype


@pytest.mark.parametrize("kwargs, message", [({"max_batch": 0}, "max_batch"), ({"max_wait_s": 5}, "max_wait_s"),
                                             ({"max_batch": 2.5}, "max_batch")])
def test_policy_refuses_nonsense(kwargs, message):
    with pytest.raises(InputError, match=message):
        BatchPolicy(**kwargs)
