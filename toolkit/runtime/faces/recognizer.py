"""Face recognition: detect -> align -> embed -> search the gallery (numpy + onnxruntime + Pillow).

``FaceRecognizer.match(image, k=3)`` returns, for every face found, the ``k`` closest identities
with a score and a percentage. What they mean follows the embedder's manifest (``info.metric``):

- ``euclidean`` (dlib-resnet): the score is the Euclidean distance between descriptors (same
  person below the threshold, dlib's 0.6), and the percentage is *calibrated*: the estimated
  probability that the face is that person, ``100 / (1 + exp((distance - midpoint) / slope))``,
  a logistic curve fitted to same/different-person pairs (``info.calibration``; see
  benchmarks/bench_face_identify.py). Each candidate has its own figure; they need not sum to 100.
- ``cosine`` (face-embed): the score is the cosine similarity, and the percentage is a softmax over
  the top-k similarities scaled by ``temperature`` (ArcFace's logit scale makes cosine gaps
  meaningful: a 0.1 gap at scale 30 is a 20x odds ratio), so the k percentages sum to 100.

A face whose best candidate is not within ``threshold`` is reported as "unknown" first, with the
candidates after it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from toolkit.errors import InputError
from toolkit.runtime.faces.draw import draw_faces
from toolkit.runtime.faces.gallery import Gallery
from toolkit.runtime.faces.imageio import to_rgb_uint8
from toolkit.runtime.tasks.faces import Face, FaceDetector, FaceEmbedder

UNKNOWN = "unknown"
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".ppm", ".pgm", ".tif", ".tiff"}


@dataclass(frozen=True)
class Match:
    """One candidate: ``score`` is a cosine similarity or a Euclidean distance (``metric``)."""

    name: str
    score: float
    percent: float
    metric: str = "cosine"

    @property
    def similarity(self) -> float | None:
        return self.score if self.metric == "cosine" else None

    @property
    def distance(self) -> float | None:
        return self.score if self.metric == "euclidean" else None


@dataclass
class FaceMatch:
    face: Face
    matches: list[Match] = field(default_factory=list)

    @property
    def best(self) -> Match | None:
        return self.matches[0] if self.matches else None

    @property
    def label(self) -> str:
        best = self.best
        if best is None:
            return UNKNOWN
        return f"{best.name} {best.percent:.0f}%" if best.name != UNKNOWN else f"unknown ({best.score:.2f})"


def calibrated_percent(distances: Sequence[float], calibration: dict[str, float]) -> list[float]:
    """Estimated probability (in %) that each distance is between two photos of one person."""
    midpoint, slope = float(calibration["midpoint"]), float(calibration["slope"])
    values = (np.asarray(distances, np.float64) - midpoint) / slope
    return [float(p) for p in 100.0 / (1.0 + np.exp(np.clip(values, -50, 50)))]


def softmax_percent(similarities: Sequence[float], temperature: float) -> list[float]:
    values = np.asarray(similarities, np.float64) * temperature
    if values.size == 0:
        return []
    weights = np.exp(values - values.max())
    return [float(p) for p in 100.0 * weights / weights.sum()]


class FaceRecognizer:
    """Ties a :class:`FaceDetector`, a :class:`FaceEmbedder` and a :class:`Gallery` together."""

    def __init__(self, detector: FaceDetector, embedder: FaceEmbedder, gallery: Gallery | None = None,
                 threshold: float | None = None, temperature: float = 30.0,
                 rotations: bool | Sequence[float] | None = None) -> None:
        self.detector = detector
        #: Also search rotated copies of each image (``FaceDetector.detect(rotations=...)``); opt-in.
        self.rotations = rotations
        self.embedder = embedder
        self.metric = embedder.metric
        model = embedder.manifest.model
        if gallery is None:
            gallery = Gallery(embedder.dim, metric=self.metric, info={"embedder_model": model})
        self.gallery = gallery
        if self.gallery.dim != embedder.dim:
            raise InputError(f"gallery holds {self.gallery.dim}-d embeddings but the embedder makes {embedder.dim}-d ones")
        enrolled_with = self.gallery.info.get("embedder_model")
        if self.gallery.metric != self.metric or (enrolled_with and enrolled_with != model):
            raise InputError(
                f"the gallery was enrolled with {enrolled_with or 'another embedder'} ({self.gallery.metric} "
                f"metric) but the embedder is {model} ({self.metric}); enroll the people again with this embedder")
        if threshold is None:  # the gallery's, else the embedder's own
            default = embedder.threshold if embedder.threshold is not None else 0.5
            threshold = float(self.gallery.info.get("threshold", default))
        if self.metric == "cosine" and not -1.0 <= threshold <= 1.0:
            raise InputError(f"threshold is a cosine similarity in [-1, 1], got {threshold}")
        if self.metric == "euclidean" and not threshold > 0.0:
            raise InputError(f"threshold is a Euclidean distance (same person below it), must be > 0, got {threshold}")
        self.threshold = threshold
        self.temperature = temperature
        self.calibration = embedder.info.get("calibration")

    def within(self, score: float) -> bool:
        """Whether a candidate's score is close enough to call it that person."""
        return score < self.threshold if self.metric == "euclidean" else score >= self.threshold

    def percents(self, scores: Sequence[float]) -> list[float]:
        if self.metric == "euclidean" and self.calibration:
            return calibrated_percent(scores, self.calibration)
        if self.metric == "euclidean":  # no calibration stated: within the threshold = 50 %
            return calibrated_percent(scores, {"midpoint": self.threshold, "slope": 0.05})
        return softmax_percent(scores, self.temperature)

    # -- faces -> embeddings ----------------------------------------------------------------------
    def faces_and_embeddings(self, image: Any) -> tuple[np.ndarray, list[Face], np.ndarray]:
        rgb = to_rgb_uint8(image)
        faces = self.detector.detect(rgb, rotations=self.rotations)
        if not faces:
            return rgb, [], np.zeros((0, self.embedder.dim), np.float32)
        crops = np.stack([self.embedder.align(rgb, f.landmarks) for f in faces])
        return rgb, faces, self.embedder.embed(crops)

    def embed_largest(self, image: Any) -> np.ndarray | None:
        """Embedding of the largest face in ``image`` (enrolment photos show one person), or None."""
        _, faces, vectors = self.faces_and_embeddings(image)
        if not faces:
            return None
        largest = int(np.argmax([f.width * f.height for f in faces]))
        return vectors[largest]

    # -- gallery ----------------------------------------------------------------------------------
    def enroll(self, name: str, images: Iterable[Any]) -> int:
        """Add ``name`` with the largest face of each image; returns how many faces were enrolled."""
        vectors = []
        skipped = []
        for i, image in enumerate(images):
            vector = self.embed_largest(image)
            if vector is None:
                skipped.append(str(image) if isinstance(image, (str, Path)) else f"image {i}")
            else:
                vectors.append(vector)
        if not vectors:
            raise InputError(f"no face found in any image for {name!r} ({', '.join(skipped) or 'no images'})")
        self.gallery.add(name, np.stack(vectors))
        return len(vectors)

    def enroll_folder(self, root: str | Path, *, replace: bool = False) -> dict[str, int]:
        """Enroll every sub-folder of ``root`` as one identity (folder name = identity name)."""
        root = Path(root)
        if not root.is_dir():
            raise InputError(f"{root}: not a directory (expected one sub-folder per identity)")
        folders = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
        if not folders:
            raise InputError(f"{root}: no identity sub-folders")
        counts = {}
        for folder in folders:
            images = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
            if not images:
                continue
            if folder.name in self.gallery:
                if not replace:
                    raise InputError(f"{folder.name!r} is already enrolled (remove it first, or pass replace)")
                self.gallery.remove(folder.name)
            counts[folder.name] = self.enroll(folder.name, images)
        if not counts:
            raise InputError(f"{root}: no images in its sub-folders")
        return counts

    # -- matching ---------------------------------------------------------------------------------
    def match(self, image: Any, k: int = 3) -> list[FaceMatch]:
        """Every face in ``image`` with its top-``k`` identities (name, score, percent)."""
        if len(self.gallery) == 0:
            raise InputError("the gallery is empty: enroll identities first")
        _, faces, vectors = self.faces_and_embeddings(image)
        if not faces:
            return []
        results = []
        for face, candidates in zip(faces, self.gallery.search(vectors, k)):
            percents = self.percents([s for _, s in candidates])
            matches = [Match(name, score, pct, self.metric) for (name, score), pct in zip(candidates, percents)]
            if matches and not self.within(matches[0].score):
                matches = [Match(UNKNOWN, matches[0].score, 0.0, self.metric)] + matches[:k - 1]
            results.append(FaceMatch(face, matches))
        return results

    def draw(self, image: Any, matches: Sequence[FaceMatch] | Sequence[Face]) -> Any:
        return draw_faces(image, matches)


__all__ = ["FaceRecognizer", "FaceMatch", "Match", "UNKNOWN", "draw_faces", "softmax_percent", "calibrated_percent"]
