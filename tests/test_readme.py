"""The README's plain-onnxruntime example runs as written (on an export made by the tests)."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.slow


def test_plain_onnxruntime_example_runs(toy_export, tmp_path):
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"<!-- plain-onnxruntime -->\n```python\n(.*?)```", readme, re.DOTALL)
    assert block, "README lost its plain-onnxruntime example"
    code = block.group(1)
    assert "toolkit" not in code  # it must need nothing but onnxruntime and numpy
    code = code.replace('"exported/classifier-mnist"', repr(str(toy_export)))
    script = tmp_path / "example.py"
    script.write_text(code)
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "model probabilities (1, 2)" in result.stdout
    assert "labels: ['a', 'b']" in result.stdout
