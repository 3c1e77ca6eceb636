"""``onnxkit train`` keeps TensorFlow's native start-up lines off the terminal unless ``--verbose``."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.slow

#: absl/TF native log lines: "I0000 00:00:1795510548.668574   11729 cudart_stub.cc:31] ..." and its banner.
NATIVE = re.compile(r"^(?:[IWEF]\d{4} \d\d:\d\d:[\d.]+ +\d+ \S+:\d+\]|WARNING: All log messages before absl::)", re.M)


def _run(*args: str, site: Path | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("TF_CPP_MIN_LOG_LEVEL", "ONNXKIT_TF_LOGS")}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT)] + ([str(site)] if site else []))
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, cwd=ROOT, env=env, timeout=600)


def test_train_is_quiet_unless_verbose(toy_site: Path, tmp_path: Path):
    native = NATIVE.findall(_run("-c", "import tensorflow").stderr)
    train = ("-m", "toolkit", "train", "toy-dense", "--epochs", "1", "--runs", str(tmp_path))
    quiet = _run(*train, site=toy_site)
    assert quiet.returncode == 0, quiet.stderr
    assert NATIVE.findall(quiet.stderr) == [], quiet.stderr
    assert "run: " in quiet.stdout, quiet.stdout
    loud = _run(*train, "--verbose", site=toy_site)
    assert loud.returncode == 0, loud.stderr
    # Where a bare `import tensorflow` prints native lines on this machine, --verbose shows them.
    assert bool(NATIVE.findall(loud.stderr)) == bool(native), (native, loud.stderr)
