"""The demo's request limits and upload checks: every bad request gets a clear message."""

from __future__ import annotations

import base64
import struct
import zlib
from pathlib import Path

import gradio as gr
import numpy as np
import pytest
from PIL import Image

from apps.limits import Limits, LimitError
from apps.ui import digit_image, guarded, image_from_payload, is_blank, show
from toolkit.errors import InputError

LIMITS = Limits()


def png(path: Path, size=(40, 30), colour="red") -> Path:
    Image.new("RGB", size, colour).save(path)
    return path


def huge_png_header(path: Path, width: int, height: int) -> Path:
    """A tiny file whose PNG header claims enormous dimensions (a decompression bomb's shape)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64))
                     + chunk(b"IEND", b""))
    return path


@pytest.mark.parametrize("value, message", [
    (0, "between 1 and 64"), (65, "between 1 and 64"), (2.5, "whole number"), (None, "please give a number"),
])
def test_sample_count_limits(value, message):
    with pytest.raises(LimitError, match=message):
        LIMITS.samples(value)


def test_limits_accept_valid_values_and_are_input_errors():
    assert LIMITS.samples(64.0) == 64 and LIMITS.steps(2) == 2 and LIMITS.seed(None) is None
    assert LIMITS.seed(7.0) == 7
    assert issubclass(LimitError, InputError)
    with pytest.raises(LimitError, match="between 0 and"):
        LIMITS.seed(-1)
    with pytest.raises(LimitError, match="501 characters; the limit is 500"):
        LIMITS.prompt("x" * 501)
    assert LIMITS.prompt(None) == ""
    with pytest.raises(LimitError, match="type the person's name"):
        LIMITS.name("   ")
    with pytest.raises(LimitError, match="control characters"):
        LIMITS.name("bad\x00name")


def test_not_an_image_is_refused(tmp_path):
    bogus = tmp_path / "notes.png"
    bogus.write_text("this is not a picture")
    with pytest.raises(InputError, match="not an image"):
        image_from_payload({"path": str(bogus), "url": None}, LIMITS)


def test_truncated_image_is_refused(tmp_path):
    whole = png(tmp_path / "whole.png", size=(300, 300), colour=None)
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (300, 300, 3), dtype=np.uint8)).save(whole)
    cut = tmp_path / "cut.png"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    with pytest.raises(InputError, match="corrupt or truncated"):
        image_from_payload(str(cut), LIMITS)


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")  # the point of the test
def test_huge_dimensions_are_refused_before_decoding(tmp_path):
    bomb = huge_png_header(tmp_path / "bomb.png", 12_000, 12_000)
    assert bomb.stat().st_size < 1000
    with pytest.raises(InputError, match="12000x12000, more than 16,000,000 pixels"):
        image_from_payload({"path": str(bomb)}, LIMITS)
    # Far beyond Pillow's own bomb guard: still refused with a message, not a traceback.
    with pytest.raises(InputError, match="pixels"):
        image_from_payload(str(huge_png_header(tmp_path / "bigger.png", 50_000, 50_000)), LIMITS)


def test_upload_bytes_and_empty_files_are_refused(tmp_path):
    picture = png(tmp_path / "p.png", size=(200, 200))
    with pytest.raises(LimitError, match=r"the limit is 0 MB|the limit is"):
        image_from_payload(str(picture), Limits(max_upload_bytes=100))
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    with pytest.raises(LimitError, match="empty"):
        image_from_payload(str(empty), LIMITS)
    with pytest.raises(LimitError, match="did not arrive"):
        image_from_payload(str(tmp_path / "gone.png"), LIMITS)


def test_payload_forms_decode_to_the_same_image(tmp_path):
    picture = png(tmp_path / "p.png")
    encoded = "data:image/png;base64," + base64.b64encode(picture.read_bytes()).decode()
    forms = [str(picture), {"path": str(picture)}, {"url": encoded, "path": None},
             {"composite": {"path": str(picture)}, "layers": [], "background": None},
             Image.open(picture), np.asarray(Image.open(picture))]
    for form in forms:
        image = image_from_payload(form, LIMITS)
        assert image.size == (40, 30) and image.convert("RGB").getpixel((3, 3)) == (255, 0, 0), form
    assert image_from_payload(None, LIMITS) is None
    assert image_from_payload({"composite": None, "layers": []}, LIMITS) is None
    with pytest.raises(LimitError, match="larger than"):
        image_from_payload({"url": encoded, "path": None}, Limits(max_upload_bytes=10))


def test_blank_drawing_is_refused_and_ink_is_flattened_on_white(tmp_path):
    canvas = Image.new("RGBA", (280, 280), (0, 0, 0, 0))
    assert is_blank(canvas)
    with pytest.raises(LimitError, match="draw or upload the digit first"):
        digit_image(canvas, None, LIMITS)
    canvas.paste((0, 0, 0, 255), (100, 20, 140, 260))  # one black stroke on a transparent canvas
    flat = digit_image(canvas, None, LIMITS)
    assert flat.mode == "L" and flat.getpixel((5, 5)) == 255 and flat.getpixel((120, 100)) == 0
    upload = png(tmp_path / "u.png", colour="white")
    assert digit_image(canvas, {"path": str(upload)}, LIMITS).size == (40, 30)  # the upload wins


def test_guarded_turns_errors_into_messages_not_tracebacks():
    def bad_input():
        raise LimitError("the prompt is too long")

    def bug():
        raise ZeroDivisionError("oops")

    def stream():
        yield "a"
        raise InputError("character '☃' is not in the vocabulary")

    with pytest.raises(gr.Error, match="the prompt is too long"):
        guarded(bad_input)()
    with pytest.raises(gr.Error, match=r"Something went wrong on the server \(ZeroDivisionError\)"):
        guarded(bug)()
    out = guarded(stream)()
    assert next(out) == "a"
    with pytest.raises(gr.Error, match="not in the vocabulary"):
        next(out)


def test_show_enlarges_small_samples_crisply():
    batch = np.zeros((4, 28, 28, 1), np.float32)
    batch[:, 10:18, 10:18] = 1.0
    picture = show(batch, columns=4)
    assert picture.width >= 256 and picture.width % (4 * 28 + 5) == 0
    assert set(np.unique(np.asarray(picture))) <= {0, 255}  # nearest-neighbour: no grey fringes
