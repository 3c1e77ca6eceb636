"""``ImageGenerator``: sampling from exported GAN generators (image-generator, conditional-generator).

numpy + onnxruntime only. The export contract it relies on (written by ``toolkit.gan.spec``): one
file ``generator`` with input ``z`` float32[N, latent] (declared range, standard normal inside it),
optionally ``labels`` float32[N, L] (one-hot, or multi-hot when ``info.multi_label``), and output
``images`` float32[N, H, W, C] in [0, 1]. Same seed, same z, same images.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from toolkit.errors import InputError, ManifestError
from toolkit.manifest import Manifest
from toolkit.runtime import latent
from toolkit.runtime.base import Pipeline
from toolkit.runtime.session import ModelSession

#: The label choice meaning every class in turn (see :meth:`ImageGenerator.choose_labels`).
EVERY_CLASS = "all"
#: Most images one call may ask for.
MAX_IMAGES = 10_000


class ImageGenerator(Pipeline):
    """z (and labels) -> images; random sampling, interpolation and 2-D latent grids."""

    batchable = ("generator",)

    def __init__(self, manifest: Manifest, sessions: dict[str, ModelSession]) -> None:
        super().__init__(manifest, sessions)
        self._session = sessions["generator"]
        inputs = {t.name: t for t in self._session.inputs}
        if "z" not in inputs or len(inputs["z"].shape) != 2 or inputs["z"].shape[1] is None:
            raise ManifestError(f"export {manifest.name!r}: generator needs an input 'z' of shape [N, latent]")
        outputs = self._session.outputs
        if not outputs or len(outputs[0].shape) != 4 or None in outputs[0].shape[1:]:
            raise ManifestError(f"export {manifest.name!r}: generator output must be images [N, H, W, C]")
        self._z = inputs["z"]
        self._output = outputs[0].name
        self.latent_dim: int = int(self._z.shape[1])
        self.image_shape: tuple[int, int, int] = tuple(int(d) for d in outputs[0].shape[1:])  # type: ignore[assignment]
        self.conditional: bool = "labels" in inputs
        self.label_names: list[str] = [str(n) for n in manifest.info.get("labels", [])] if self.conditional else []
        self.multi_label: bool = bool(manifest.info.get("multi_label", False)) and self.conditional
        if self.conditional:
            width = inputs["labels"].shape[1]
            if not self.label_names or width != len(self.label_names):
                raise ManifestError(f"export {manifest.name!r}: labels input has width {width} but the manifest "
                                    f"names {len(self.label_names)} labels")
        low, high = self._z.value_range or (-np.inf, np.inf)
        self.z_range: tuple[float, float] = (float(low), float(high))

    # -- latent vectors -------------------------------------------------------------------------------
    def random_z(self, n: int, seed: int | None = None) -> np.ndarray:
        """``n`` latent vectors ~ N(0, 1), clipped to the declared range; same seed, same z."""
        _check_count(n)
        rng = np.random.default_rng(seed)
        z = rng.standard_normal((n, self.latent_dim))
        return np.clip(z, *self.z_range).astype(np.float32)

    def _check_z(self, z: Any) -> np.ndarray:
        return latent.as_vectors(z, self.latent_dim, "z", integers=True)

    # -- labels ---------------------------------------------------------------------------------------
    def label_id(self, label: int | str) -> int:
        """A class id from an id or a name (case-insensitive)."""
        if isinstance(label, (bool, np.bool_)):
            raise InputError(f"label {label!r} is not a class id or name")
        if isinstance(label, (int, np.integer)):
            if not 0 <= int(label) < len(self.label_names):
                raise InputError(f"label id {label} is out of range: this generator has classes "
                                 f"0..{len(self.label_names) - 1}")
            return int(label)
        if isinstance(label, str):
            text = label.strip()
            if text.lstrip("-").isdigit() and text not in self.label_names:
                return self.label_id(int(text))
            lowered = [n.lower() for n in self.label_names]
            if text.lower() in lowered:
                return lowered.index(text.lower())
            raise InputError(f"unknown label {label!r}; known labels: {', '.join(self.label_names)}")
        raise InputError(f"label {label!r} is not a class id or name")

    def choose_labels(self, n: int, choices: Any = None, *, grouped: bool = False) -> list[Any] | None:
        """The one encoder of a person's label choice for ``n`` images (CLI ``--label``, the demo's
        pickers): what :meth:`sample` takes as ``labels``, validated here.

        Unconditional: no choice (None or empty) gives None; a choice is an error.
        Single-label: None, empty or ``"all"``: every class in turn (``grouped``: class after class,
        ``n // classes`` each, for one grid row per class; else interleaved); class ids or names
        (case-insensitive): cycled over the ``n`` images.
        Multi-label: attribute-name lists, or names joined by ``+`` (``""``/``"none"``: no attribute),
        cycled; None: no attributes.
        """
        if isinstance(choices, (str, int, np.integer)):
            choices = [choices]
        choices = list(choices or [])
        if not self.conditional:
            if choices:
                raise InputError(f"{self.name} is an unconditional generator; it takes no labels")
            return None
        if self.multi_label:
            rows = [self._attribute_choice(c) for c in choices] or [[]]
            return [rows[i % len(rows)] for i in range(n)]
        classes = len(self.label_names)
        if not choices or choices == [EVERY_CLASS]:
            per = max(1, n // classes)
            return [i // per % classes if grouped else i % classes for i in range(per * classes if grouped else n)]
        ids = [self.label_id(c) for c in choices]
        return [ids[i % len(ids)] for i in range(n)]

    def _attribute_choice(self, choice: Any) -> list[str]:
        names = choice if not isinstance(choice, str) else (
            [] if choice.strip().lower() in ("", "none") else [p.strip() for p in choice.split("+") if p.strip()])
        known = {n.lower() for n in self.label_names}
        unknown = [name for name in names if str(name).strip().lower() not in known]
        if unknown:
            raise InputError(f"unknown attribute(s) {unknown}; known attributes: {', '.join(self.label_names)}")
        return list(names)

    def labels_array(self, labels: Any, n: int) -> np.ndarray:
        """Turn ``labels`` (see :meth:`sample`) into the float32 [n, L] vectors the model takes.

        One label (or a list of one) applies to all ``n`` images.
        """
        if not self.conditional:
            raise InputError(f"{self.name} is an unconditional generator; it takes no labels")
        width = len(self.label_names)
        if isinstance(labels, np.ndarray) and labels.ndim == 2:
            array = labels
        elif self.multi_label:
            array = self._multi_hot(labels)
        else:
            items = [labels] if isinstance(labels, (int, str, np.integer)) else list(np.asarray(labels).ravel()
                                                                                   if isinstance(labels, np.ndarray) else labels)
            if not items:
                raise InputError("labels is empty")
            ids = [self.label_id(item.item() if isinstance(item, np.generic) else item) for item in items]
            array = np.eye(width, dtype=np.float32)[ids]
        if array.ndim != 2 or array.shape[1] != width:
            raise InputError(f"labels must have shape [N, {width}], got {array.shape}")
        if array.dtype.kind not in "fiub":
            raise InputError(f"labels must be numbers, got dtype {array.dtype}")
        array = array.astype(np.float32)
        if not np.isfinite(array).all() or array.min() < 0 or array.max() > 1:
            raise InputError("label vectors must hold values in [0, 1]")
        if len(array) == 1 and n > 1:
            array = np.repeat(array, n, axis=0)
        if len(array) != n:
            raise InputError(f"got {len(array)} label vectors for {n} images")
        return array

    def _multi_hot(self, labels: Any) -> np.ndarray:
        """Attribute-name lists (or one list / one name for all) -> multi-hot rows."""
        if isinstance(labels, str):
            labels = [[labels]]
        labels = list(labels)
        if labels and all(isinstance(item, str) for item in labels):
            labels = [labels]  # one list of names for every image
        lowered = {n.lower(): i for i, n in enumerate(self.label_names)}
        rows = np.zeros((len(labels), len(self.label_names)), np.float32)
        for r, names in enumerate(labels):
            if isinstance(names, str):
                names = [names]
            for name in names:
                key = str(name).strip().lower()
                if key not in lowered:
                    raise InputError(f"unknown attribute {name!r}; known attributes: {', '.join(self.label_names)}")
                rows[r, lowered[key]] = 1.0
        if not len(rows):
            raise InputError("labels is empty")
        return rows

    def _labels_for(self, labels: Any, n: int, rng: np.random.Generator | None = None) -> np.ndarray | None:
        if labels is None:
            if not self.conditional:
                return None
            if self.multi_label:
                raise InputError(f"{self.name} is conditioned on attributes: give labels (lists of attribute names "
                                 f"or an [n, {len(self.label_names)}] 0/1 array)")
            rng = rng or np.random.default_rng()
            return np.eye(len(self.label_names), dtype=np.float32)[rng.integers(0, len(self.label_names), n)]
        return self.labels_array(labels, n)

    # -- images ---------------------------------------------------------------------------------------
    def generate(self, z: Any, labels: Any = None) -> np.ndarray:
        """Images float32 [n, H, W, C] in [0, 1] for latent vectors ``z`` (and labels if conditional)."""
        z = self._check_z(z)
        _check_count(len(z))
        if self.conditional and labels is None:
            raise InputError(f"{self.name} is conditional: generate(z, labels) needs labels")
        label_rows = self.labels_array(labels, len(z)) if labels is not None else None
        feeds = {"z": z} if label_rows is None else {"z": z, "labels": label_rows}
        return self._session.run_chunked(feeds, [self._output])[self._output].astype(np.float32)

    def sample(self, n: int, seed: int | None = None, labels: Any = None) -> np.ndarray:
        """``n`` random images; same seed, same images.

        ``labels`` (conditional only): a class id or name, or a list of them (one per image, or one
        for all); for multi-label models an [n, L] 0/1 array or a list of attribute-name lists. A
        single-label model given no labels draws classes at random (from the same seed).
        """
        _check_count(n)
        rng = np.random.default_rng(seed)
        z = np.clip(rng.standard_normal((n, self.latent_dim)), *self.z_range).astype(np.float32)
        label_rows = self._labels_for(labels, n, rng)
        return self.generate(z, label_rows)

    def interpolate(self, z0: Any, z1: Any, steps: int, method: str = "linear", labels: Any = None) -> np.ndarray:
        """Images along the path from ``z0`` to ``z1`` (``method`` linear or spherical), both ends included."""
        a, b = self._check_z(z0), self._check_z(z1)
        if len(a) != 1 or len(b) != 1:
            raise InputError("interpolate takes one z vector for each end")
        path = np.clip(latent.path(a[0], b[0], steps, method), *self.z_range)
        return self.generate(path, self._one_label(labels, len(path)))

    def grid(self, corners: Any, rows: int, columns: int, labels: Any = None) -> np.ndarray:
        """A rows x columns grid of images whose z blend bilinearly between four corner vectors
        (top-left, top-right, bottom-left, bottom-right), row by row."""
        corners = np.asarray(corners, np.float32)
        if corners.shape != (4, self.latent_dim):
            raise InputError(f"corners must have shape [4, {self.latent_dim}], got {corners.shape}")
        z = np.clip(latent.bilinear_grid(corners, rows, columns), *self.z_range)
        return self.generate(z, self._one_label(labels, len(z)))

    def _one_label(self, labels: Any, n: int) -> np.ndarray | None:
        """Labels for a path or grid: as given, or (single-label, none given) class 0 for every image,
        so only z varies along the path."""
        if labels is None and self.conditional and not self.multi_label:
            labels = 0
        return self._labels_for(labels, n)


def _check_count(n: Any) -> None:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        raise InputError(f"the number of images must be an integer, got {n!r}")
    if not 1 <= n <= MAX_IMAGES:
        raise InputError(f"the number of images must be between 1 and {MAX_IMAGES}, got {n}")


def label_rows_for_all(generator: ImageGenerator, per_label: int) -> list[int]:
    """Class ids for a grid with one row per class (``per_label`` images each)."""
    if not generator.conditional or generator.multi_label:
        raise InputError("'all labels' needs a single-label conditional generator")
    return [i for i in range(len(generator.label_names)) for _ in range(per_label)]


__all__: Sequence[str] = ["ImageGenerator", "label_rows_for_all"]
