"""Glue between Gradio and the pipelines: error messages instead of tracebacks, image in/out.

Image inputs arrive *unprocessed* (events use ``preprocess=False``): Gradio would otherwise decode
uploads itself and answer a non-image or a decompression bomb with a generic error. Here every
upload goes through :func:`toolkit.images.open_image` and :class:`apps.limits.Limits` first.
"""

from __future__ import annotations

import base64
import functools
import inspect
import io
import logging
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gradio as gr
from gradio import utils as gr_utils
import numpy as np
from PIL import Image

from apps.limits import DEFAULT, Limits, LimitError
from toolkit.errors import OnnxkitError
from toolkit.fsutil import atomic_write_bytes
from toolkit.images import flatten_pil, make_grid, open_image, to_pil

log = logging.getLogger("apps")


def _as_gr_error(exc: BaseException) -> gr.Error:
    if isinstance(exc, gr.Error):
        return exc
    if isinstance(exc, OnnxkitError):
        return gr.Error(str(exc))
    log.exception("request failed")
    return gr.Error(f"Something went wrong on the server ({type(exc).__name__}); the error was logged.")


def guarded(fn: Callable[..., Any], *, picture_format: str = "png") -> Callable[..., Any]:
    """Run a handler the way every event of the demo needs: a user's mistake becomes a
    ``gr.Error`` pop-up with its message, a bug a short apology (with the traceback in the server
    log), never a traceback in the page; a picture it returns goes out as a file written for this
    response alone (:func:`publish_image`, in ``picture_format``). Works for plain and generator
    (streaming) handlers."""
    if picture_format not in PICTURE_FORMATS:
        raise ValueError(f"picture_format must be one of {sorted(PICTURE_FORMATS)}, got {picture_format!r}")
    if inspect.isgeneratorfunction(fn):
        @functools.wraps(fn)
        def stream(*args: Any, **kwargs: Any) -> Any:
            try:
                for result in fn(*args, **kwargs):
                    yield _published(result, picture_format)
            except Exception as exc:
                raise _as_gr_error(exc) from None
        stream.guarded = True  # type: ignore[attr-defined]
        return stream

    @functools.wraps(fn)
    def call(*args: Any, **kwargs: Any) -> Any:
        try:
            return _published(fn(*args, **kwargs), picture_format)
        except Exception as exc:
            raise _as_gr_error(exc) from None
    call.guarded = True  # type: ignore[attr-defined]
    return call


# -- image inputs -------------------------------------------------------------------------------
def _from_data_url(url: str, limits: Limits) -> bytes:
    head, _, data = url.partition(",")
    if ";base64" not in head:
        raise LimitError("unsupported image data (expected a base64 data URL)")
    if len(data) * 3 // 4 > limits.max_upload_bytes:
        raise LimitError(f"the image is larger than {limits.max_upload_bytes / 2**20:.0f} MB")
    try:
        return base64.b64decode(data, validate=False)
    except ValueError:
        raise LimitError("the image data is not valid base64") from None


def _open_path(path: str | Path, limits: Limits) -> Image.Image:
    limits.upload(path)
    return open_image(path, max_pixels=limits.max_image_pixels)


def image_from_payload(payload: Any, limits: Limits, *, what: str = "image") -> Image.Image | None:
    """Decode what an image-like component sent (unprocessed) into a checked PIL image.

    Accepts Gradio's file data (``{"path": ..., "url": ...}``), a sketchpad's editor data (its
    ``composite``), a path, a PIL image or an array. Returns None when nothing was given.
    """
    if payload is None:
        return None
    if isinstance(payload, dict):
        if "composite" in payload or "layers" in payload:  # Sketchpad / ImageEditor
            return image_from_payload(payload.get("composite"), limits, what=what)
        path, url = payload.get("path"), payload.get("url") or ""
        if path:
            return _open_path(path, limits)
        if url.startswith("data:"):
            return open_image(_from_data_url(url, limits), max_pixels=limits.max_image_pixels)
        return None
    if isinstance(payload, (str, Path)):
        return _open_path(payload, limits)
    if isinstance(payload, Image.Image):
        limits.pixels(payload.width, payload.height)
        return payload
    if isinstance(payload, np.ndarray):
        if payload.ndim not in (2, 3) or payload.size == 0:
            raise LimitError(f"the {what} has an unusable shape {payload.shape}")
        limits.pixels(payload.shape[1], payload.shape[0])
        array = payload if payload.dtype == np.uint8 else (np.clip(payload, 0, 1) * 255).astype(np.uint8)
        return Image.fromarray(array)
    raise LimitError(f"unsupported {what} input ({type(payload).__name__})")


def require_image(payload: Any, limits: Limits, *, what: str = "image", hint: str = "") -> Image.Image:
    image = image_from_payload(payload, limits, what=what)
    if image is None:
        raise LimitError(hint or f"please give an {what} first")
    return image


def is_blank(image: Image.Image) -> bool:
    """True for an empty drawing: one flat colour, or fully transparent."""
    low, high = flatten(image).getextrema()
    return high - low < 8


def flatten(image: Image.Image) -> Image.Image:
    """Greyscale, with any transparency composited on white (a sketchpad's strokes sit on a
    transparent canvas; the pipelines then see dark ink on light paper and invert as they need)."""
    return flatten_pil(image).convert("L")


