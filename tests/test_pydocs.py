"""The ``python-docs`` corpus: reST -> text, the page-level held-out split, and clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from toolkit.datasets import pydocs
from toolkit.errors import DatasetError
from toolkit.registry import get_registry
from toolkit.spec import DataRequest

PAGE = """\
.. _tut-functools:

:mod:`functools` --- Higher-order functions
===========================================

.. module:: functools
   :synopsis: Higher-order functions.

.. index::
   single: cache

**Source code:** :source:`Lib/functools.py`

The :mod:`functools` module is for ``callable`` objects; see :func:`~functools.wraps`,
`the FAQ <https://docs.python.org/faq>`_ and :pep:`8`.

.. function:: cache(user_function)

   Simple lightweight cache.  For example::

      >>> cache(len)

   .. versionadded:: 3.9

   .. note::
      It is thread-safe.

.. testsetup::

   import functools

Closing paragraph.
"""


def test_rst_to_text_keeps_prose_and_signatures() -> None:
    text = pydocs.rst_to_text(PAGE)
    assert text.startswith("functools --- Higher-order functions\n")
    assert "The functools module is for callable objects; see functools.wraps,\nthe FAQ and PEP 8." in text
    assert "Source code: Lib/functools.py" in text
    assert "\ncache(user_function)\n" in text and "For example:\n" in text and "      >>> cache(len)" in text
    assert "New in version 3.9." in text and "Note:" in text and "It is thread-safe." in text
    assert text.rstrip().endswith("Closing paragraph.")
    for markup in ("..", "===", ":mod:", "``", "synopsis", "single: cache", "import functools", "_tut"):
        assert markup not in text, markup


def write_docs(root: Path, pages: int) -> Path:
    for i in range(pages):
        section = "library" if i % 2 else "tutorial"
        (root / section).mkdir(parents=True, exist_ok=True)
        (root / section / f"page{i:02d}.rst.txt").write_text(f"Page {i}\n=======\n\nText of :func:`page{i}`.\n")
    (root / "whatsnew").mkdir()
    (root / "whatsnew" / "3.11.rst.txt").write_text("Changelog, not part of the corpus.\n")
    return root


def test_every_tenth_page_is_held_out(tmp_path: Path) -> None:
    root = write_docs(tmp_path / "_sources", 20)
    data = get_registry().dataset("python-docs").load(str(root), DataRequest())
    assert data.kind == "text" and data.info["pages"] == 20 and data.info["held_out_pages"] == 2
    held = [f"{f.parent.name}/{f.name}" for f in pydocs.page_files(root)][9::10]
    assert held == ["library/page19.rst.txt", "tutorial/page18.rst.txt"]  # sorted by path: 10th and 20th
    assert "Text of page18." in data.x_test and "Text of page18." not in data.x_train
    assert "Text of page0." in data.x_train and "Changelog" not in data.x_train + data.x_test
    small = get_registry().dataset("python-docs").load(str(root), DataRequest(limit=20))
    assert len(small.x_train) == 20


def test_missing_or_empty_sources_are_clear_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(DatasetError, match="is not a directory"):
        pydocs.load(str(tmp_path / "nowhere"), DataRequest())
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="holds 0 page"):
        pydocs.load(str(tmp_path / "empty"), DataRequest())
    monkeypatch.setattr(Path, "is_dir", lambda self: False)
    with pytest.raises(DatasetError, match=r"apt-get install python3\.\d+-doc"):
        pydocs.default_sources()


@pytest.mark.skipif(not Path("/usr/share/doc/python3.11/html/_sources/library").is_dir(),
                    reason="Debian's python3.11-doc is not installed")
def test_real_python_docs() -> None:
    data = pydocs.load(None, DataRequest())
    assert len(data.x_train) > 5_000_000 and len(data.x_test) > 400_000
    assert "The functools module is for higher-order functions" in data.x_train + data.x_test
    assert ":func:`" not in data.x_train
