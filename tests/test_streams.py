"""Continuous batching of text streams: one step call serves every live stream, streams join and
leave as they start and finish, and a stream's text never depends on who else is writing."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT, together
from toolkit import runtime
from toolkit.errors import InputError
from toolkit.runtime.streams import StreamBatcher


@pytest.fixture(scope="module")
def export() -> Path:
    from toolkit.manifest import read_manifest

    for path in sorted((ROOT / "exported").iterdir()):
        if (path / "manifest.json").is_file() and read_manifest(path, verify_hashes=False).task == "text-generator":
            return path
    pytest.skip("no shipped text generator")


#: Eight requests with their own prompts, settings, lengths and stop strings.
REQUESTS = [
    dict(prompt="The ", length=150, temperature=0.8, seed=1),
    dict(prompt="def ", length=60, temperature=1.0, top_k=5, seed=2),
    dict(prompt="The ", length=150, temperature=0.8, seed=3),
    dict(prompt="import ", length=90, temperature=0.5, top_p=0.9, seed=4),
    dict(prompt="", length=40, temperature=0.0, seed=5),
    dict(prompt="class ", length=150, temperature=1.2, stop="\n", seed=6),
    dict(prompt="The ", length=1, temperature=0.8, seed=7),
    dict(prompt="return ", length=120, temperature=0.9, top_k=20, top_p=0.95, stop=["()", "  "], seed=8),
]


def test_a_streams_text_is_the_same_alone_and_among_others(export):
    plain = runtime.load(export)
    expected = [plain.generate(**r) for r in REQUESTS]  # one step call per character, per stream
    batched = runtime.load(export)
    (streams,) = batched.enable_batching().values()
    alone = [batched.generate(**r) for r in REQUESTS]  # through the batcher, one at a time
    among_others = together([lambda r=r: batched.generate(**r) for r in REQUESTS])
    assert alone == expected
    assert among_others == expected
    assert streams.stats.largest >= 4 and streams.stats.chars_per_step > 1.5  # they really shared steps


def test_streams_join_and_leave_as_they_start_and_finish(export):
    generator = runtime.load(export)
    batcher = StreamBatcher(generator, max_streams=8)
    finished: dict[str, float] = {}
    long_stream = batcher.stream("The ", length=1000, temperature=0.8, seed=1)
    assert next(long_stream)  # the long one is running alone ...
    short_stream = batcher.stream("def ", length=20, seed=2)
    assert next(short_stream)  # ... when the short one joins it

    def drain(name: str, stream) -> None:
        for _ in stream:
            pass
        finished[name] = time.monotonic()

    threads = [threading.Thread(target=drain, args=a) for a in (("long", long_stream), ("short", short_stream))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert finished["short"] < finished["long"]  # ... and leaves long before the long one ends
    assert batcher.stats.largest == 2
    assert batcher.stats.steps < 1000 + 20 - 1  # fewer step calls than the two streams' characters


def test_a_reader_that_stops_frees_its_row(export):
    generator = runtime.load(export)
    batcher = StreamBatcher(generator, max_streams=4)
    stream = batcher.stream("The ", length=200_000, temperature=0.8, seed=1)  # minutes of text
    for _, _piece in zip(range(5), stream):
        pass
    stream.close()  # a Stop button, a dropped connection
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        steps = batcher.stats.steps
        time.sleep(0.1)
        if batcher.stats.steps == steps:
            break
    assert batcher.stats.steps == steps < 100_000  # it stopped: nothing is generated for nobody
    assert len("".join(batcher.stream("The ", 5, seed=1))) == 5  # and the batcher serves on


def test_bad_requests_are_refused_at_the_call_and_others_carry_on(export):
    generator = runtime.load(export)
    batcher = StreamBatcher(generator, max_streams=4)
    good = batcher.stream("The ", length=50, temperature=0.8, seed=3)
    with pytest.raises(InputError, match="temperature"):
        batcher.stream("The ", length=50, temperature=-1)
    with pytest.raises(InputError, match="length"):
        batcher.stream("The ", length=-3)
    generator.unknown_policy = "error"
    with pytest.raises(InputError, match="outside this model's vocabulary"):
        batcher.stream("The \x00\x01", length=5)
    assert len("".join(good)) == 50
    assert list(batcher.stream("The ", length=0)) == []
    with pytest.raises(InputError, match="max_streams"):
        StreamBatcher(generator, max_streams=0)


def test_a_failed_step_reaches_every_reader_and_the_batcher_serves_on(export, monkeypatch):
    generator = runtime.load(export)
    batcher = StreamBatcher(generator, max_streams=4)
    real_step = generator.step

    def failing_step(tokens, states):
        if len(tokens) == 2:  # the first step that both streams share
            raise RuntimeError("onnxruntime failed")
        return real_step(tokens, states)

    monkeypatch.setattr(generator, "step", failing_step)
    streams = [batcher.stream("The ", length=1000, seed=i) for i in range(2)]
    assert next(streams[0]) and next(streams[1])  # both in the batch
    for stream in streams:
        with pytest.raises(RuntimeError, match="onnxruntime failed"):
            "".join(stream)
    assert "".join(batcher.stream("The ", length=20, seed=1)) == runtime.load(export).generate("The ", 20, seed=1)