def as_batch(array: np.ndarray) -> np.ndarray:
    """A pipeline's ``prepare`` may give one image ``[H, W, C]`` or a batch; always return a batch."""
    array = np.asarray(array, dtype=np.float32)
    return array[None] if array.ndim == 3 else array


# -- digit inputs -------------------------------------------------------------------------------
def digit_image(sketch: Any, upload: Any, limits: Limits, which: str = "digit") -> Image.Image:
    """The upload if there is one, else the drawing; a clear error when both are empty."""
    image = image_from_payload(upload, limits, what=which)
    if image is None:
        image = image_from_payload(sketch, limits, what=which)
        if image is None or is_blank(image):
            raise LimitError(f"please draw or upload the {which} first")
    return flatten(image)


def sketchpad(label: str, elem_id: str) -> gr.Sketchpad:
    """A square canvas with a thick black pen: digits drawn here look like MNIST once prepared."""
    return gr.Sketchpad(label=label, type="numpy", image_mode="RGBA", canvas_size=(280, 280),
                        brush=gr.Brush(default_size=18, colors=["#000000"], color_mode="fixed"),
                        height=320, layers=False, elem_id=elem_id)


def upload_image(label: str) -> gr.Image:
    """An upload box whose file reaches the handler undecoded (events use preprocess=False)."""
    return gr.Image(label=label, type="filepath", image_mode=None, sources=["upload", "clipboard"], height=160)


# -- image outputs ------------------------------------------------------------------------------
def show(images: np.ndarray, columns: int | None = None, *, min_width: int = 256, max_scale: int = 8) -> Image.Image:
    """A [N, H, W, C] batch in [0, 1] as one tiled picture, enlarged (nearest neighbour, so small
    28x28 samples stay crisp) to be at least ``min_width`` pixels wide."""
    grid = make_grid(images, columns=columns, padding=1, pad_value=1.0)
    picture = to_pil(grid)
    scale = max(1, min(max_scale, -(-min_width // picture.width)))
    if scale > 1:
        picture = picture.resize((picture.width * scale, picture.height * scale), Image.Resampling.NEAREST)
    return picture


#: How a published picture is encoded. PNG at zlib level 1: lossless and ~2x faster than Pillow's
#: default level 6 for a few % more bytes. JPEG for photographs (Face match): a 512x512 photo took
#: 256 ms as PNG (424 KB) and takes 2 ms as JPEG q90 (68 KB).
PICTURE_FORMATS = {"png": ("PNG", {"compress_level": 1}), "jpeg": ("JPEG", {"quality": 90})}


def publish_image(picture: Image.Image, directory: str | Path, format: str = "png") -> str:
    """Write one response's picture to a file of its own under ``directory``; return its path.

    Never a path another response may write: Gradio's own cache names a picture by the hash of its
    bytes and rewrites that file in place for every response that produces the same picture (same
    seed, same upload), so a download of the first response still in flight reads a file that is
    truncated under it, and the client gets a body cut off at a 64 KiB chunk boundary. A fresh
    directory per response, written through a rename, is never touched again once published.
    """
    codec, options = PICTURE_FORMATS[format]
    if codec == "JPEG" and picture.mode not in ("RGB", "L"):
        picture = picture.convert("RGB")
    buffer = io.BytesIO()
    picture.save(buffer, format=codec, **options)
    path = Path(directory) / uuid.uuid4().hex / f"image.{format}"
    atomic_write_bytes(path, buffer.getvalue(), durable=False)
    return str(path)


def _published(result: Any, format: str) -> Any:
    """A handler's result with every picture in it (alone or in a tuple) replaced by its file."""
    if isinstance(result, Image.Image):
        return publish_image(result, gr_utils.get_upload_folder(), format)
    if isinstance(result, tuple):
        return tuple(_published(r, format) for r in result)
    return result


def exports_or_note(store: Any, title: str, tasks: tuple[str, ...]) -> list[str] | None:
    """The names of the loaded exports a tab can use, or None after drawing the tab's "model not
    available" note (what is missing and why): the first lines of every tab's ``render``."""
    names = list(store.by_task(*tasks))
    if not names:
        unavailable(store.missing(title, tasks))
        return None
    return names


def one_tab_app(title: str, intro: str, render: Callable[..., None]) -> Callable[..., gr.Blocks]:
    """The ``build(store, limits)`` of a one-tab demo (``python -m apps.NAME``): a heading, then the
    tab's own ``render`` — the same render the combined demo calls."""
    def build(store: Any, limits: Limits | None = None) -> gr.Blocks:
        with gr.Blocks(title=f"onnxkit — {title}") as demo:
            gr.Markdown(intro)
            render(store, limits or DEFAULT)
        return demo

    return build


def serve_demo(build: Callable[..., gr.Blocks], description: str) -> int:
    """``python -m apps.NAME``: serve a demo with the shared command line (see :mod:`apps.serve`)."""
    from apps.serve import main

    return main(build, description=description)


def unavailable(message: str) -> gr.Markdown:
    """The block a tab shows in place of its controls when its models are absent."""
    return gr.Markdown(message, elem_classes=["onnxkit-unavailable"])
