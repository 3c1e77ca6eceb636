"""What one request may ask of a public demo, and the checks that enforce it.

A Space is shared by strangers on a small CPU: without limits one request for 10,000 samples or a
40-megapixel upload would stall everyone queued behind it. Every check raises
:class:`LimitError` (an :class:`~toolkit.errors.InputError`) with a message meant for the person
at the browser; the UI layer turns it into a ``gr.Error`` pop-up, never a traceback.

Kept free of Gradio so the rules can be tested (and reused by other front ends) on their own.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from toolkit.errors import InputError


class LimitError(InputError):
    """A request asked for more than the demo allows."""


@dataclass(frozen=True)
class Limits:
    max_samples: int = 64            # images per Generate request
    max_steps: int = 16              # frames in an interpolation strip / walk
    max_grid_side: int = 10          # rows or columns of a latent grid
    max_prompt_chars: int = 500      # characters in a Write prompt
    max_length: int = 1000           # characters generated per Write request
    max_image_pixels: int = 16_000_000   # decoded pixels of one uploaded image (4000 x 4000)
    max_upload_bytes: int = 10 * 1024 * 1024  # bytes of one uploaded file
    max_enroll_photos: int = 8       # photos per enrolment
    max_gallery_people: int = 200    # people in one session's gallery
    max_name_chars: int = 60         # characters of an enrolled person's name

    def check_count(self, what: str, value: float | int | None, low: int, high: int) -> int:
        """An integer within ``[low, high]`` (sliders can send floats; a cleared box sends None)."""
        if value is None:
            raise LimitError(f"{what}: please give a number")
        if isinstance(value, float) and not value.is_integer():
            raise LimitError(f"{what} must be a whole number, got {value}")
        number = int(value)
        if number < low or number > high:
            raise LimitError(f"{what} must be between {low} and {high}, got {number}")
        return number

    def samples(self, n: float | int | None) -> int:
        return self.check_count("number of samples", n, 1, self.max_samples)

    def steps(self, n: float | int | None) -> int:
        return self.check_count("interpolation steps", n, 2, self.max_steps)

    def grid_side(self, what: str, n: float | int | None) -> int:
        return self.check_count(what, n, 2, self.max_grid_side)

    def length(self, n: float | int | None) -> int:
        return self.check_count("length", n, 1, self.max_length)

    def seed(self, seed: float | int | None) -> int | None:
        """A seed in numpy's range, or None (random) for an empty box."""
        if seed is None or seed == "":
            return None
        return self.check_count("seed", seed, 0, 2**32 - 1)

    def prompt(self, text: str | None) -> str:
        text = text or ""
        if len(text) > self.max_prompt_chars:
            raise LimitError(f"the prompt has {len(text):,} characters; the limit is {self.max_prompt_chars:,}")
        return text

    def name(self, text: str | None) -> str:
        name = (text or "").strip()
        if not name:
            raise LimitError("please type the person's name")
        if len(name) > self.max_name_chars:
            raise LimitError(f"the name has {len(name)} characters; the limit is {self.max_name_chars}")
        if not name.isprintable():
            raise LimitError("the name contains control characters")
        return name

    def upload(self, path: str | os.PathLike[str]) -> Path:
        """An uploaded file that exists and is not larger than ``max_upload_bytes``."""
        path = Path(path)
        try:
            size = path.stat().st_size
        except OSError:
            raise LimitError("the upload did not arrive (file missing); please upload it again") from None
        if size > self.max_upload_bytes:
            raise LimitError(
                f"the file is {size / 2**20:.1f} MB; the limit is {self.max_upload_bytes / 2**20:.0f} MB"
            )
        if size == 0:
            raise LimitError("the uploaded file is empty")
        return path

    def pixels(self, width: int, height: int) -> None:
        if width * height > self.max_image_pixels:
            raise LimitError(
                f"the image is {width}x{height} pixels; the limit is {self.max_image_pixels:,} pixels"
            )


DEFAULT = Limits()
