"""Tasks as declared contracts: checked at export time, at manifest parse time, and brought by a
plugin's ``onnxkit.serving`` entry point (pipeline and tab) without any onnxkit edit."""

from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from tests.conftest import make_distribution, run_cli
from toolkit import runtime, tasks
from toolkit.errors import ExportError, ManifestError
from toolkit.export import export_model
from toolkit.fsutil import sha256_file
from toolkit.manifest import MANIFEST_NAME, SCHEMA, SCHEMA_VERSION
from toolkit.spec import ExportSpec, ModelSpec
from toolkit.tensors import TensorInfo

SERVING_PLUGIN = textwrap.dedent('''
    """A serving-side plugin: a task of its own, its pipeline and a demo tab (numpy only)."""
    import numpy as np

    from toolkit.hookspecs import hookimpl
    from toolkit.runtime.base import Pipeline
    from toolkit.tasks import FileContract, TaskSpec


    class Doubler(Pipeline):
        def double(self, x):
            return self.run("double", x=np.asarray(x, np.float32))["y"]


    def render(store, limits):
        import gradio as gr

        gr.Markdown("doubler tab: " + ", ".join(store.by_task("doubler")), elem_id="doubler-note")


    @hookimpl
    def register_tasks(register):
        register(TaskSpec("doubler", "onnxkit_doubler:Doubler", {"double": FileContract(("x",), ("y",))},
                          info=("factor",), description="x -> 2x"))


    @hookimpl
    def register_tabs(register):
        from apps.tabs import TabSpec

        register(TabSpec("Doubler", "doubler", ("doubler",), "onnxkit_doubler:render"))
''')


@pytest.fixture()
def serving_site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """The doubler plugin 'installed' through a real ``onnxkit.serving`` entry point."""
    site = make_distribution(tmp_path / "site", "onnxkit-doubler", {}, {"onnxkit_doubler": SERVING_PLUGIN},
                             serving={"doubler": "onnxkit_doubler"})
    monkeypatch.syspath_prepend(str(site))
    tasks.get_tasks(refresh=True)
    yield site
    sys.modules.pop("onnxkit_doubler", None)
    tasks._default = None


def write_doubler_export(root: Path, *, info: dict | None = None, output: str = "y") -> Path:
    """An export directory of task ``doubler`` written by hand: one ONNX file ``y = 2 x``."""
    root.mkdir(parents=True)
    graph = helper.make_graph(
        [helper.make_node("Mul", ["x", "two"], [output])], "double",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3])],
        [helper.make_tensor_value_info(output, TensorProto.FLOAT, ["N", 3])],
        [helper.make_tensor("two", TensorProto.FLOAT, [], [2.0])])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8), root / "double.onnx")
    tensor = {"shape": [None, 3], "dtype": "float32"}
    manifest = {
        "schema": SCHEMA, "schema_version": SCHEMA_VERSION, "name": root.name, "model": "doubler",
        "plugin": "doubler", "task": "doubler",
        "files": {"double": {"path": "double.onnx", "sha256": sha256_file(root / "double.onnx"),
                             "inputs": [{"name": "x", **tensor}], "outputs": [{"name": output, **tensor}]}},
        "info": {"factor": 2} if info is None else info,
    }
    (root / MANIFEST_NAME).write_text(json.dumps(manifest))
    return root


def test_builtin_tasks_register_through_the_hook():
    registry = tasks.get_tasks()
    assert {"image-generator", "conditional-generator", "autoencoder", "vae", "classifier", "text-generator",
            "face-detector", "face-embedder", "generic"} <= set(registry.tasks)
    assert {t.plugin for t in registry.tasks.values() if t.name == "vae"} == {"onnxkit-core:toolkit.runtime.tasks"}
    assert registry.task("vae").pipeline_class().__name__ == "AutoEncoder"


def test_contract_names_each_missing_file_tensor_and_info_key():
    spec = tasks.get_tasks().task("vae")
    files = {"encoder": (["image"], ["mu"])}
    assert spec.problems(files, {"latent_dim": 2}) == [
        "output 'logvar' of file 'encoder'", "file 'decoder'", "info key 'image_shape'"]
    complete = {"encoder": (["image"], ["mu", "logvar"]), "decoder": (["z"], ["image"])}
    assert spec.problems(complete, {"latent_dim": 2, "image_shape": [28, 28, 1]}) == []


