"""Continuous batching for Write: aggregate characters/s of N concurrent streams, batched vs not.

For N in ``--streams`` (default 1, 8, 32), N threads each generate ``--length`` characters from
their own prompt and seed with the shipped language model, at the Write tab's defaults
(temperature 0.8), either

* ``batched``: through one :class:`toolkit.runtime.streams.StreamBatcher` (one step call per
  character for all live streams), or
* ``per-stream``: each with its own step call per character (``TextGenerator.stream`` unbatched,
  what every request did before);

the two taking turns, ``--rounds`` times each. Prints a table of median aggregate characters/s,
the ratio, and the mean number of streams one batched step served. Also checks that every
stream's text is identical both ways (a stream's text must not depend on who else writes).

    .venv/bin/python benchmarks/bench_streams.py [--streams 1 8 32] [--length 300] [--rounds 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import local_server  # noqa: E402
from together import run_together  # noqa: E402

from toolkit import runtime  # noqa: E402
from toolkit.manifest import read_manifest  # noqa: E402
from toolkit.runtime.streams import StreamBatcher  # noqa: E402

PROMPTS = ("The ", "def ", "import ", "class ", "return ", "if ", "for ", "# ")


def text_export(exported: Path) -> Path:
    for path in sorted(exported.iterdir()):
        if (path / "manifest.json").is_file() and read_manifest(path, verify_hashes=False).task == "text-generator":
            return path
    raise SystemExit(f"no text-generator export in {exported}")


def run(stream_fn, n: int, length: int) -> tuple[float, list[str]]:
    """N threads, each writing ``length`` characters; (aggregate chars/s, the texts)."""
    seconds, texts = run_together([
        lambda i=i: "".join(stream_fn(PROMPTS[i % len(PROMPTS)], length=length, temperature=0.8, seed=i))
        for i in range(n)])
    return sum(len(t) for t in texts) / seconds, texts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streams", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--length", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--exported", type=Path, default=local_server.ROOT / "exported")
    args = parser.parse_args()
    if not all(1 <= n <= 256 for n in args.streams) or not 1 <= args.length <= 5000 or not 1 <= args.rounds <= 20:
        parser.error("keep it bounded: 1-256 streams, 1-5000 characters, 1-20 rounds")
    generator = runtime.load(text_export(args.exported))
    batcher = StreamBatcher(generator, max_streams=max(args.streams))
    ways = {"batched": batcher.stream, "per-stream": generator.stream}
    run(generator.stream, 2, 20)  # warm-up
    run(batcher.stream, 2, 20)
    print(f"{generator.name}: {args.length} characters per stream, median of {args.rounds} rounds, "
          f"both ways taking turns")
    print(f"{'streams':>7}  {'batched chars/s':>15}  {'per-stream chars/s':>18}  {'ratio':>6}  {'streams per step':>16}")
    identical = True
    for n in args.streams:
        rates: dict[str, list[float]] = {way: [] for way in ways}
        steps, chars = batcher.stats.steps, batcher.stats.chars
        order = list(ways)
        for _ in range(args.rounds):
            texts = {}
            for way in order:
                rate, texts[way] = run(ways[way], n, args.length)
                rates[way].append(rate)
            identical &= texts["batched"] == texts["per-stream"]
            order.reverse()
        b, p = statistics.median(rates["batched"]), statistics.median(rates["per-stream"])
        per_step = (batcher.stats.chars - chars) / max(1, batcher.stats.steps - steps)
        print(f"{n:>7}  {b:>15,.0f}  {p:>18,.0f}  {b / p:>5.2f}x  {per_step:>16.1f}", flush=True)
    print("every stream's text identical batched and per-stream: " + ("yes" if identical else "NO"))
    return 0 if identical else 1


if __name__ == "__main__":
    raise SystemExit(main())
