"""Where shipped exports are found when a caller names none (CLI defaults, the demo apps)."""

from __future__ import annotations

import os
from pathlib import Path

#: Environment variable naming the directory of exports.
EXPORTED_ENV = "ONNXKIT_EXPORTED"


def default_exported_dir() -> Path:
    """``$ONNXKIT_EXPORTED``, else ``./exported`` when it exists, else the ``exported/`` of this checkout."""
    env = os.environ.get(EXPORTED_ENV)
    if env:
        return Path(env)
    here = Path.cwd() / "exported"
    if here.is_dir():
        return here
    return Path(__file__).resolve().parents[2] / "exported"
