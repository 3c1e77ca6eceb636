"""Face recognition: detect -> align -> embed -> search the gallery (numpy + onnxruntime + Pillow).

``FaceRecognizer.match(image, k=3)`` returns, for every face found, the ``k`` most similar
identities with their cosine similarity and a percentage. The percentage is a softmax over the
top-k similarities scaled by ``temperature`` (ArcFace's logit scale makes cosine gaps meaningful:
a 0.1 gap at scale 30 is a 20x odds ratio), so the k percentages sum to 100. A face whose best
similarity is below ``threshold`` is reported as "unknown" first, with the candidates after it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from toolkit.errors import InputError
from toolkit.runtime.faces.align import align_face
from toolkit.runtime.faces.draw import draw_faces
from toolkit.runtime.faces.gallery import Gallery
from toolkit.runtime.faces.imageio import to_rgb_uint8
from toolkit.runtime.tasks.faces import Face, FaceDetector, FaceEmbedder

UNKNOWN = "unknown"
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".ppm", ".pgm", ".tif", ".tiff"}


@dataclass(frozen=True)
class Match:
    name: str
    similarity: float
    percent: float


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
        return f"{best.name} {best.percent:.0f}%" if best.name != UNKNOWN else f"unknown ({best.similarity:.2f})"


def softmax_percent(similarities: Sequence[float], temperature: float) -> list[float]:
    values = np.asarray(similarities, np.float64) * temperature
    if values.size == 0:
        return []
    weights = np.exp(values - values.max())
    return [float(p) for p in 100.0 * weights / weights.sum()]


class FaceRecognizer:
    """Ties a :class:`FaceDetector`, a :class:`FaceEmbedder` and a :class:`Gallery` together."""

    def __init__(self, detector: FaceDetector, embedder: FaceEmbedder, gallery: Gallery | None = None,
                 threshold: float | None = None, temperature: float = 30.0) -> None:
        self.detector = detector
        self.embedder = embedder
        self.gallery = gallery if gallery is not None else Gallery(embedder.dim)
        if self.gallery.dim != embedder.dim:
            raise InputError(f"gallery holds {self.gallery.dim}-d embeddings but the embedder makes {embedder.dim}-d ones")
        if threshold is None:  # the gallery's, else the threshold the embedder's verification found
            default = embedder.manifest.metrics.get("verification_threshold", embedder.info.get("threshold", 0.5))
            threshold = float(self.gallery.info.get("threshold", default))
        if not -1.0 <= threshold <= 1.0:
            raise InputError(f"threshold is a cosine similarity in [-1, 1], got {threshold}")
        self.threshold = threshold
        self.temperature = temperature

    # -- faces -> embeddings ----------------------------------------------------------------------
    def faces_and_embeddings(self, image: Any) -> tuple[np.ndarray, list[Face], np.ndarray]:
        rgb = to_rgb_uint8(image)
        faces = self.detector.detect(rgb)
        if not faces:
            return rgb, [], np.zeros((0, self.embedder.dim), np.float32)
        crops = np.stack([align_face(rgb, f.landmarks, self.embedder.size) for f in faces])
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
        """Every face in ``image`` with its top-``k`` identities (name, cosine similarity, percent)."""
        if len(self.gallery) == 0:
            raise InputError("the gallery is empty: enroll identities first")
        _, faces, vectors = self.faces_and_embeddings(image)
        if not faces:
            return []
        results = []
        for face, candidates in zip(faces, self.gallery.search(vectors, k)):
            percents = softmax_percent([s for _, s in candidates], self.temperature)
            matches = [Match(name, sim, pct) for (name, sim), pct in zip(candidates, percents)]
            if matches and matches[0].similarity < self.threshold:
                matches = [Match(UNKNOWN, matches[0].similarity, 0.0)] + matches[:k - 1]
            results.append(FaceMatch(face, matches))
        return results

    def draw(self, image: Any, matches: Sequence[FaceMatch] | Sequence[Face]) -> Any:
        return draw_faces(image, matches)


__all__ = ["FaceRecognizer", "FaceMatch", "Match", "UNKNOWN", "draw_faces", "softmax_percent"]