class _BadClassifier(ModelSpec):
    """Declares a classifier export without the ``features`` output the Classifier pipeline reads."""

    name = "bad-classifier"
    task = "classifier"
    description = "test"
    config_class = dict

    def exports(self, model, config, data_info):
        def never_called(x):
            raise AssertionError("the contract is checked before anything is traced")

        return [ExportSpec("classifier", never_called, [TensorInfo("image", (None, 28, 28, 1))],
                           [TensorInfo("probabilities", (None, 10))])]

    def export_info(self, model, config, data_info):
        return {"labels": list("0123456789"), "image_shape": [28, 28, 1]}


def test_export_checks_the_task_contract_before_converting(tmp_path: Path):
    out = tmp_path / "exported" / "bad"
    with pytest.raises(ExportError, match=r"model 'bad-classifier': task 'classifier' needs "
                                          r"output 'features' of file 'classifier', info key 'feature_dim'"):
        export_model(_BadClassifier(), None, {}, {}, out, name="bad")
    assert not out.exists() and not list((tmp_path / "exported").glob("*"))


def test_third_party_task_loads_its_own_pipeline(serving_site, tmp_path: Path):
    export = write_doubler_export(tmp_path / "doubler")
    pipeline = runtime.load(export, expect="doubler")
    assert type(pipeline).__name__ == "Doubler"
    np.testing.assert_array_equal(pipeline.double([[1, 2, 3]]), [[2, 4, 6]])


def test_third_party_task_contract_is_checked_at_load(serving_site, tmp_path: Path):
    with pytest.raises(ManifestError, match=r"task 'doubler' needs output 'y' of file 'double', info key 'factor'"):
        runtime.load(write_doubler_export(tmp_path / "bad", info={}, output="z"))


def test_without_the_plugin_the_export_opens_as_generic(tmp_path: Path):
    export = write_doubler_export(tmp_path / "doubler")
    with pytest.warns(UserWarning, match="task 'doubler' is not registered"):
        pipeline = runtime.load(export)
    assert type(pipeline) is runtime.GenericPipeline
    np.testing.assert_array_equal(pipeline.run("double", x=np.ones((1, 3), np.float32))["y"], [[2, 2, 2]])


def test_plugin_tab_joins_the_combined_app(serving_site, tmp_path: Path):
    from apps import app
    from apps.models import ModelStore
    from apps.tabs import get_tabs

    write_doubler_export(tmp_path / "exports" / "doubler-x")
    tabs = {t.name: t for t in get_tabs()}
    assert list(tabs)[:5] == ["generate", "latent", "classify", "write", "faces"] and "doubler" in tabs
    store = ModelStore(tmp_path / "exports", parallel=False)
    assert tabs["doubler"].available(store) and not tabs["classify"].available(store)
    demo = app.build(store, hide_unavailable=True)
    config = json.dumps(demo.config)
    assert "doubler tab: doubler-x" in config and "Classify" not in config


COMMAND_PLUGIN = textwrap.dedent('''
    from toolkit.hookspecs import hookimpl


    def add(subparsers):
        p = subparsers.add_parser("double", help="print twice a number")
        p.add_argument("value", type=float)
        p.set_defaults(func=lambda args: print(2 * args.value))


    @hookimpl
    def register_commands(register):
        register(add)
''')


def test_plugin_command_comes_through_the_hook(tmp_path: Path):
    site = make_distribution(tmp_path / "site", "onnxkit-double-cmd", {"double-cmd": "onnxkit_double_cmd"},
                             {"onnxkit_double_cmd": COMMAND_PLUGIN})
    result = run_cli("double", "21", site=site)
    assert result.returncode == 0 and result.stdout.strip() == "42.0", result.stderr
    listing = run_cli("plugins", site=site)
    assert "double-cmd 0.1.0  (onnxkit_double_cmd)\n  commands: 1" in listing.stdout
