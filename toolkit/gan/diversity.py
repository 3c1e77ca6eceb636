"""Sample diversity: the figure behind the mode-collapse warning. numpy only.

Diversity is the mean pairwise L2 distance between images (flattened, in [0, 1]). A collapsed
generator produces near-identical images whatever z is, so its diversity falls far below that of
the real data; the ratio ``samples / data`` is what training watches.
"""

from __future__ import annotations

import numpy as np


def mean_pairwise_distance(images: np.ndarray, max_images: int = 128) -> float:
    """Mean L2 distance over all pairs of (at most ``max_images``) images."""
    flat = np.asarray(images, np.float64).reshape(len(images), -1)[:max_images]
    if len(flat) < 2:
        return 0.0
    squared = (flat ** 2).sum(1)
    d2 = np.maximum(squared[:, None] + squared[None, :] - 2 * flat @ flat.T, 0.0)
    n = len(flat)
    return float(np.sqrt(d2)[~np.eye(n, dtype=bool)].mean())


def diversity_ratio(samples: np.ndarray, reference: float) -> float:
    """Samples' diversity as a fraction of the data's (``reference``); 1.0 means as varied as the data."""
    if reference <= 0:
        return float("nan")
    return mean_pairwise_distance(samples) / reference
