"""The architecture's boundaries, checked for real."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT

HEAVY = ("tensorflow", "keras", "tf2onnx", "ray")


def _imported_heavy_modules(code: str) -> list[str]:
    probe = code + "\nimport sys\nprint(sorted(m for m in sys.modules if m.split('.')[0] in %r))" % (HEAVY,)
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert result.returncode == 0, result.stderr
    return eval(result.stdout.strip().splitlines()[-1])


def test_serving_side_never_imports_tensorflow():
    code = "import toolkit.runtime\nfrom toolkit.tasks import get_tasks\n"
    code += "[t.pipeline_class() for t in get_tasks().tasks.values()]\n"
    code += "import pkgutil, importlib\nimport toolkit.runtime as r\n"
    code += "[importlib.import_module(m.name) for m in pkgutil.walk_packages(r.__path__, 'toolkit.runtime.')]\n"
    if (ROOT / "apps" / "__init__.py").exists():
        code += "import apps\n[importlib.import_module(m.name) for m in pkgutil.walk_packages(apps.__path__, 'apps.') if m.name != 'apps.__main__']\n"
    assert _imported_heavy_modules(code) == []


def test_listing_models_does_not_import_tensorflow():
    assert _imported_heavy_modules("from toolkit.registry import get_registry\nget_registry()") == []


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_plugins_never_import_each_other():
    plugin_dirs = [p for p in (ROOT / "plugins").iterdir() if p.is_dir() and (p / "__init__.py").exists()]
    for plugin in plugin_dirs:
        for source in plugin.rglob("*.py"):
            for name in _imports(source):
                parts = name.split(".")
                if parts[0] == "plugins" and len(parts) > 1:
                    assert parts[1] == plugin.name, f"{source} imports another plugin: {name}"


def test_core_never_names_a_plugin():
    plugin_names = {p.name for p in (ROOT / "plugins").iterdir() if (p / "__init__.py").exists()}
    for source in (ROOT / "toolkit").rglob("*.py"):
        for name in _imports(source):
            assert not name.startswith("plugins"), f"{source} imports {name}"
    assert plugin_names is not None
