"""Draw detections or matches on an image: boxes, the five landmarks and labels (Pillow only)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from PIL import Image, ImageDraw, ImageFont

from toolkit.runtime.faces.imageio import to_rgb_uint8

LANDMARK_COLOURS = [(0, 200, 255), (0, 200, 255), (255, 220, 0), (255, 80, 200), (255, 80, 200)]


def draw_faces(image: Any, faces_or_matches: Sequence[Any]) -> Image.Image:
    """A copy of ``image`` with a box per face (green when matched, red when unknown), landmarks as
    dots, and a label: the detection score for a :class:`Face`, "name NN%" for a ``FaceMatch``."""
    canvas = Image.fromarray(to_rgb_uint8(image))
    draw = ImageDraw.Draw(canvas)
    font = ImageFont.load_default()
    line = max(1, round(min(canvas.size) / 250))
    for item in faces_or_matches:
        face = getattr(item, "face", item)
        if hasattr(item, "matches"):
            label = item.label
            colour = (220, 40, 40) if label.startswith("unknown") else (40, 200, 60)
        else:
            label = f"{face.score:.2f}"
            colour = (40, 200, 60)
        x1, y1, x2, y2 = face.box
        draw.rectangle([x1, y1, x2, y2], outline=colour, width=line)
        radius = max(1.5, (x2 - x1) / 40)
        for (x, y), dot in zip(face.landmarks, LANDMARK_COLOURS):
            draw.ellipse([x - radius, y - radius, x + radius, y + radius], fill=dot)
        text_box = draw.textbbox((x1, y1), label, font=font)
        top = y1 - (text_box[3] - text_box[1]) - 4
        top = top if top >= 0 else y2 + 2
        draw.rectangle([x1, top, x1 + text_box[2] - text_box[0] + 4, top + text_box[3] - text_box[1] + 4], fill=colour)
        draw.text((x1 + 2, top + 1), label, fill=(255, 255, 255), font=font)
    return canvas
