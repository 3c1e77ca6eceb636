"""``onnxkit new-plugin``: the skeleton is pip-installable, discovered, and passes its own test."""

from __future__ import annotations

import os
import subprocess
import sys

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
    assert bad.returncode == 2 and "use 2-41 lowercase letters" in bad.stderr
    assert run_cli("new-plugin", "ok-name", "--dir", str(tmp_path)).returncode == 0
    again = run_cli("new-plugin", "ok-name", "--dir", str(tmp_path))
    assert again.returncode == 2 and "already exists" in again.stderr
