"""The demo's start-up: what it skips to reach its first answer sooner."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import ROOT

DEFINE_COMPONENT = """
import apps, gradio as gr, gradio.component_meta as meta
class Picture(gr.Image):
    is_template = True
print(meta.create_or_modify_pyi.__name__, Picture(label="x").get_block_name())
"""


def test_gradio_is_imported_without_writing_type_stubs(tmp_path):
    """Importing ``apps`` first turns Gradio's per-component stub writer (half its import time)
    into a no-op: a component class defined afterwards works and leaves no .pyi beside its module."""
    module = tmp_path / "mycomponents.py"
    module.write_text(DEFINE_COMPONENT)
    result = subprocess.run([sys.executable, str(module)], capture_output=True, text=True, cwd=ROOT,
                            env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "GRADIO_ANALYTICS_ENABLED": "False"},
                            timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split() == ["_no_stub", "image"]
    assert not module.with_suffix(".pyi").exists()
