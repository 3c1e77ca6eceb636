"""Face identity datasets: ``faces:DIR`` (one folder per identity, the LFW / VGGFace2 layout) and
``lfw-subset`` (scikit-image's 100 LFW face crops, with pseudo-identities).

Images come out as float32 ``[N, S, S, 3]`` in [0, 1] with int64 identity ids; ``label_names``
are the identities. ``S`` is the model's ``DataRequest.image_size`` (112 for ArcFace-style
embedders). Folder images are centre-cropped to a square (LFW's 250x250 photos have the face in
the middle; aligned crops are already square) — for best results give aligned crops.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from toolkit.errors import DatasetError
from toolkit.hookspecs import hookimpl
from toolkit.spec import DataRequest, Dataset, DatasetSpec

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".ppm", ".pgm", ".tif", ".tiff"}


def identity_folders(root: Path) -> list[tuple[str, list[Path]]]:
    """(identity, image paths) for each sub-folder holding images, sorted by name."""
    if not root.is_dir():
        raise DatasetError(f"faces: {root} is not a directory (expected one sub-folder per identity)")
    result = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        images = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
        if images:
            result.append((folder.name, images))
    if not result:
        raise DatasetError(f"faces: {root} has no identity sub-folders with images ({', '.join(sorted(IMAGE_SUFFIXES))})")
    return result


def load_face_folder(source: str | None, request: DataRequest) -> Dataset:
    """``faces:DIR``: identities with at least 2 images; one image of each identity with 3 or more
    goes to the test split (so verification pairs exist on both sides)."""
    from toolkit.errors import InputError
    from toolkit.images import load_image

    if not source:
        raise DatasetError("faces needs a directory: --data faces:PATH (one sub-folder per identity)")
    size = request.image_size or 112
    root = Path(source)
    folders = [(name, paths) for name, paths in identity_folders(root) if len(paths) >= 2]
    if len(folders) < 2:
        raise DatasetError(f"faces: {root} needs at least 2 identities with 2 or more images each")
    rng = np.random.default_rng(request.seed)
    x_train, y_train, x_test, y_test = [], [], [], []
    names = []
    for name, paths in folders:
        label = len(names)
        names.append(name)
        paths = list(paths)
        if request.limit is not None:
            paths = paths[:max(2, request.limit)]
        test_index = int(rng.integers(len(paths))) if len(paths) >= 3 else -1
        for i, path in enumerate(paths):
            try:
                image = load_image(path, size, 3, center_crop=True)
            except InputError as exc:
                raise DatasetError(f"faces: {exc}") from None
            (x_test if i == test_index else x_train).append(image)
            (y_test if i == test_index else y_train).append(label)
    return Dataset(
        name="faces", kind="images", source=f"identity folders in {root}",
        x_train=np.stack(x_train).astype(np.float32), y_train=np.asarray(y_train, np.int64),
        x_test=np.stack(x_test).astype(np.float32) if x_test else np.zeros((0, size, size, 3), np.float32),
        y_test=np.asarray(y_test, np.int64), label_names=names,
        info={"identities": len(names), "image_size": size},
    )


#: Mean MTCNN landmarks of the 100 lfw_subset faces in 25x25 crop pixels, measured with
#: exported/mtcnn on 4x upscaled crops (all 100 detected; per-face spread about 1 px).
LFW_SUBSET_LANDMARKS = np.array([[6.358, 8.812], [15.038, 8.427], [10.513, 13.598], [7.405, 18.186], [14.745, 17.929]])


def augment_views(face: np.ndarray, views: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """``views`` aligned variants ``[views, size, size, 1]`` of one grey 25x25 face crop in [0, 1].

    Each view is warped to the ArcFace template (as a detected, aligned face would be) through the
    mean lfw_subset landmarks, then jittered — rotation, scale, shift, brightness/contrast,
    horizontal flip — as stand-ins for other photos of the same person.
    """
    from PIL import Image

    from toolkit.runtime.faces.align import ARCFACE_TEMPLATE, umeyama

    base = Image.fromarray((np.clip(face, 0, 1) * 255).astype(np.uint8))
    to_template = np.vstack([umeyama(LFW_SUBSET_LANDMARKS, ARCFACE_TEMPLATE * (size / 112.0)), [0, 0, 1]])
    fill = int(np.concatenate([face[0], face[-1], face[:, 0], face[:, -1]]).mean() * 255)
    out = np.empty((views, size, size, 1), np.float32)
    centre = size / 2.0
    for v in range(views):
        angle = np.deg2rad(rng.uniform(-8, 8))
        scale = rng.uniform(0.93, 1.07)
        shift = rng.uniform(-0.03, 0.03, 2) * size
        cos, sin = np.cos(angle) * scale, np.sin(angle) * scale
        jitter = np.array([[cos, -sin, centre - cos * centre + sin * centre + shift[0]],
                           [sin, cos, centre - sin * centre - cos * centre + shift[1]], [0, 0, 1]])
        inverse = np.linalg.inv(jitter @ to_template)
        image = base.transform((size, size), Image.Transform.AFFINE, tuple(inverse[:2].ravel()),
                               resample=Image.Resampling.BILINEAR, fillcolor=fill)
        array = np.asarray(image, np.float32) / 255.0
        if rng.random() < 0.5:
            array = array[:, ::-1]
        array = np.clip((array - 0.5) * rng.uniform(0.8, 1.2) + 0.5 + rng.uniform(-0.1, 0.1), 0, 1)
        out[v] = array[..., None]
    return out


def load_lfw_subset(source: str | None, request: DataRequest) -> Dataset:
    """scikit-image's ``lfw_subset``: 100 grey 25x25 LFW face crops (plus 100 non-faces, unused).

    It carries NO identity labels, so each face is its own pseudo-identity and its "photos" are
    random augmentations (``lfw-subset:VIEWS``, default 8 train + 2 test views per face). An
    embedder trained on it learns instance discrimination, not real identity features: it is a
    small, offline, honest stand-in for a real folder-per-identity dataset (``faces:DIR``).
    """
    try:
        from skimage import data as skdata
    except ImportError:  # pragma: no cover
        raise DatasetError("lfw-subset needs scikit-image (pip install scikit-image)") from None
    try:
        views = int(source) if source else 10
    except ValueError:
        raise DatasetError(f"lfw-subset:VIEWS expects an integer number of views per face, got {source!r}") from None
    if views < 3:
        raise DatasetError(f"lfw-subset needs at least 3 views per face (2 train + 1 test), got {views}")
    size = request.image_size or 112
    faces = np.asarray(skdata.lfw_subset()[:100], np.float32)
    if request.limit is not None:
        faces = faces[:max(2, request.limit)]
    rng = np.random.default_rng(request.seed)
    test_views = max(1, views // 5)
    x_train, y_train, x_test, y_test = [], [], [], []
    for label, face in enumerate(faces):
        grey = augment_views(face, views, size, rng)
        rgb = np.repeat(grey, 3, axis=-1)
        x_train.append(rgb[test_views:])
        y_train += [label] * (views - test_views)
        x_test.append(rgb[:test_views])
        y_test += [label] * test_views
    return Dataset(
        name="lfw-subset", kind="images",
        source="scikit-image lfw_subset (100 LFW faces, 25x25 grey); pseudo-identities = augmented views",
        x_train=np.concatenate(x_train), y_train=np.asarray(y_train, np.int64),
        x_test=np.concatenate(x_test), y_test=np.asarray(y_test, np.int64),
        label_names=[f"lfw-{i:03d}" for i in range(len(faces))],
        info={"identities": len(faces), "views_per_identity": views, "pseudo_identities": True, "image_size": size},
    )


@hookimpl
def register_datasets(register: Any) -> None:
    register(DatasetSpec(name="faces", kind="images", load=load_face_folder,
                         description="face photos, one sub-folder per identity (LFW / VGGFace2 layout): faces:DIR"))
    register(DatasetSpec(name="lfw-subset", kind="images", load=load_lfw_subset,
                         description="scikit-image lfw_subset: 100 faces as pseudo-identities (augmented views)"))
