"""The serving side never pulls in the training stack: checked in a fresh interpreter."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import ROOT

FORBIDDEN = ("tensorflow", "keras", "tf2onnx")

CHECK = """
import json, sys
import toolkit.runtime, apps
import apps.app, apps.generate, apps.latent, apps.classify, apps.write, apps.faces, apps.limits, apps.models
from toolkit.tasks import get_tasks
[t.pipeline_class() for t in get_tasks().tasks.values()]   # every registered task's pipeline
from apps.models import ModelStore
store = ModelStore()             # opens every shipped export in exported/
apps.app.build(store)            # and builds every tab on them
bad = sorted(m for m in sys.modules if m.split('.')[0] in {forbidden!r})
print(json.dumps({{"forbidden": bad, "loaded": sorted(store.pipelines)}}))
"""


def test_apps_and_runtime_import_no_training_stack():
    """``import toolkit.runtime, apps`` (every submodule), opening the shipped exports and building
    all tabs leaves no tensorflow, keras or tf2onnx module in ``sys.modules``."""
    result = subprocess.run([sys.executable, "-c", CHECK.format(forbidden=set(FORBIDDEN))], cwd=ROOT,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["forbidden"] == [], report
