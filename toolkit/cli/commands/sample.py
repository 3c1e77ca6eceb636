"""``onnxkit sample EXPORT``: image grids from an exported generator (no TensorFlow).

    onnxkit sample exported/dcgan-mnist -n 64 --seed 1 --out grid.png
    onnxkit sample exported/cgan-mnist --label 3 -n 16 --seed 1 --out threes.png
    onnxkit sample exported/cgan-mnist --label all -n 100 --out classes.png      # one row per class
    onnxkit sample exported/dcgan-shapes --interpolate 10 --rows 4 --method spherical --out walk.png
    onnxkit sample exported/dcgan-mnist --grid 8x8 --seed 3 --out grid2d.png
"""

from __future__ import annotations

import argparse
import math
import re
from pathlib import Path

from toolkit.errors import InputError


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("sample", help="write a PNG grid of images from an exported generator")
    p.add_argument("export_dir", help="an export directory of task image-generator or conditional-generator")
    p.add_argument("-n", "--count", type=int, default=64, help="number of random images (default 64)")
    p.add_argument("--seed", type=int, default=None, help="random seed (same seed, same images; default: random)")
    p.add_argument("--label", action="append", default=None, metavar="LABEL",
                   help="conditional models: class id or name (repeat to cycle through several; 'all' = one "
                        "row per class); multi-label models: attribute names joined by '+', e.g. Smiling+Male")
    p.add_argument("--interpolate", type=int, metavar="STEPS",
                   help="instead of random images: rows of STEPS images between two random z each")
    p.add_argument("--rows", type=int, default=4, help="rows of --interpolate paths (default 4)")
    p.add_argument("--method", choices=("linear", "spherical"), default="linear", help="interpolation path")
    p.add_argument("--grid", metavar="ROWSxCOLS", help="instead of random images: a bilinear grid between four random z")
    p.add_argument("--columns", type=int, help="grid columns of the PNG (default: square)")
    p.add_argument("--out", required=True, help="PNG file to write")
    p.set_defaults(func=sample_command)


def _labels(generator, values: list[str] | None, n: int, *, grouped: bool = False):  # noqa: ANN001, ANN202
    """``--label`` values -> what ImageGenerator accepts, for ``n`` images (see ``choose_labels``)."""
    if not values:
        return None
    if not generator.conditional:
        raise InputError(f"{generator.name} is unconditional; it takes no --label")
    return generator.choose_labels(n, values, grouped=grouped)


def sample_command(args: argparse.Namespace) -> int:
    import numpy as np

    from toolkit import runtime
    from toolkit.images import save_grid

    out = Path(args.out)
    if not out.parent.is_dir():
        raise InputError(f"--out {out}: folder {out.parent} does not exist")
    generator = runtime.load(args.export_dir, expect=("image-generator", "conditional-generator"))
    seed = args.seed if args.seed is not None else int(np.random.default_rng().integers(0, 2**31 - 1))
    columns = args.columns
    if args.interpolate is not None and args.grid:
        raise InputError("choose one of --interpolate and --grid")
    if args.interpolate is not None:
        if args.rows < 1:
            raise InputError(f"--rows must be at least 1, got {args.rows}")
        ends = generator.random_z(2 * args.rows, seed)
        labels = _labels(generator, args.label, args.rows)
        parts = [generator.interpolate(ends[2 * r], ends[2 * r + 1], args.interpolate, args.method,
                                       labels=None if labels is None else [labels[r]])
                 for r in range(args.rows)]
        images, columns = np.concatenate(parts), columns or args.interpolate
    elif args.grid:
        match = re.fullmatch(r"\s*(\d+)\s*[xX]\s*(\d+)\s*", args.grid)
        if not match:
            raise InputError(f"--grid expects ROWSxCOLS such as 8x8, got {args.grid!r}")
        rows, cols = int(match.group(1)), int(match.group(2))
        labels = _labels(generator, args.label, 1)
        images = generator.grid(generator.random_z(4, seed), rows, cols, labels=None if labels is None else labels[0:1])
        columns = columns or cols
    else:
        labels = _labels(generator, args.label, args.count, grouped=True)
        if args.label == ["all"] and labels is not None:
            columns = columns or max(1, args.count // len(generator.label_names))
        images = generator.sample(len(labels) if labels is not None else args.count, seed=seed, labels=labels)
        columns = columns or math.ceil(math.sqrt(len(images)))
    save_grid(out, images, columns)
    print(f"wrote {out} ({len(images)} images, seed {seed}, provider {generator.provider})")
    return 0
