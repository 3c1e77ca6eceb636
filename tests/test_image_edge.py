"""One image normaliser at the edge: a picture means the same to every pipeline and app, whatever
form it arrives in (PIL mode, array dtype, transparency, 16 bits)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from toolkit.errors import InputError
from toolkit.images import flatten_pil, normalise_array, to_array
from toolkit.runtime.faces.imageio import to_rgb_uint8
from toolkit.runtime.prepare import to_grey


@pytest.fixture()
def rgba() -> np.ndarray:
    rng = np.random.default_rng(0)
    array = rng.integers(0, 256, size=(12, 9, 4), dtype=np.uint8)
    array[:4, :, 3] = 0  # fully transparent rows: white once flattened
    return array


def test_pil_and_array_forms_agree(rgba):
    from_pil = to_rgb_uint8(Image.fromarray(rgba, "RGBA"))
    from_array = to_rgb_uint8(rgba)
    assert np.abs(from_pil.astype(int) - from_array.astype(int)).max() <= 1
    assert (from_array[:4] == 255).all()
    grey_pil, grey_array = to_grey(Image.fromarray(rgba, "RGBA")), to_grey(rgba)
    assert np.abs(grey_pil - grey_array).max() <= 1.5 / 255
    float_form = to_rgb_uint8(rgba.astype(np.float32) / 255)
    assert np.abs(float_form.astype(int) - from_array.astype(int)).max() <= 1


def test_sixteen_bit_images_are_scaled_by_their_peak():
    wide = Image.fromarray(np.array([[0, 1000], [2000, 4000]], np.uint16))
    assert flatten_pil(wide).mode == "L"
    np.testing.assert_allclose(to_array(wide, 1)[..., 0], [[0, 63 / 255], [127 / 255, 1]], atol=1 / 255)


def test_an_rgb_uint8_array_is_not_copied():
    image = np.zeros((5, 6, 3), np.uint8)
    assert to_rgb_uint8(image) is image


@pytest.mark.parametrize("bad, message", [
    (np.zeros((4, 4, 2), np.uint8), r"\[H, W, 1\|3\|4\]"),
    (np.zeros((4, 4), np.int32), "expected uint8, or float"),
    (np.full((4, 4), 1.5, np.float32), r"must lie in \[0, 1\]"),
    (np.full((4, 4), np.inf, np.float32), "NaN or infinity"),
    (np.zeros((0, 4), np.uint8), "empty"),
])
def test_bad_arrays_are_named(bad, message):
    with pytest.raises(InputError, match=message):
        normalise_array(bad)
