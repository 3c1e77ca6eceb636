"""The demo's model store: exports found by task, opened once, failures reported not raised."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from apps.limits import LimitError
from apps.models import ModelStore
from tests.conftest import ROOT

EXPORTED = ROOT / "exported"


def a_shipped_export() -> Path:
    exports = sorted(p.parent for p in EXPORTED.glob("*/manifest.json"))
    if not exports:
        pytest.skip("no shipped export in exported/ yet")
    return exports[0]


def test_store_opens_exports_by_task_and_reports_broken_ones(tmp_path):
    good = a_shipped_export()
    shutil.copytree(good, tmp_path / good.name)
    broken = shutil.copytree(good, tmp_path / "broken")
    onnx_file = next(broken.glob("*.onnx"))
    onnx_file.write_bytes(onnx_file.read_bytes()[:100])  # truncated
    (tmp_path / "not-an-export").mkdir()

    store = ModelStore(tmp_path)
    assert list(store.pipelines) == [good.name]
    task = store.pipelines[good.name].task
    assert store.by_task(task) == {good.name: store.pipelines[good.name]}
    assert "broken" in store.problems and "sha256" in store.problems["broken"].lower()
    message = store.missing("Some tab", (task,))
    assert "model not available" in message and "`broken`" in message
    assert store.get(good.name, (task,)) is store.pipelines[good.name]
    with pytest.raises(LimitError, match=r"model 'broken' is not available here \(available: "):
        store.get("broken", (task,))


def test_store_on_an_empty_directory_serves_nothing_but_builds_every_tab(tmp_path, monkeypatch):
    from apps import app

    monkeypatch.setenv("ONNXKIT_EXPORTED", str(tmp_path))
    store = ModelStore()
    assert store.root == tmp_path and store.pipelines == {} and store.gallery is None
    demo = app.build(store)
    text = " ".join(str(getattr(block, "value", "")) for block in demo.blocks.values())
    assert text.count("model not available") == 5  # one note per tab, no crash
    assert "onnxkit export" in text


@pytest.mark.filterwarnings("ignore:.*found in sys.modules:RuntimeWarning")  # runpy re-running an imported module
@pytest.mark.parametrize("module", ["apps", "apps.generate", "apps.latent", "apps.classify", "apps.write", "apps.faces"])
def test_each_app_runs_on_its_own(module, monkeypatch, capsys):
    """``python -m apps[.NAME] --help`` works: each capability is its own program, with the shared options."""
    import runpy

    monkeypatch.setattr("sys.argv", [module, "--help"])
    with pytest.raises(SystemExit) as exit_info:
        runpy.run_module(module, run_name="__main__", alter_sys=False)
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    for option in ("--exported", "--port", "--concurrency", "--queue-size"):
        assert option in out


def test_the_queue_is_bounded(tmp_path):
    """Every event runs at most ``concurrency`` requests at once and at most ``queue_size`` wait."""
    from apps import app
    from apps.serve import DEFAULT_CONCURRENCY, DEFAULT_QUEUE_SIZE, queue

    demo = queue(app.build(ModelStore(ROOT / "exported")))
    assert demo._queue.max_size == DEFAULT_QUEUE_SIZE and demo._queue.default_concurrency_limit == DEFAULT_CONCURRENCY
    assert {fn.concurrency_limit for fn in demo.fns.values()} == {"default"}  # no event escapes the limit
    # With batching, only Write (whose streams share one step call and mostly wait) runs more at once.
    from apps.serve import batch_policy
    from apps.write import STREAMS_IN_FLIGHT

    batched = queue(app.build(ModelStore(ROOT / "exported", batching=batch_policy())))
    limits = {fn.api_name: fn.concurrency_limit for fn in batched.fns.values()}
    assert set(limits.values()) == {"default", STREAMS_IN_FLIGHT} and limits["write"] == STREAMS_IN_FLIGHT
