"""``onnxkit generate EXPORT --prompt "..." -n 500``: stream text from a text-generator export.

Serving side only (numpy + onnxruntime): the prompt is echoed, then the continuation is printed as
it is sampled.
"""

from __future__ import annotations

import argparse
import sys

from toolkit.errors import InputError


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("generate", help="generate text with a text-generator export (streams to stdout)")
    p.add_argument("export_dir", help="an export directory, e.g. exported/char-rnn-pydocs")
    p.add_argument("--prompt", default="", help="text to continue (default: empty)")
    p.add_argument("-n", "--length", type=int, default=500, help="characters to generate at most (default 500)")
    p.add_argument("--temperature", type=float, default=0.8, help="sampling temperature; 0 = greedy (default 0.8)")
    p.add_argument("--top-k", type=int, help="sample only among the k likeliest characters")
    p.add_argument("--top-p", type=float, help="nucleus sampling: the smallest set of characters with this mass")
    p.add_argument("--seed", type=int, help="random seed (same seed, same text)")
    p.add_argument("--stop", action="append", default=[], metavar="TEXT",
                   help="stop before this text appears (repeatable; \\n escapes are understood)")
    p.add_argument("--unknown", choices=("replace", "error"),
                   help="prompt characters outside the vocabulary: replace them or fail (default: the export's policy)")
    p.add_argument("--int8", action="store_true", help="step with the export's int8-quantised file (if it ships one)")
    p.add_argument("--threads", type=int, help="onnxruntime intra-op threads (1 is best on a busy machine)")
    p.add_argument("--no-echo", action="store_true", help="print only the continuation, not the prompt")
    p.set_defaults(func=generate_command)


def generate_command(args: argparse.Namespace) -> int:
    from toolkit import runtime

    if args.threads is not None and args.threads < 1:
        raise InputError(f"--threads must be at least 1, got {args.threads}")
    pipeline = runtime.load(args.export_dir, expect="text-generator", threads=args.threads)
    if args.int8:
        pipeline.use_int8()
    if args.unknown:
        pipeline.unknown_policy = args.unknown
    stops = [s.replace("\\n", "\n").replace("\\t", "\t") for s in args.stop]
    pieces = pipeline.stream(args.prompt, length=args.length, temperature=args.temperature, top_k=args.top_k,
                             top_p=args.top_p, seed=args.seed, stop=stops or None)
    first = next(pieces, "")  # validates everything before anything is printed
    out = sys.stdout
    if not args.no_echo:
        out.write(args.prompt)
    out.write(first)
    out.flush()
    for piece in pieces:
        out.write(piece)
        out.flush()
    out.write("\n")
    out.flush()
    return 0
