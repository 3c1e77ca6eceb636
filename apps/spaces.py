"""``onnxkit space build``: write a ready-to-push Hugging Face Space for some exports.

A Space directory holds ``app.py`` (the combined demo, tabs limited to what was shipped),
``README.md`` (the YAML front-matter Spaces reads: ``sdk: gradio``, ``app_file``, the pinned
``sdk_version``), ``requirements.txt`` (serving dependencies only) and ``exported/`` (the export
directories, hashes checked before and after the copy).

The onnxkit serving code is *vendored* (copied into the Space) rather than pip-installed: onnxkit
is not on PyPI, and ``pip install onnxkit`` from git would drag the ``train`` extra's ideas of
versions into the Space build. The copy is the import closure of ``apps`` and
``toolkit.runtime`` inside ``toolkit`` — computed from the source, so new runtime modules are
picked up — which by the package's own rule never imports TensorFlow, Keras or tf2onnx.
"""

from __future__ import annotations

import ast
import os
import shutil
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path

import toolkit
from toolkit.errors import InputError, OnnxkitError
from toolkit.fsutil import atomic_directory, atomic_write_text
from toolkit.manifest import MANIFEST_NAME, read_manifest

ROOT = Path(toolkit.__file__).resolve().parent.parent
APPS = ROOT / "apps"
#: Modules of ``apps`` a Space does not need (building Spaces is a developer's job).
APPS_EXCLUDED = {"spaces"}
#: Where the Space keeps a demo gallery (a name ``apps.models`` looks for).
GALLERY_FILE, GALLERY_DIR = "face-gallery.npz", "face-gallery"
FORBIDDEN = ("tensorflow", "keras", "tf2onnx")


