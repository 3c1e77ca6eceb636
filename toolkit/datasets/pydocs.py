"""``python-docs``: the English prose of the full Python documentation, from its reStructuredText sources.

Why: a character model trained on ``pydoc`` alone (~465K characters) learns that one document;
the Python documentation's library reference, language reference, tutorial, HOWTOs, FAQs and
usage guides are ~8M characters of English written by many authors, available offline in
Debian's ``python3.X-doc`` package (``apt-get install python3.11-doc``: the Sphinx sources are in
``/usr/share/doc/python3.11/html/_sources``, one ``*.rst.txt`` per page).

The markup is turned into plain text (:func:`rst_to_text`) the way Sphinx's text builder renders
it — roles keep their text, directives become their signature or a "Note:"-style lead, labels,
index entries and heading underlines go — so the model spends its capacity on English and code,
not on reST syntax it would never meet elsewhere.

Held out: every tenth page in sorted order (about 10% of the characters, spread over every
section), so the held-out figure measures pages the model never saw, not just the corpus's tail.
``--data python-docs:DIR`` reads another ``_sources`` folder.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

from toolkit.errors import DatasetError
from toolkit.hookspecs import hookimpl
from toolkit.spec import DataRequest, Dataset, DatasetSpec

NAME = "python-docs"
#: Sections of the documentation that are English prose about Python (not the C API, the changelogs
#: of ``whatsnew`` or the deprecated distutils manuals).
SECTIONS = ("tutorial", "library", "reference", "howto", "faq", "using", "extending", "glossary.rst.txt")
#: Every HELD_OUT_EVERY-th page (sorted by path) is held out.
HELD_OUT_EVERY = 10

# Directives shown by their argument (an API signature), as the text builder prints them.
_SIGNATURE = {"function", "method", "class", "decorator", "decoratormethod", "data", "attribute", "exception",
              "describe", "opcode", "cmdoption", "option", "envvar", "classmethod", "staticmethod", "coroutinefunction",
              "coroutinemethod", "abstractmethod", "pdbcommand", "monitoring-event", "c:function", "c:macro",
              "c:type", "c:member", "c:var"}
# Directives that become a lead-in phrase.
_LEAD = {"note": "Note:", "warning": "Warning:", "seealso": "See also:", "important": "Important:",
         "tip": "Tip:", "caution": "Caution:", "attention": "Attention:", "hint": "Hint:",
         "versionadded": "New in version {}.", "versionchanged": "Changed in version {}:",
         "deprecated": "Deprecated since version {}:", "deprecated-removed": "Deprecated since version {}:",
         "impl-detail": "CPython implementation detail:", "admonition": "{}", "rubric": "{}", "topic": "{}"}
# Directives whose indented body is dropped with them (build machinery, not prose).
_DROP_BODY = {"toctree", "index", "testsetup", "testcleanup", "productionlist", "raw", "only", "tabularcolumns",
              "literalinclude", "include", "image", "figure", "csv-table", "audit-event-table", "availability",
              "audit-event", "highlight", "sectionauthor", "moduleauthor", "module", "currentmodule",
              "program", "c:namespace", "doctest-skip", "grammar-snippet", "limited-api-list", "miscnews",
              "autoclass", "autofunction", "automodule", "sidebar"}

_DIRECTIVE = re.compile(r"^(\s*)\.\. ([\w:-]+)::\s*(.*)$")
_COMMENT = re.compile(r"^(\s*)\.\.(\s|$)")
_UNDERLINE = re.compile(r"^\s*([=\-~^*#\"+`'_.:])\1{3,}\s*$")
_OPTION = re.compile(r"^\s+:[\w-]+:(\s.*)?$")
_ROLE = re.compile(r":[\w:.-]+:`([^`]*)`")
_LINK = re.compile(r"`([^`<]*?)\s*<[^>`]*>`__?")
_REF = re.compile(r"`([^`]+)`__?")
_LITERAL = re.compile(r"``([^`]+?)``")
_STRONG = re.compile(r"\*\*(\S(?:.*?\S)?)\*\*")
_TITLE_TARGET = re.compile(r"^(.*?)\s*<[^>]*>$", re.S)


def _role_text(match: re.Match[str]) -> str:
    role, text = match.group(0).split(":`", 1)[0].strip(":"), match.group(1)
    if role in ("pep", "rfc"):  # :pep:`8` reads "PEP 8", as Sphinx renders it
        return f"{role.upper()} {text}"
    titled = _TITLE_TARGET.match(text)
    if titled and titled.group(1):
        text = titled.group(1)
    return text.lstrip("~!")


def inline_to_text(line: str) -> str:
    """Inline markup -> its text: ``:func:`len``` -> ``len``, ```x```` -> ``x``, links -> their title."""
    line = _LITERAL.sub(r"\1", line)
    line = _ROLE.sub(_role_text, line)
    line = _LINK.sub(r"\1", line)
    line = _REF.sub(r"\1", line)
    return _STRONG.sub(r"\1", line)


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def rst_to_text(source: str) -> str:
    """reStructuredText of one documentation page -> plain text (see the module docstring)."""
    out: list[str] = []
    lines = source.replace("\t", "    ").splitlines()
    skip_deeper_than: int | None = None  # drop the indented body of a dropped directive/comment
    in_options = False
    for line in lines:
        stripped = line.strip()
        if skip_deeper_than is not None:
            if not stripped or _indent(line) > skip_deeper_than:
                continue
            skip_deeper_than = None
        if in_options and _OPTION.match(line):
            continue
        in_options = False
        directive = _DIRECTIVE.match(line)
        if directive:
            indent, name, argument = directive.groups()
            in_options = True
            if name in _SIGNATURE and argument:
                out.append(f"{indent}{argument}")
            elif name in _LEAD:
                lead = _LEAD[name]
                version, _, rest = argument.partition(" ")
                text = lead.format(version if "{}" in lead and name.startswith(("version", "deprecated"))
                                   else argument) if "{}" in lead else f"{lead} {argument}".rstrip()
                if rest and name.startswith(("version", "deprecated")):
                    text = f"{text} {rest}"
                out.append(f"{indent}{text}")
            elif name in ("code-block", "sourcecode", "code", "doctest", "testcode", "testoutput", "parsed-literal",
                          "productionlist-plain", "container", "table", "list-table", "centered", "hlist"):
                pass  # keep the body, drop the directive line
            else:
                skip_deeper_than = len(indent)
                in_options = False
            continue
        if _COMMENT.match(line):  # labels (.. _name:), comments, substitution definitions
            skip_deeper_than = _indent(line)
            continue
        if _UNDERLINE.match(line):
            continue
        if stripped == "::":
            continue
        if line.endswith("::"):
            line = line[:-1]
        out.append(line.rstrip())
    text = inline_to_text("\n".join(out))  # on the whole page: roles and literals may span lines
    return re.sub(r"\n{3,}", "\n\n", text).strip("\n") + "\n"


def default_sources() -> Path:
    """``/usr/share/doc/python3.X/html/_sources`` of the running Python, else of any python3.*-doc."""
    version = f"{sys.version_info[0]}.{sys.version_info[1]}"
    candidates = [Path(f"/usr/share/doc/python{version}/html/_sources"),
                  *sorted(Path("/usr/share/doc").glob("python3*/html/_sources"), reverse=True)]
    for path in candidates:
        if path.is_dir():
            return path
    raise DatasetError(f"{NAME}: no Python documentation sources found (looked for /usr/share/doc/python3.*/html/"
                       f"_sources); install them with `apt-get install python{version}-doc`, or give "
                       f"{NAME}:DIR (a Sphinx _sources folder)")


def page_files(root: Path) -> list[Path]:
    """The ``*.rst.txt`` (or ``*.rst``) pages of the chosen sections, sorted by path."""
    files: list[Path] = []
    for section in SECTIONS:
        path = root / section
        if path.is_file():
            files.append(path)
        elif path.is_dir():
            files.extend(p for p in path.rglob("*") if p.is_file() and p.name.endswith((".rst.txt", ".rst")))
    return sorted(files)


def load(source: str | None, request: DataRequest) -> Dataset:
    root = Path(source) if source else default_sources()
    if not root.is_dir():
        raise DatasetError(f"{NAME}: {root} is not a directory (expected a Sphinx _sources folder)")
    files = page_files(root)
    if len(files) < 2:
        raise DatasetError(f"{NAME}: {root} holds {len(files)} page(s) of the sections {', '.join(SECTIONS)}; "
                           f"need at least 2 (one to train on, one held out)")
    train_parts, test_parts = [], []
    for index, path in enumerate(files):
        try:
            text = rst_to_text(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as exc:
            raise DatasetError(f"{NAME}: cannot read {path} ({exc})") from None
        if text.strip():
            (test_parts if index % HELD_OUT_EVERY == HELD_OUT_EVERY - 1 else train_parts).append(text)
    if not train_parts or not test_parts:
        raise DatasetError(f"{NAME}: {root} has too little text for a training and a held-out part")
    train, test = "\n\n".join(train_parts), "\n\n".join(test_parts)
    if request.limit is not None:
        train, test = train[: max(request.limit, 2)], test[: max(request.limit // 5, 2)]
    info: dict[str, Any] = {"pages": len(files), "held_out_pages": len(test_parts), "sections": list(SECTIONS),
                            "split": f"every {HELD_OUT_EVERY}th page (sorted by path) held out",
                            "characters": len(train) + len(test)}
    return Dataset(name=NAME, kind="text", source=f"Python documentation sources in {root} (reST -> text)",
                   x_train=train, x_test=test, info=info)


@hookimpl
def register_datasets(register: Any) -> None:
    register(DatasetSpec(
        name=NAME, kind="text", load=load,
        description=("the Python documentation as plain text (tutorial, library and language reference, HOWTOs, "
                     "FAQs) from Debian's python3.X-doc sources; every 10th page held out; PSF licence"),
    ))
