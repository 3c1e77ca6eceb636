"""``onnxkit new-plugin``: the skeleton is pip-installable, discovered, and passes its own test."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from tests.conftest import ROOT, run_cli

pytestmark = pytest.mark.slow


def test_new_plugin_installs_is_discovered_and_passes_its_test(tmp_path):
    result = run_cli("new-plugin", "tiny-gan", "--dir", str(tmp_path))
    assert result.returncode == 0, result.stderr
    package = tmp_path / "onnxkit-tiny-gan"
    assert (package / "pyproject.toml").is_file()

    site = tmp_path / "site"
    install = subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", "--target", str(site),
         str(package)], capture_output=True, text=True, timeout=300)
    assert install.returncode == 0, install.stderr
    listing = run_cli("models", site=site)
    assert "tiny-gan" in listing.stdout, listing.stdout + listing.stderr
    plugins = run_cli("plugins", site=site)
    assert "tiny-gan 0.1.0  (onnxkit_tiny_gan.plugin)" in plugins.stdout

    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(package), str(ROOT)]))
    own_test = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"],
                              cwd=package, capture_output=True, text=True, env=env, timeout=600)
    assert own_test.returncode == 0, own_test.stdout[-3000:]
    assert "1 passed" in own_test.stdout


def test_new_plugin_rejects_bad_names_and_existing_dirs(tmp_path):
    bad = run_cli("new-plugin", "Bad Name!", "--dir", str(tmp_path))
    assert bad.returncode == 2 and "use 2-41 letters, digits, '-', '_' or '.'" in bad.stderr
    assert run_cli("new-plugin", "ok-name", "--dir", str(tmp_path)).returncode == 0
    again = run_cli("new-plugin", "ok-name", "--dir", str(tmp_path))
    assert again.returncode == 2 and "already exists" in again.stderr


def test_underscores_and_dots_are_normalised_as_packaging_does(tmp_path):
    result = run_cli("new-plugin", "My_Model.v2", "--dir", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert "(plugin name 'my-model-v2')" in result.stdout
    assert (tmp_path / "onnxkit-my-model-v2" / "onnxkit_my_model_v2" / "plugin.py").is_file()


def test_new_task_plugin_from_outside(tmp_path, monkeypatch):
    """A plugin with a task of its own, installed by pip through real entry points, with no edit
    to onnxkit: it trains, exports (its contract checked), loads as its own pipeline through
    runtime.load, runs its command, shows its tab in the combined app, and passes its own tests."""
    from toolkit import runtime, tasks

    result = run_cli("new-plugin", "tiny_task", "--new-task", "--dir", str(tmp_path))
    assert result.returncode == 0, result.stderr
    package = tmp_path / "onnxkit-tiny-task"
    site = tmp_path / "site"
    install = subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", "--target", str(site),
         str(package)], capture_output=True, text=True, timeout=300)
    assert install.returncode == 0, install.stderr
    entry_points = next(site.glob("onnxkit_tiny_task-*.dist-info")) / "entry_points.txt"
    assert '[onnxkit.serving]\ntiny-task = onnxkit_tiny_task.serving' in entry_points.read_text()

    runs, export = tmp_path / "runs", tmp_path / "exported" / "tiny"
    trained = run_cli("train", "tiny-task", "--runs", str(runs), "--run-id", "r", "--epochs", "2", site=site)
    assert trained.returncode == 0, trained.stderr
    exported = run_cli("export", str(runs / "tiny-task" / "r"), "--out", str(export), site=site)
    assert exported.returncode == 0, exported.stderr
    manifest = json.loads((export / "manifest.json").read_text())
    assert manifest["task"] == "tiny-task" and manifest["info"]["features"] == 8

    point = np.linspace(-0.9, 0.9, 8).round(3)
    command = run_cli("tiny-task", str(export), *map(str, point), site=site)
    assert command.returncode == 0, command.stderr

    monkeypatch.syspath_prepend(str(site))
    importlib.invalidate_caches()
    try:
        assert tasks.get_tasks(refresh=True).task("tiny-task").plugin == "tiny-task"
        pipeline = runtime.load(export, expect="tiny-task")
        assert type(pipeline).__module__ == "onnxkit_tiny_task.serving"
        assert float(command.stdout) == pytest.approx(float(pipeline.predict([point])[0]), abs=1e-5)

        from apps.app import build
        from apps.models import ModelStore
        from apps.tabs import get_tabs

        assert "tiny-task" in [tab.name for tab in get_tabs()]
        config = json.dumps(build(ModelStore(export.parent, parallel=False), hide_unavailable=True).config)
        assert '"label": "Tiny task"' in config and '"label": "Classify"' not in config
    finally:
        for name in [m for m in sys.modules if m.startswith("onnxkit_tiny_task")]:
            del sys.modules[name]
        tasks._default = None

    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(package), str(ROOT)]))
    own_test = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"],
                              cwd=package, capture_output=True, text=True, env=env, timeout=600)
    assert own_test.returncode == 0, own_test.stdout[-3000:]
    assert "3 passed" in own_test.stdout
