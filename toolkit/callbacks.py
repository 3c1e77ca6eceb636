"""Training callbacks as real ``keras.callbacks.Callback`` subclasses.

The one pattern for Keras classes in onnxkit: a module whose top does ``keras = import_keras()``
and defines its classes plainly, imported lazily (inside the function that trains), so the
modules that import it stay importable without TensorFlow.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from toolkit.fsutil import atomic_write_json
from toolkit.tf_setup import import_keras
from toolkit.training import CHECKPOINT, write_state

keras = import_keras()


class CheckpointAndNaNGuard(keras.callbacks.Callback):
    """Saves a checkpoint after every clean epoch and stops at the first non-finite loss.

    With ``write=False`` (the other workers of a distributed run) it only decides, writing nothing.
    """

    def __init__(self, run_dir: Path, initial_epoch: int, write: bool = True) -> None:
        super().__init__()
        self.run_dir = run_dir
        self.write = write
        self.epochs_done = initial_epoch
        self.nan_detail: str | None = None
        history_path = run_dir / "history.json"
        self.history: dict[str, list[float]] = (
            json.loads(history_path.read_text()) if history_path.is_file() else {}
        )

    def _check(self, logs: dict[str, Any] | None, where: str) -> bool:
        for key, value in (logs or {}).items():
            try:
                number = float(value)
            except (TypeError, ValueError):
                continue
            if not math.isfinite(number):
                self.nan_detail = f"{key} became {number} at {where}"
                self.model.stop_training = True
                return False
        return True

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        if self.nan_detail is None:
            self._check(logs, f"epoch {self.epochs_done + 1}, batch {batch + 1}")

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        if self.nan_detail is not None or not self._check(logs, f"the end of epoch {epoch + 1}"):
            return
        if not _weights_finite(self.model):
            self.nan_detail = f"the weights became non-finite in epoch {epoch + 1}"
            self.model.stop_training = True
            return
        for key, value in (logs or {}).items():
            try:
                self.history.setdefault(key, []).append(float(value))
            except (TypeError, ValueError):
                pass
        self.epochs_done = epoch + 1
        if not self.write:
            return
        tmp = self.run_dir / ".checkpoint.tmp.keras"
        self.model.save(str(tmp))
        os.replace(tmp, self.run_dir / CHECKPOINT)
        atomic_write_json(self.run_dir / "history.json", self.history)
        write_state(self.run_dir, self.epochs_done, "running")


def _weights_finite(model: Any) -> bool:
    return all(np.isfinite(np.asarray(w)).all() for w in model.get_weights())
