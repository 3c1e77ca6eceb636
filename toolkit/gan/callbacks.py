"""Training callbacks for GANs: a sample grid per epoch from a fixed z, and the collapse warning.

Imported lazily (it subclasses ``keras.callbacks.Callback``).
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from toolkit.fsutil import atomic_write_json
from toolkit.gan.diversity import diversity_ratio
from toolkit.images import save_grid
from toolkit.tf_setup import import_keras

keras = import_keras()


class ModeCollapseWarning(UserWarning):
    """Sample diversity fell far below the data's: the generator is probably collapsing."""


class SampleGrid(keras.callbacks.Callback):
    """After each epoch: write ``samples/epoch_NNN.png`` from a fixed z (the same images every epoch,
    so progress is visible), record the diversity ratio in ``samples/diversity.json`` and warn when it
    falls below ``threshold`` (from epoch ``warmup + 1`` on: a fresh generator's images all look alike).

    ``sample`` maps the fixed inputs to images in [0, 1] (it hides conditional vs unconditional).
    """

    def __init__(self, sample: Callable[[], np.ndarray], out_dir: Path, reference_diversity: float,
                 threshold: float, columns: int | None = None, warmup: int = 0) -> None:
        super().__init__()
        self.sample = sample
        self.out_dir = Path(out_dir)
        self.reference = reference_diversity
        self.threshold = threshold
        self.columns = columns
        self.warmup = warmup
        self.ratios: dict[str, float] = {}

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        if self.model is not None and getattr(self.model, "stop_training", False):
            return  # the NaN guard stopped this epoch: no grid from broken weights
        images = self.sample()
        if not np.isfinite(images).all():
            return
        self.out_dir.mkdir(parents=True, exist_ok=True)
        save_grid(self.out_dir / f"epoch_{epoch + 1:03d}.png", images, self.columns)
        ratio = diversity_ratio(images, self.reference)
        self.ratios[str(epoch + 1)] = round(ratio, 4)
        atomic_write_json(self.out_dir / "diversity.json",
                          {"reference": self.reference, "threshold": self.threshold, "ratio_by_epoch": self.ratios})
        if ratio < self.threshold and epoch + 1 > self.warmup:
            message = (f"epoch {epoch + 1}: sample diversity is {ratio:.2f} of the data's (below "
                       f"{self.threshold:g}); the generator may be collapsing to a few modes — see "
                       f"{self.out_dir}")
            warnings.warn(message, ModeCollapseWarning, stacklevel=2)
            print(f"warning: {message}", file=sys.stderr)
