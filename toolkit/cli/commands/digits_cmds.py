"""``onnxkit reconstruct|interpolate|classify``: autoencoder, VAE and classifier exports on PNG files.

Serving side only (numpy, onnxruntime, Pillow): these commands start in well under a second.
Inputs are prepared MNIST-style (grey, digit centred in a 20/28 box, dark-on-light drawings
inverted automatically unless ``--invert`` says otherwise).
"""

from __future__ import annotations

import argparse
import json
from typing import Any

import numpy as np

from toolkit.errors import InputError


def _invert(text: str) -> bool | str:
    return {"auto": "auto", "yes": True, "no": False}[text]


def _add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("export_dir", metavar="EXPORT", help="an export directory, e.g. exported/vae-mnist")
    p.add_argument("--invert", choices=("auto", "yes", "no"), default="auto",
                   help="invert the input (dark ink on light paper); auto decides from the border (default)")


def _add_output(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", required=True, help="PNG file to write")
    p.add_argument("--scale", type=int, default=4, help="enlarge the output this many times (default 4)")


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("reconstruct", help="encode and decode an image with an autoencoder or VAE export")
    _add_common(p)
    _add_output(p)
    p.add_argument("--image", required=True, help="input image (any size; PNG, JPEG…)")
    p.add_argument("--compare", action="store_true", help="write the prepared input beside the reconstruction")
    p.set_defaults(func=reconstruct_command)

    p = subparsers.add_parser("interpolate", help="decode a latent path between two images (autoencoder or VAE)")
    _add_common(p)
    _add_output(p)
    p.add_argument("--from", dest="image_a", required=True, help="first image")
    p.add_argument("--to", dest="image_b", required=True, help="last image")
    p.add_argument("--steps", type=int, default=8, help="images on the path, ends included (default 8)")
    p.add_argument("--method", choices=("linear", "spherical", "distribution"), default="linear",
                   help="linear or spherical path between the codes, or (VAE) between the two distributions")
    p.add_argument("--seed", type=int, default=0, help="noise seed for --method distribution")
    p.set_defaults(func=interpolate_command)

    p = subparsers.add_parser("classify", help="the most likely classes of an image, with probabilities")
    _add_common(p)
    p.add_argument("--image", required=True, help="input image (any size)")
    p.add_argument("-k", "--top", dest="k", type=int, default=3, help="how many classes to show (default 3)")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=classify_command)


def _load(export_dir: str, tasks: tuple[str, ...]) -> Any:
    from toolkit import runtime

    return runtime.load(export_dir, expect=tasks)


def _save(path: str, images: np.ndarray, scale: int) -> None:
    from PIL import Image

    from toolkit.images import make_grid, save_png, to_pil

    if not 1 <= scale <= 32:
        raise InputError(f"--scale must be from 1 to 32, got {scale}")
    if not path.lower().endswith(".png"):
        raise InputError(f"--out must name a .png file, got {path!r}")
    strip = make_grid(images, columns=len(images), pad_value=0.5)
    if scale > 1:
        big = to_pil(strip).resize((strip.shape[1] * scale, strip.shape[0] * scale), Image.Resampling.NEAREST)
        strip = np.asarray(big, np.float32).reshape(big.height, big.width, -1) / 255.0
    save_png(path, strip)


def reconstruct_command(args: argparse.Namespace) -> int:
    pipeline = _load(args.export_dir, ("autoencoder", "vae"))
    image = pipeline.prepare(args.image, invert=_invert(args.invert))
    output = pipeline.reconstruct(image)
    _save(args.out, np.concatenate([image, output]) if args.compare else output, args.scale)
    mse = float(np.mean((output - image) ** 2))
    print(f"wrote {args.out} (reconstruction MSE vs the prepared input: {mse:.4f})")
    return 0


def interpolate_command(args: argparse.Namespace) -> int:
    pipeline = _load(args.export_dir, ("autoencoder", "vae"))
    if not 2 <= args.steps <= 64:
        raise InputError(f"--steps must be from 2 to 64, got {args.steps}")
    invert = _invert(args.invert)
    a, b = pipeline.prepare(args.image_a, invert=invert), pipeline.prepare(args.image_b, invert=invert)
    if args.method == "distribution":
        if not pipeline.is_vae:
            raise InputError(f"{args.export_dir} is a plain autoencoder: --method distribution needs a VAE export")
        images = pipeline.interpolate_distributions(a, b, args.steps, seed=args.seed)
    else:
        images = pipeline.interpolate(a, b, args.steps, method=args.method)
    _save(args.out, images, args.scale)
    print(f"wrote {args.out} ({args.steps} images, {args.method})")
    return 0


def classify_command(args: argparse.Namespace) -> int:
    pipeline = _load(args.export_dir, ("classifier",))
    n_classes = len(pipeline.label_names)
    if not 1 <= args.k <= n_classes:
        raise InputError(f"-k must be from 1 to {n_classes}, got {args.k}")
    ranked = pipeline.top_k(args.image, k=args.k, invert=_invert(args.invert))
    if args.json:
        print(json.dumps([{"label": label, "probability": p} for label, p in ranked]))
    else:
        for label, p in ranked:
            print(f"{label}\t{p:.4f}")
    return 0
