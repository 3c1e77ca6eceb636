"""Text corpora for character-level models: the built-in ``pydoc`` corpus and ``text:PATH``.

A text dataset is one training string and one held-out string (``Dataset.x_train`` /
``x_test``). The held-out part is the *end* of the corpus, cut at a line break, so it is
contiguous text the model never saw (a random split of lines would leak neighbouring context).

* ``pydoc`` — the English documentation every CPython ships as ``pydoc_data.topics`` (~465K
  characters): the topic texts joined in sorted key order with blank lines between them.
* ``text`` — a UTF-8 text file, or a folder whose ``*.txt`` files (sorted by name, searched
  recursively) are joined with blank lines. ``--data text:PATH`` or a bare ``--data PATH``.

Empty corpora, non-UTF-8 files and folders without ``.txt`` files are :class:`DatasetError`\\ s
that name the file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from toolkit.errors import DatasetError
from toolkit.hookspecs import hookimpl
from toolkit.spec import DataRequest, Dataset, DatasetSpec

#: Share of the corpus (by characters) held out for evaluation.
HELD_OUT_FRACTION = 0.1
#: The held-out part must hold at least this many characters to be a meaningful test set.
MIN_HELD_OUT = 2


def split_text(text: str, fraction: float = HELD_OUT_FRACTION) -> tuple[str, str]:
    """Split ``text`` into (train, held-out): the last ``fraction`` of it, cut after a newline when
    one is near the boundary so neither part starts mid-line."""
    if not 0 < fraction < 1:
        raise ValueError(f"held-out fraction must be in (0, 1), got {fraction}")
    cut = int(round(len(text) * (1 - fraction)))
    newline = text.rfind("\n", max(0, cut - 200), cut)
    if newline > 0:
        cut = newline + 1
    return text[:cut], text[cut:]


def make_text_dataset(name: str, source: str, text: str, request: DataRequest) -> Dataset:
    """Split a corpus and apply ``request.limit`` (characters of training text kept, for tiny tests)."""
    if not text.strip():
        raise DatasetError(f"{name}: the text is empty ({source})")
    train, test = split_text(text)
    if len(train) < MIN_HELD_OUT or len(test) < MIN_HELD_OUT:
        raise DatasetError(f"{name}: the text is too short to split into training and held-out parts "
                           f"({len(text)} characters in {source})")
    if request.limit is not None:
        train = train[: max(request.limit, 2)]
        test = test[: max(request.limit // 5, MIN_HELD_OUT)]
    return Dataset(
        name=name, kind="text", source=source, x_train=train, x_test=test,
        info={"characters": len(text), "held_out_fraction": HELD_OUT_FRACTION,
              "split": "held-out = the last 10% of the corpus (cut at a line break)"},
    )


def pydoc_text() -> str:
    """The ``pydoc_data.topics`` corpus as one string (identical on every CPython of one version)."""
    try:
        from pydoc_data.topics import topics
    except ImportError as exc:  # some distributions strip pydoc_data
        raise DatasetError(f"pydoc: this Python has no pydoc_data.topics ({exc})") from None
    return "\n\n".join(topics[key].strip("\n") for key in sorted(topics)) + "\n"


def load_pydoc(source: str | None, request: DataRequest) -> Dataset:
    if source:
        raise DatasetError(f"pydoc: takes no path (got {source!r}); use text:PATH for your own text")
    import sys

    version = ".".join(map(str, sys.version_info[:2]))
    return make_text_dataset("pydoc", f"pydoc_data.topics of CPython {version}", pydoc_text(), request)


def _read_utf8(path: Path) -> str:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DatasetError(f"text: cannot read {path} ({exc.strerror or exc})") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DatasetError(f"text: {path} is not UTF-8 text (bad byte at offset {exc.start})") from None
    if "\x00" in text:
        raise DatasetError(f"text: {path} contains NUL bytes (a binary file?)")
    return text.replace("\r\n", "\n")


def text_files(path: Path) -> list[Path]:
    """The files a ``text`` dataset reads from ``path`` (a file, or a folder's ``*.txt``)."""
    if path.is_file():
        return [path]
    if path.is_dir():
        return sorted(p for p in path.rglob("*.txt") if p.is_file())
    raise DatasetError(f"text: {path} does not exist")


def load_text(source: str | None, request: DataRequest) -> Dataset:
    if not source:
        raise DatasetError("text: give a file or folder, e.g. --data text:corpus.txt")
    path = Path(source)
    files = text_files(path)
    if not files:
        raise DatasetError(f"text: the folder {path} holds no .txt files")
    parts = []
    for file in files:
        content = _read_utf8(file)
        if content.strip():
            parts.append(content.strip("\n"))
    if not parts:
        raise DatasetError(f"text: {path} is empty (no non-blank text in {len(files)} file(s))")
    return make_text_dataset("text", f"{len(files)} text file(s) from {path}", "\n\n".join(parts) + "\n", request)


def accepts_text(path: Path) -> bool:
    """A bare ``--data PATH`` is text when it is a ``.txt`` file or a folder holding ``.txt`` files."""
    if path.is_file():
        return path.suffix.lower() == ".txt"
    return path.is_dir() and next(path.rglob("*.txt"), None) is not None


@hookimpl
def register_datasets(register: Any) -> None:
    register(DatasetSpec(name="pydoc", kind="text", load=load_pydoc,
                         description="CPython's built-in documentation text (pydoc_data.topics), 10% held out"))
    register(DatasetSpec(name="text", kind="text", load=load_text, accepts=accepts_text,
                         description="a UTF-8 .txt file or a folder of .txt files (text:PATH), 10% held out"))
