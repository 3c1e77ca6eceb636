"""Bits per character and generation speed of a shipped char-rnn export, through onnxruntime only.

    .venv/bin/python benchmarks/eval_char_rnn.py [EXPORT] [--data NAME[:PATH]] [--text FILE ...] [--threads N]

* bits/char on the held-out part of a dataset (``--data``, default: the corpus named in the
  export's manifest) and on every ``--text`` file (plain or ``.gz``): English the model never saw.
  Default texts, both shipped by Debian: the GPL-3 licence (``/usr/share/common-licenses/GPL-3``,
  legal English) and the first 300,000 characters of the GNU coreutils manual
  (``/usr/share/info/coreutils.info.gz``, technical English of another project).
  The text is cut into ``--streams`` contiguous pieces scored side by side (batch = streams), each
  from a zero state, so the figure is what the model assigns to the whole text give or take the
  first characters of each piece;
* characters per second of ``TextGenerator.generate`` at batch 1 (sampling included), median of
  ``--repeats`` runs of ``--length`` characters, with ``--threads`` onnxruntime intra-op threads.
"""

from __future__ import annotations

import argparse
import gzip
import json
import math
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DEFAULT_TEXTS = ["/usr/share/common-licenses/GPL-3", "/usr/share/info/coreutils.info.gz"]
MAX_CHARS = 300_000


def read_text(path: Path, limit: int = MAX_CHARS) -> str:
    raw = path.read_bytes()
    data = gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw
    return data.decode("utf-8", errors="replace").replace("\r\n", "\n")[:limit]


def bits_per_character(generator, text: str, streams: int = 64) -> dict[str, float]:  # noqa: ANN001
    """Mean -log2 p(next char) over ``text`` (its first character is only context)."""
    ids = generator.encode(text, "replace")
    unknown = int(np.sum(ids == generator.unknown_token)) if generator.unknown_token is not None else 0
    length = (len(ids) - 1) // streams
    if length < 1:
        streams, length = 1, len(ids) - 1
    pieces = np.stack([ids[i * length:(i + 1) * length + 1] for i in range(streams)])  # [streams, length + 1]
    states = generator.initial_state(streams)
    total = 0.0
    for t in range(length):
        logits, states = generator.step(pieces[:, t], states)
        logits = logits.astype(np.float64)
        shifted = logits - logits.max(axis=1, keepdims=True)
        log_z = np.log(np.exp(shifted).sum(axis=1))
        total += float((log_z - shifted[np.arange(streams), pieces[:, t + 1]]).sum())
    scored = streams * length
    return {"bits_per_character": total / scored / math.log(2), "characters": scored, "unknown_characters": unknown}


def chars_per_second(generator, length: int, repeats: int) -> float:  # noqa: ANN001
    generator.generate("The ", length=20, temperature=0.8, seed=0)  # warm-up
    times = []
    for i in range(repeats):
        start = time.perf_counter()
        generator.generate("The ", length=length, temperature=0.8, seed=i)
        times.append(time.perf_counter() - start)
    return length / statistics.median(times)


def held_out_text(data: str) -> tuple[str, str]:
    from toolkit.registry import get_registry
    from toolkit.spec import DataRequest

    spec, source = get_registry().resolve_data(data, "text")
    dataset = spec.load(source, DataRequest())
    return dataset.x_test, dataset.source


def main(argv: list[str] | None = None) -> int:
    from toolkit import runtime

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("export", nargs="?", default=str(ROOT / "exported" / "char-rnn-pydocs"))
    parser.add_argument("--data", help="dataset whose held-out part is scored (default: the export's own)")
    parser.add_argument("--text", nargs="*", default=None, help="unseen text files to score")
    parser.add_argument("--streams", type=int, default=64)
    parser.add_argument("--length", type=int, default=2000, help="characters per timed generation")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1, help="onnxruntime intra-op threads")
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    args = parser.parse_args(argv)

    generator = runtime.load(args.export, threads=args.threads)
    manifest = json.loads((Path(args.export) / "manifest.json").read_text())
    data = args.data or manifest["training"]["data"]
    figures: dict[str, object] = {"export": str(args.export)}
    text, source = held_out_text(data)
    held = bits_per_character(generator, text, args.streams)
    figures["held_out"] = {"data": data, "source": source, **held}
    print(f"{Path(args.export).name}: held-out {data}: {held['bits_per_character']:.3f} bits/char "
          f"({held['characters']:,} characters, {held['unknown_characters']} outside the vocabulary)")
    figures["unseen"] = []
    for name in (args.text if args.text is not None else DEFAULT_TEXTS):
        path = Path(name)
        if not path.is_file():
            print(f"{path}: not found, skipped")
            continue
        result = bits_per_character(generator, read_text(path), args.streams)
        figures["unseen"].append({"path": str(path), **result})
        print(f"{Path(args.export).name}: unseen {path}: {result['bits_per_character']:.3f} bits/char "
              f"({result['characters']:,} characters, {result['unknown_characters']} outside the vocabulary)")
    speed = chars_per_second(generator, args.length, args.repeats)
    figures["chars_per_second_batch1"] = speed
    print(f"{Path(args.export).name}: generation at batch 1, {args.threads} thread(s): {speed:,.0f} characters/s "
          f"(median of {args.repeats} runs of {args.length})")
    if args.json:
        from toolkit.fsutil import atomic_write_json

        atomic_write_json(args.json, figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
