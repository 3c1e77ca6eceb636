"""``onnxkit space build EXPORT... --out DIR``: a ready-to-push Hugging Face Space (no TensorFlow)."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("space", help="Hugging Face Spaces for exports")
    actions = p.add_subparsers(dest="space_command", metavar="ACTION")
    actions.required = True
    b = actions.add_parser("build", help="write a Gradio Space (app.py, README.md, requirements.txt, exports)")
    b.add_argument("exports", nargs="+", metavar="EXPORT",
                   help="export directories (and optionally one face gallery file/directory)")
    b.add_argument("--out", required=True, metavar="DIR", help="the Space directory to write")
    b.add_argument("--title", default="onnxkit demo", help="the Space's title")
    b.add_argument("--overwrite", action="store_true", help="replace DIR if it exists")
    b.add_argument("--gpu", action="store_true",
                   help="require onnxruntime-gpu (for GPU Space hardware) instead of the CPU build")
    b.set_defaults(func=build_command)


def build_command(args: argparse.Namespace) -> int:
    from apps.spaces import build_space, serving_modules

    out = build_space(args.exports, args.out, title=args.title, overwrite=args.overwrite, gpu=args.gpu)
    print(f"wrote Space {out} ({len(serving_modules())} vendored modules); "
          f"try it: cd {out} && pip install -r requirements.txt && python app.py")
    return 0
