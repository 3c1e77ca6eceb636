"""Face verification metrics (numpy only): LFW-style ``pairs.txt`` parsing, 10-fold accuracy at the
best threshold, and ROC points. Scores are cosine similarities (higher = more alike)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from toolkit.errors import InputError


@dataclass(frozen=True)
class Pair:
    left: tuple[str, int]
    right: tuple[str, int]

    @property
    def same(self) -> bool:
        return self.left[0] == self.right[0]


def parse_pairs(path: str | Path) -> list[Pair]:
    """Read LFW's ``pairs.txt``: an optional header ("folds pairs"), then ``name i j`` (same person)
    or ``name1 i name2 j`` (different people); image numbers are 1-based."""
    path = Path(path)
    try:
        lines = path.read_text().splitlines()
    except FileNotFoundError:
        raise InputError(f"{path}: no such pairs file") from None
    except UnicodeDecodeError:
        raise InputError(f"{path}: not a text pairs file") from None
    pairs = []
    for number, line in enumerate(lines, 1):
        parts = line.split()
        if not parts:
            continue
        try:
            if len(parts) == 3:
                pairs.append(Pair((parts[0], int(parts[1])), (parts[0], int(parts[2]))))
            elif len(parts) == 4:
                pairs.append(Pair((parts[0], int(parts[1])), (parts[2], int(parts[3]))))
            elif len(parts) == 2 and number == 1 and all(p.isdigit() for p in parts):
                continue  # header: folds and pairs per fold
            else:
                raise ValueError
        except ValueError:
            raise InputError(f"{path}:{number}: expected 'name i j' or 'name1 i name2 j', got {line.strip()!r}") from None
    if not pairs:
        raise InputError(f"{path}: holds no pairs")
    if all(p.same for p in pairs) or not any(p.same for p in pairs):
        raise InputError(f"{path}: needs both same-person and different-person pairs")
    return pairs


def image_path(root: Path, name: str, number: int) -> Path:
    """LFW naming: ``root/name/name_0001.jpg`` (any common image suffix is accepted)."""
    stem = root / name / f"{name}_{number:04d}"
    for suffix in (".jpg", ".png", ".jpeg", ".bmp", ".webp"):
        if stem.with_suffix(suffix).is_file():
            return stem.with_suffix(suffix)
    raise InputError(f"pairs refer to {stem}.jpg, which does not exist")


def best_threshold(scores: np.ndarray, same: np.ndarray) -> tuple[float, float]:
    """The threshold maximising accuracy of "same if score >= t" and that accuracy."""
    order = np.argsort(scores)
    s, y = scores[order], same[order].astype(np.int64)
    # predict "same" for indices >= i: correct = different below i + same from i on
    diff_below = np.concatenate([[0], np.cumsum(1 - y)])
    same_from = np.concatenate([np.cumsum(y[::-1])[::-1], [0]])
    correct = diff_below + same_from
    i = int(np.argmax(correct))
    if i == 0:
        threshold = float(s[0]) - 1e-6
    elif i == len(s):
        threshold = float(s[-1]) + 1e-6
    else:
        threshold = float((s[i - 1] + s[i]) / 2)
    return threshold, float(correct[i] / len(s))


def kfold_accuracy(scores: np.ndarray, same: np.ndarray, folds: int = 10, seed: int = 0) -> dict[str, float | list[float]]:
    """LFW protocol: for each fold pick the best threshold on the other folds, test on this fold."""
    scores = np.asarray(scores, np.float64)
    same = np.asarray(same, bool)
    if len(scores) != len(same) or len(scores) < folds:
        raise InputError(f"need at least {folds} scored pairs for {folds}-fold accuracy, got {len(scores)}")
    index = np.random.default_rng(seed).permutation(len(scores))
    accuracies, thresholds = [], []
    for part in np.array_split(index, folds):
        train = np.setdiff1d(index, part)
        threshold, _ = best_threshold(scores[train], same[train])
        accuracies.append(float(((scores[part] >= threshold) == same[part]).mean()))
        thresholds.append(threshold)
    return {"accuracy": float(np.mean(accuracies)), "accuracy_std": float(np.std(accuracies)),
            "threshold": float(np.mean(thresholds)), "fold_accuracies": accuracies}


def roc_points(scores: np.ndarray, same: np.ndarray, points: int = 11) -> list[dict[str, float]]:
    """(threshold, true-positive rate, false-positive rate) at evenly spaced score quantiles."""
    scores = np.asarray(scores, np.float64)
    same = np.asarray(same, bool)
    result = []
    for threshold in np.quantile(scores, np.linspace(0, 1, points)):
        predicted = scores >= threshold
        tpr = float(predicted[same].mean()) if same.any() else 0.0
        fpr = float(predicted[~same].mean()) if (~same).any() else 0.0
        result.append({"threshold": float(threshold), "tpr": tpr, "fpr": fpr})
    return result


def pair_scores_from_labels(embeddings: np.ndarray, labels: np.ndarray, max_pairs: int = 3000,
                            seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """All same-label pairs (up to ``max_pairs``) and as many random different-label pairs."""
    rng = np.random.default_rng(seed)
    labels = np.asarray(labels)
    i, j = np.triu_indices(len(labels), k=1)
    same = labels[i] == labels[j]
    pos = np.flatnonzero(same)
    neg = np.flatnonzero(~same)
    if len(pos) == 0 or len(neg) == 0:
        raise InputError("need at least one same-identity and one different-identity pair")
    pos = rng.choice(pos, min(len(pos), max_pairs), replace=False)
    neg = rng.choice(neg, min(len(neg), len(pos)), replace=False)
    chosen = np.concatenate([pos, neg])
    scores = np.sum(embeddings[i[chosen]] * embeddings[j[chosen]], axis=1)
    return scores, same[chosen]
