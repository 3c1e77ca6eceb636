"""Face pipelines: :class:`FaceDetector` (MTCNN on onnxruntime) and :class:`FaceEmbedder`.

numpy + onnxruntime + Pillow only. The detector reproduces the ``mtcnn`` 1.0.0 package's cascade
step by step (see :mod:`toolkit.runtime.faces.mtcnn_ops`) with the same default parameters
(minimum face 20 px, thresholds 0.6 / 0.7 / 0.7, pyramid factor 0.709), but runs the three
networks with onnxruntime and batches every R-Net and O-Net crop into one call each.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from toolkit.errors import InputError
from toolkit.runtime.base import Pipeline
from toolkit.runtime.session import CHUNK_ROWS
from toolkit.runtime.faces import mtcnn_ops as ops
from toolkit.runtime.faces.imageio import to_rgb_uint8

LANDMARK_NAMES = ("left_eye", "right_eye", "nose", "mouth_left", "mouth_right")


@dataclass
class Face:
    """One detected face: box ``(x1, y1, x2, y2)`` in pixels, score in [0, 1], landmarks ``[5, 2]`` (x, y)
    in the order left eye, right eye, nose, mouth left, mouth right (the subject's left/right as
    seen in the image: "left eye" is the one on the image's left)."""

    box: tuple[float, float, float, float]
    score: float
    landmarks: np.ndarray = field(repr=False)
    #: Degrees (counter-clockwise) the image was turned when this face was found (``rotations``).
    rotation: float = 0.0

    @property
    def width(self) -> float:
        return self.box[2] - self.box[0]

    @property
    def height(self) -> float:
        return self.box[3] - self.box[1]

    def to_json(self) -> dict[str, Any]:
        result = {"box": [round(v, 2) for v in self.box], "score": round(self.score, 5),
                  "landmarks": {n: [round(float(x), 2), round(float(y), 2)]
                                for n, (x, y) in zip(LANDMARK_NAMES, self.landmarks)}}
        if self.rotation:
            result["rotation"] = self.rotation
        return result


class FaceDetector(Pipeline):
    """MTCNN: ``detect(image) -> list[Face]``, best score first.

    ``max_side``: images whose longer side exceeds it are shrunk before detection (and boxes mapped
    back) so a 40-megapixel photo costs what a ``max_side`` one does; faces smaller than
    ``min_face_size`` pixels *after* that shrink are then missed. ``None`` disables the shrink.
    Sessions are single-threaded by default: the cascade is many small runs, where thread start-up
    costs more than it saves (measured 3.3x vs 2.0x faster than the mtcnn package, in
    benchmarks/bench_face_detect.py).
    """

    default_threads = 1

    def __init__(self, manifest: Any, sessions: Any) -> None:
        super().__init__(manifest, sessions)
        defaults = self.info.get("defaults", {})
        self.min_face_size = float(defaults.get("min_face_size", 20))
        self.thresholds = tuple(float(t) for t in defaults.get("thresholds", (0.6, 0.7, 0.7)))
        self.scale_factor = float(defaults.get("scale_factor", 0.709))
        self.max_side: int | None = 2048
        self.batch_size = CHUNK_ROWS  # crops per R-Net/O-Net run

    def detect(self, image: Any, *, min_face_size: float | None = None,
               thresholds: Sequence[float] | None = None, scale_factor: float | None = None,
               rotations: bool | Sequence[float] | None = None) -> list[Face]:
        """Find faces in a PIL image, path, or uint8/float array (grey, RGB or RGBA).

        ``rotations`` (opt-in, each costs one more detection): also search copies of the image
        turned by these angles (``True``: 90, 180, 270, +-30 degrees; see
        :mod:`toolkit.runtime.faces.rotate`), map their faces back (landmarks exactly; the box
        around the mapped centre, its sides swapped for quarter turns) and keep the best-scoring
        face where detections overlap. Faces found that way carry their ``rotation``.
        """
        from toolkit.runtime.faces.rotate import rotation_angles

        rgb = to_rgb_uint8(image)
        angles = rotation_angles(rotations)
        min_face = float(min_face_size if min_face_size is not None else self.min_face_size)
        factor = float(scale_factor if scale_factor is not None else self.scale_factor)
        limits = tuple(thresholds) if thresholds is not None else self.thresholds
        if min_face < 1:
            raise InputError(f"min_face_size must be >= 1 pixel, got {min_face:g}")
        if not 0.05 < factor < 1.0:
            raise InputError(f"scale_factor must lie in (0.05, 1), got {factor:g}")
        if len(limits) != 3 or not all(0.0 <= t <= 1.0 for t in limits):
            raise InputError(f"thresholds must be three probabilities (P-Net, R-Net, O-Net), got {limits}")
        faces = self._detect_upright(rgb, min_face, factor, limits)
        if angles:
            faces = self._with_rotations(rgb, faces, angles, min_face, factor, limits)
        return faces

    def _with_rotations(self, rgb: np.ndarray, faces: list[Face], angles: Sequence[float], min_face: float,
                        factor: float, limits: tuple[float, ...]) -> list[Face]:
        from toolkit.runtime.faces.rotate import box_iou, map_points, rotated_copy

        height, width = rgb.shape[:2]
        found = list(faces)
        for angle in angles:
            copy, back = rotated_copy(rgb, angle)
            quarter = abs(angle / 90.0 - round(angle / 90.0)) < 1e-9 and round(angle / 90.0) % 2 == 1
            for face in self._detect_upright(copy, min_face, factor, limits):
                cx, cy = map_points([(face.box[0] + face.box[2]) / 2, (face.box[1] + face.box[3]) / 2], back)
                half_w, half_h = (face.height / 2, face.width / 2) if quarter else (face.width / 2, face.height / 2)
                box = (max(0.0, cx - half_w), max(0.0, cy - half_h), min(width - 1.0, cx + half_w),
                       min(height - 1.0, cy + half_h))
                found.append(Face(box=tuple(float(v) for v in box), score=face.score,
                                  landmarks=map_points(face.landmarks, back).astype(np.float32),
                                  rotation=float(angle)))
        found.sort(key=lambda f: -f.score)
        kept: list[Face] = []
        for face in found:  # one face per place: the best-scoring view of it
            if not kept or box_iou(face.box, np.array([k.box for k in kept])).max() < 0.3:
                kept.append(face)
        return kept

    def _detect_upright(self, rgb: np.ndarray, min_face: float, factor: float,
                        limits: tuple[float, ...]) -> list[Face]:
        shrink = 1.0
        height, width = rgb.shape[:2]
        if self.max_side is not None and max(height, width) > self.max_side:
            shrink = self.max_side / max(height, width)
            size = (max(1, round(width * shrink)), max(1, round(height * shrink)))
            from PIL import Image

            rgb = np.asarray(Image.fromarray(rgb).resize(size, Image.Resampling.BOX))
        boxes, landmarks = self._cascade(rgb, min_face, factor, limits)
        if shrink != 1.0:
            boxes[:, :4] /= shrink
            landmarks /= shrink
        return [Face(box=tuple(float(v) for v in b[:4]), score=float(b[4]),
                     landmarks=lm.astype(np.float32)) for b, lm in zip(boxes, landmarks)]

    # -- the cascade ------------------------------------------------------------------------------
    def _cascade(self, rgb: np.ndarray, min_face: float, factor: float,
                 limits: tuple[float, ...]) -> tuple[np.ndarray, np.ndarray]:
        empty = (np.empty((0, 5)), np.empty((0, 5, 2)))
        image = (rgb.astype(np.float32) - 127.5) / 128.0
        height, width = image.shape[:2]
        boxes = self._proposals(image, min_face, factor, limits[0])
        if len(boxes) == 0:
            return empty
        boxes = self._refine(image, boxes, limits[1])
        if len(boxes) == 0:
            return empty
        boxes, landmarks = self._output(image, boxes, limits[2])
        boxes[:, [0, 2]] = np.clip(boxes[:, [0, 2]], 0, width - 1)
        boxes[:, [1, 3]] = np.clip(boxes[:, [1, 3]], 0, height - 1)
        return boxes, landmarks

    def _proposals(self, image: np.ndarray, min_face: float, factor: float, threshold: float) -> np.ndarray:
        height, width = image.shape[:2]
        per_scale = []
        for scale in ops.pyramid_scales(height, width, min_face, factor):
            h, w = ops.scaled_shape(height, width, scale)
            if h < ops.PNET_CELL or w < ops.PNET_CELL:
                continue
            level = ops.area_resize(image, h, w)[None]
            out = self.sessions["pnet"].run({"image": level}, validate=False)
            boxes = ops.pnet_boxes(out["regression"], out["probability"], scale, threshold)
            per_scale.append(boxes[ops.nms(boxes, 0.5)])
        if not per_scale:
            return np.empty((0, 5))
        boxes = ops.sort_by_score(np.concatenate(per_scale))
        return ops.to_square(boxes[ops.nms(boxes, 0.7)])

    def _run_crops(self, name: str, crops: np.ndarray) -> dict[str, np.ndarray]:
        return self.sessions[name].run_chunked({"crops": crops}, chunk=self.batch_size, validate=False)

    def _refine(self, image: np.ndarray, boxes: np.ndarray, threshold: float) -> np.ndarray:
        out = self._run_crops("rnet", ops.crop_and_resize(image, boxes, 24))
        boxes = boxes.copy()
        boxes[:, 4] = out["probability"][:, 1]
        boxes = ops.apply_offsets(boxes, out["regression"])
        boxes = boxes[boxes[:, 4] > threshold]
        boxes = ops.sort_by_score(boxes)
        return ops.to_square(boxes[ops.nms(boxes, 0.7)])

    def _output(self, image: np.ndarray, boxes: np.ndarray, threshold: float) -> tuple[np.ndarray, np.ndarray]:
        out = self._run_crops("onet", ops.crop_and_resize(image, boxes, 48))
        landmarks = ops.landmarks_in_image(out["landmarks"].astype(np.float64), boxes)
        boxes = boxes.copy()
        boxes[:, 4] = out["probability"][:, 1]
        boxes = ops.apply_offsets(boxes, out["regression"])
        keep = boxes[:, 4] > threshold
        boxes, landmarks = boxes[keep], landmarks[keep]
        order = np.argsort(boxes[:, 4])[::-1]
        boxes, landmarks = boxes[order], landmarks[order]
        kept = ops.nms(boxes, 0.7, method="min")
        return boxes[kept], landmarks[kept]


class FaceEmbedder(Pipeline):
    """Aligned RGB faces -> embeddings (``embed``).

    The manifest's ``info`` says how to use them: ``alignment`` (``arcface-5-point`` 112x112, or
    ``dlib-chip``: dlib's ``get_face_chip`` geometry), ``metric`` (``cosine`` on L2-normalised
    vectors, or ``euclidean`` on the vectors as the model makes them, dlib's descriptors) and
    ``threshold`` (same person below a distance / above a similarity).
    """

    batchable = ("embed",)

    @property
    def metric(self) -> str:
        return str(self.info.get("metric", "cosine"))

    @property
    def normalized(self) -> bool:
        """Whether ``embed`` returns unit vectors (cosine models) or the raw output (dlib's descriptors)."""
        return bool(self.info.get("normalized", self.metric == "cosine"))

    @property
    def dim(self) -> int:
        return int(self.sessions["embed"].outputs[0].shape[-1])

    @property
    def size(self) -> int:
        return int(self.sessions["embed"].inputs[0].shape[1])

    @property
    def threshold(self) -> float | None:
        """The model's own same-person threshold (a distance for euclidean models), if it states one."""
        value = self.manifest.metrics.get("verification_threshold", self.info.get("threshold"))
        return None if value is None else float(value)

    def align(self, image: Any, landmarks: np.ndarray) -> np.ndarray:
        """Cut the face at ``landmarks`` (MTCNN's five points) out of ``image`` the way this model expects."""
        from toolkit.runtime.faces.align import aligner

        return aligner(str(self.info.get("alignment", "")))(image, landmarks, self.size)

    def embed(self, aligned: np.ndarray, batch_size: int = CHUNK_ROWS) -> np.ndarray:
        """``aligned``: uint8 (0..255) or float (0..1) ``[N, S, S, 3]`` (S = :attr:`size`) -> float32 ``[N, dim]``."""
        faces = np.asarray(aligned)
        if faces.ndim == 3:
            faces = faces[None]
        size = self.size
        if faces.ndim != 4 or faces.shape[1:] != (size, size, 3):
            raise InputError(f"embed expects aligned faces [N, {size}, {size}, 3], got shape {faces.shape}")
        if faces.shape[0] == 0:
            return np.zeros((0, self.dim), np.float32)
        if faces.dtype == np.uint8:
            faces = faces.astype(np.float32) / 255.0
        elif faces.dtype.kind == "f":
            faces = faces.astype(np.float32)
        else:
            raise InputError(f"embed expects uint8 or float faces, got dtype {faces.dtype}")
        session = self.sessions["embed"]
        name = session.inputs[0].name
        output = session.outputs[0].name
        vectors = session.run_chunked({name: faces}, [output], chunk=batch_size)[output].astype(np.float32)
        if not self.normalized:
            return vectors
        return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
