"""Text corpora: the built-in pydoc corpus, text files and folders, and their errors (no TensorFlow)."""

from __future__ import annotations

from pathlib import Path

import pytest

from toolkit.datasets.text import load_pydoc, load_text, pydoc_text, split_text
from toolkit.errors import DatasetError
from toolkit.registry import Registry
from toolkit.spec import DataRequest


def test_pydoc_holds_out_the_tail_of_the_corpus() -> None:
    data = load_pydoc(None, DataRequest())
    text = pydoc_text()
    assert data.kind == "text"
    assert data.x_train + data.x_test == text
    assert 0.08 < len(data.x_test) / len(text) < 0.12
    assert data.x_train.endswith("\n")  # cut at a line break
    assert "assert" in data.x_train


def test_pydoc_limit_keeps_a_prefix() -> None:
    data = load_pydoc(None, DataRequest(limit=1000))
    assert len(data.x_train) == 1000 and len(data.x_test) == 200
    assert pydoc_text().startswith(data.x_train)


def test_pydoc_takes_no_path() -> None:
    with pytest.raises(DatasetError, match="takes no path"):
        load_pydoc("some/file.txt", DataRequest())


def test_split_text_is_exhaustive() -> None:
    text = "".join(f"line {i}\n" for i in range(100))
    train, test = split_text(text)
    assert train + test == text and test.startswith("line ")


def test_text_file_and_folder(tmp_path: Path) -> None:
    file = tmp_path / "one.txt"
    file.write_text("hello world\n" * 50, encoding="utf-8")
    data = load_text(str(file), DataRequest())
    assert data.x_train + data.x_test == "hello world\n" * 50

    folder = tmp_path / "corpus"
    (folder / "sub").mkdir(parents=True)
    (folder / "b.txt").write_text("bbb\n" * 20)
    (folder / "sub" / "a.txt").write_text("aaa\n" * 20)
    (folder / "ignored.md").write_text("not text data")
    data = load_text(str(folder), DataRequest())
    whole = data.x_train + data.x_test
    assert "not text data" not in whole
    assert whole.index("bbb") < whole.index("aaa")  # sorted by path: b.txt before sub/a.txt
    assert "1 text file(s)" in load_text(str(file), DataRequest()).source


def test_bare_path_resolves_to_the_text_loader(tmp_path: Path) -> None:
    registry = Registry()
    registry.load_core()
    file = tmp_path / "book.txt"
    file.write_text("abc\n" * 100)
    spec, source = registry.resolve_data(str(file), "text")
    assert spec.name == "text" and source == str(file)
    spec, source = registry.resolve_data(f"text:{file}", "text")
    assert spec.name == "text" and source == str(file)
    spec, source = registry.resolve_data("pydoc", "text")
    assert spec.name == "pydoc" and source is None


@pytest.mark.parametrize("content, message", [
    (b"", "is empty"),
    (b"   \n\n  ", "is empty"),
    (b"caf\xe9 latin-1\n", "not UTF-8"),
    (b"abc\x00def\n", "NUL"),
])
def test_bad_text_files_are_dataset_errors(tmp_path: Path, content: bytes, message: str) -> None:
    file = tmp_path / "bad.txt"
    file.write_bytes(content)
    with pytest.raises(DatasetError, match=message) as info:
        load_text(str(file), DataRequest())
    if message not in ("is empty",):
        assert "bad.txt" in str(info.value)


def test_missing_or_empty_folder(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="does not exist"):
        load_text(str(tmp_path / "nope"), DataRequest())
    with pytest.raises(DatasetError, match="no .txt files"):
        load_text(str(tmp_path), DataRequest())
    with pytest.raises(DatasetError, match="give a file or folder"):
        load_text(None, DataRequest())
    (tmp_path / "x.txt").write_text("a")
    with pytest.raises(DatasetError, match="too short"):
        load_text(str(tmp_path / "x.txt"), DataRequest())