# -- what to vendor ------------------------------------------------------------------------------
def _module_file(module: str) -> Path | None:
    base = ROOT.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _imports(path: Path) -> set[str]:
    """Every module ``path`` imports, at top level or inside functions (absolute imports)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)  # submodule imports
    return found


def serving_modules() -> list[Path]:
    """Source files of the import closure of ``apps`` and all of ``toolkit.runtime``."""
    start = [p for p in APPS.glob("*.py") if p.stem not in APPS_EXCLUDED]
    start += sorted((ROOT / "toolkit" / "runtime").rglob("*.py"))
    seen: set[Path] = set()
    todo = list(start)
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        imported = _imports(path)
        bad = sorted({m.split(".")[0] for m in imported} & set(FORBIDDEN))
        if bad:
            raise OnnxkitError(f"{path.relative_to(ROOT)} imports {', '.join(bad)}: it cannot go into a Space")
        for module in imported:
            parts = module.split(".")
            if parts[0] not in ("toolkit", "apps"):
                continue
            if parts[0] == "apps" and len(parts) > 1 and parts[1] in APPS_EXCLUDED:
                continue
            for i in range(1, len(parts) + 1):  # the module and every package above it
                found = _module_file(".".join(parts[:i]))
                if found is not None and found not in seen:
                    todo.append(found)
    return sorted(seen)


# -- what to ship -------------------------------------------------------------------------------
def _classify_sources(exports: Sequence[str | os.PathLike[str]]) -> tuple[list[Path], Path | None]:
    """Split the arguments into export directories (manifests verified) and at most one gallery."""
    if not exports:
        raise InputError("give at least one export directory")
    dirs: list[Path] = []
    gallery: Path | None = None
    names: dict[str, Path] = {}
    for item in map(Path, exports):
        if not item.exists():
            raise InputError(f"{item}: no such file or directory")
        if (item / MANIFEST_NAME).is_file():
            read_manifest(item, verify_hashes=True)
            if item.name in names:
                raise InputError(f"two exports are named {item.name!r}: {names[item.name]} and {item}")
            names[item.name] = item
            dirs.append(item)
            continue
        if gallery is not None:
            raise InputError(f"{item}: not an export (no {MANIFEST_NAME}); a face gallery ({gallery}) was already given")
        _check_gallery(item)
        gallery = item
    if not dirs:
        raise InputError("a Space needs at least one export directory (with a manifest.json)")
    return dirs, gallery


def _check_gallery(path: Path) -> None:
    try:
        from toolkit.runtime.faces.gallery import Gallery
    except ImportError:
        raise InputError(f"{path}: not an export directory (no {MANIFEST_NAME})") from None
    try:
        Gallery.load(path)
    except OnnxkitError as exc:
        raise InputError(f"{path}: neither an export directory (no {MANIFEST_NAME}) nor a face gallery ({exc})") from None


def _installed(*names: str) -> str:
    for name in names:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    raise InputError(f"{names[0]} is not installed here: cannot pin its version for the Space")


def _versions(gpu: bool) -> dict[str, str]:
    """Pins for requirements.txt: the versions this checkout runs and tests with (read from the
    installed distributions' metadata, without importing them)."""
    return {
        "gradio": _installed("gradio"),  # also the Space's sdk_version
        "onnxruntime-gpu" if gpu else "onnxruntime": _installed("onnxruntime", "onnxruntime-gpu"),
        "numpy": _installed("numpy"),
        "pillow": _installed("pillow", "Pillow"),
        "pluggy": _installed("pluggy"),
    }


REQUIREMENTS_HEAD = """\
# Serving dependencies only (written by `onnxkit space build`): no TensorFlow, Keras or tf2onnx.
# The onnxkit runtime itself is vendored next to app.py (toolkit/, apps/).
# onnxruntime is the CPU build: free Spaces have no GPU, and the CPU wheel is a fraction of the
# size of onnxruntime-gpu (which would fall back to the CPU anyway). Use --gpu for GPU hardware.
"""

APP_PY = '''\
"""Hugging Face Space entry point, written by `onnxkit space build` (onnxkit {version}).

Runs the onnxkit demo on the exports in ./exported with onnxruntime only. Locally:
    pip install -r requirements.txt && python app.py
"""

import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))  # the vendored toolkit/ and apps/ win over anything installed
os.environ.setdefault("ONNXKIT_EXPORTED", str(HERE / "exported"))
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

from apps.app import build  # noqa: E402
from apps.models import ModelStore  # noqa: E402
from apps.serve import DEFAULT_CONCURRENCY, batch_policy, launch, queue  # noqa: E402

TITLE = {title!r}
batching = batch_policy(int(os.environ.get("ONNXKIT_BATCH_SIZE", "32")))
store = ModelStore(os.environ["ONNXKIT_EXPORTED"], batching=batching)
print(store.summary(), flush=True)
demo = queue(build(store, hide_unavailable=True, title=TITLE),
             concurrency=int(os.environ.get("ONNXKIT_CONCURRENCY", DEFAULT_CONCURRENCY)),
             queue_size=int(os.environ.get("ONNXKIT_QUEUE_SIZE", "64")))

if __name__ == "__main__":
    # Spaces set GRADIO_SERVER_NAME/PORT; elsewhere Gradio's default (127.0.0.1:7860) applies.
    launch(demo, host=os.environ.get("GRADIO_SERVER_NAME"),
           port=int(os.environ["GRADIO_SERVER_PORT"]) if "GRADIO_SERVER_PORT" in os.environ else None)
'''

GITATTRIBUTES = """\
*.onnx filter=lfs diff=lfs merge=lfs -text
*.npz filter=lfs diff=lfs merge=lfs -text
*.npy filter=lfs diff=lfs merge=lfs -text
*.png filter=lfs diff=lfs merge=lfs -text
"""


def _index_requirement(gallery: Path | None) -> str:
    """faiss-cpu only where a shipped gallery is big enough to be searched through its index
    (toolkit.runtime.faces.gallery imports faiss lazily, above ``exact_limit`` vectors); the demo's
    enrolment limits keep a session's gallery far below that, so small Spaces skip a 30 MB wheel."""
    if gallery is None:
        return ""
    from toolkit.runtime.faces.gallery import Gallery

    loaded = Gallery.load(gallery)
    if len(loaded) <= loaded.exact_limit:
        return ""
    return f"# the gallery holds {len(loaded):,} vectors: searched through a faiss IVF index\nfaiss-cpu>=1.8\n"


def _readme(title: str, versions: dict[str, str], manifests: list, gallery: Path | None) -> str:
    lines = [
        "---",
        f"title: {title}",
        "emoji: 🧪",
        "colorFrom: indigo",
        "colorTo: blue",
        "sdk: gradio",
        f"sdk_version: {versions['gradio']}",
        'python_version: "3.11"',
        "app_file: app.py",
        "pinned: false",
        "license: mit",
        "short_description: Small Keras models served with onnxruntime",
        "---",
        "",
        f"# {title}",
        "",
        "Models trained with Keras, exported to ONNX by onnxkit and served here by",
        "onnxruntime alone — this Space installs no TensorFlow. Built with `onnxkit space build`.",
        "",
        "| export | task | description |",
        "|---|---|---|",
    ]
    for manifest in manifests:
        description = (manifest.description or "").replace("|", "\\|").replace("\n", " ")
        lines.append(f"| `{manifest.name}` | {manifest.task} | {description} |")
    if gallery is not None:
        lines.append(f"| `{gallery.name}` | face gallery | demo people for Face match |")
    lines += ["", "Run it locally: `pip install -r requirements.txt && python app.py`.", ""]
    return "\n".join(lines)


def build_space(exports: Sequence[str | os.PathLike[str]], out: str | os.PathLike[str], *,
                title: str = "onnxkit demo", overwrite: bool = False, gpu: bool = False) -> Path:
    """Write a Space for ``exports`` (export dirs, optionally one face gallery) into ``out``,
    atomically: on any error nothing is left at ``out`` (or the old Space stays untouched)."""
    out = Path(out)
    if out.exists() and not overwrite:
        raise InputError(f"{out} already exists (use --overwrite to replace it)")
    if not title.strip() or "\n" in title:
        raise InputError("the title must be one non-empty line")
    dirs, gallery = _classify_sources(exports)
    versions = _versions(gpu)
    files = serving_modules()
    with atomic_directory(out, overwrite=overwrite) as tmp:
        for source in files:
            target = tmp / source.relative_to(ROOT)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
        manifests = []
        for source in dirs:
            target = tmp / "exported" / source.name
            shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__", "*.tmp"))
            manifests.append(read_manifest(target, verify_hashes=True))  # the copy is whole
        if gallery is not None:
            if gallery.is_dir():
                shutil.copytree(gallery, tmp / "exported" / GALLERY_DIR)
            else:
                shutil.copy2(gallery, tmp / "exported" / GALLERY_FILE)
        atomic_write_text(tmp / "app.py", APP_PY.format(version=toolkit.__version__, title=title))
        atomic_write_text(tmp / "README.md", _readme(title, versions, manifests, gallery))
        atomic_write_text(tmp / "requirements.txt", REQUIREMENTS_HEAD
                          + "".join(f"{k}=={v}\n" for k, v in versions.items()) + _index_requirement(gallery))
        atomic_write_text(tmp / ".gitattributes", GITATTRIBUTES)
    return out
