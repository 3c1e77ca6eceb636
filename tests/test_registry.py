"""Plugin discovery: built-in and external plugins through entry points, broken ones, duplicates."""

from __future__ import annotations

import tomllib

import pytest

from tests.conftest import ROOT, TOY_MODULE, make_distribution, run_cli
from toolkit.errors import DatasetError, PluginError, UnknownNameError
from toolkit.registry import CORE_PLUGIN


def test_builtin_entry_points_are_discovered_and_load(on_path):
    registry = on_path()
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["entry-points"]["onnxkit"]
    for name, target in declared.items():
        assert name in registry.plugins, f"built-in plugin {name} ({target}) not discovered"
        assert registry.plugins[name].error is None, registry.plugins[name].error
        assert registry.plugins[name].module == target
    assert registry.plugins[CORE_PLUGIN].error is None


def test_external_plugin_is_found_through_its_entry_point(on_path, toy_site):
    registry = on_path(toy_site)
    info = registry.plugins["toy"]
    assert info.error is None
    assert info.distribution == "onnxkit-toy" and info.version == "0.1.0"
    assert info.models == ["toy-dense"] and info.datasets == ["toy-blobs"]
    assert registry.model("toy-dense").plugin == "toy"


def test_plugins_and_models_commands_list_the_external_plugin(toy_site):
    plugins = run_cli("plugins", site=toy_site)
    assert plugins.returncode == 0, plugins.stderr
    assert "toy 0.1.0  (onnxkit_toy)" in plugins.stdout
    assert "models:   toy-dense" in plugins.stdout
    models = run_cli("models", site=toy_site)
    assert "toy-dense" in models.stdout and "generic" in models.stdout
    detail = run_cli("models", "toy-dense", site=toy_site)
    assert "hidden = 8" in detail.stdout and "hidden units" in detail.stdout


def test_broken_plugin_is_reported_and_skipped(on_path, toy_site, tmp_path):
    broken = make_distribution(tmp_path / "broken", "onnxkit-broken", {"broken": "broken_plugin"},
                               {"broken_plugin": "import not_a_real_module_xyz\n"})
    registry = on_path(toy_site, broken)
    assert "ModuleNotFoundError" in registry.plugins["broken"].error
    assert "not_a_real_module_xyz" in registry.plugins["broken"].error
    assert "toy-dense" in registry.models  # the others still work
    listing = run_cli("plugins", site=broken)
    assert listing.returncode == 0
    assert "FAILED TO LOAD, skipped: ModuleNotFoundError" in listing.stdout


def test_duplicate_model_name_is_an_error_naming_both_plugins(on_path, toy_site, tmp_path):
    source = TOY_MODULE.read_text().replace('name="toy-blobs"', 'name="toy-blobs-2"')
    dup = make_distribution(tmp_path / "dup", "onnxkit-dup", {"zz-dup": "dup_plugin"}, {"dup_plugin": source})
    with pytest.raises(PluginError, match="'toy-dense' is registered by two plugins: 'toy' and 'zz-dup'"):
        on_path(toy_site, dup)


def test_unknown_names_list_what_exists(toy_registry):
    with pytest.raises(UnknownNameError, match="unknown model 'nope'; known models: .*toy-dense"):
        toy_registry.model("nope")
    with pytest.raises(UnknownNameError, match="neither a known dataset"):
        toy_registry.resolve_data("no-such-data", "vectors")


def test_data_argument_forms(toy_registry, tmp_path):
    spec, source = toy_registry.resolve_data("toy-blobs:40", "vectors")
    assert spec.name == "toy-blobs" and source == "40"
    spec, source = toy_registry.resolve_data("toy-blobs", "vectors")
    assert source is None
    with pytest.raises(DatasetError, match="no dataset loader recognises"):
        toy_registry.resolve_data(str(tmp_path), "vectors")


def test_every_core_hook_module_is_registered():
    """The core's hook modules are listed once (no package scan): a new one left off the list would
    silently register nothing, so this names it."""
    import toolkit.cli.commands as commands
    from toolkit.registry import CORE_MODULES

    for source in sorted((ROOT / "toolkit" / "datasets").glob("*.py")):
        if "@hookimpl" in source.read_text():
            assert f"toolkit.datasets.{source.stem}" in CORE_MODULES, f"{source} is not in registry.CORE_MODULES"
    listed = {m.__name__.rsplit(".", 1)[-1] for m in commands.BUILTIN}
    for source in sorted((ROOT / "toolkit" / "cli" / "commands").glob("*.py")):
        if "\ndef register(" in source.read_text():
            assert source.stem in listed, f"{source} is not in toolkit.cli.commands.BUILTIN"
