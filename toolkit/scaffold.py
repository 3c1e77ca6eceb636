"""``onnxkit new-plugin NAME [--new-task]``: write a pip-installable plugin package that passes its own tests.

The skeleton is a complete, small model (a dense regressor on a synthetic dataset the plugin
registers itself), so a new author starts from something that trains, exports and serves, and
replaces the parts they need. With ``--new-task`` it also brings its own task (the contract its
exports must meet), the pipeline that serves it, a CLI command and a demo tab: every extension
point, in one package, without an edit to onnxkit.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from string import Template

from toolkit.errors import ConfigError
from toolkit.fsutil import atomic_directory

PYPROJECT = Template('''\
[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = "$dist"
version = "0.1.0"
description = "An onnxkit plugin: $name"
requires-python = ">=3.11"
dependencies = ["onnxkit"]

# This line is what makes onnxkit find the plugin: no edit to onnxkit itself.
[project.entry-points.onnxkit]
$name = "$module.plugin"
$serving_entry_point
[tool.setuptools]
packages = ["$module"]
''')

PLUGIN = Template('''\
"""The $name plugin for onnxkit: a model spec and the dataset it trains on."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from toolkit.config import TrainingConfig
from toolkit.errors import DatasetError
from toolkit.hookspecs import hookimpl
from toolkit.spec import DataRequest, Dataset, DatasetSpec, ExportSpec, FitData, ModelSpec
from toolkit.tensors import TensorInfo

FEATURES = 8


def load_points(source: str | None, request: DataRequest) -> Dataset:
    """Synthetic regression data: y = sin(x . w). Replace with your own loader."""
    n = int(source) if source else 512
    if n < 2:
        raise DatasetError("$name-points: need at least 2 points")
    rng = np.random.default_rng(request.seed)
    x = rng.uniform(-1, 1, size=(n, FEATURES)).astype("float32")
    y = np.sin(x @ np.linspace(-1, 1, FEATURES)).astype("float32")[:, None]
    split = n // 5 or 1
    return Dataset(name="$name-points", kind="vectors", source="synthetic", x_train=x[split:],
                   y_train=y[split:], x_test=x[:split], y_test=y[:split])


@dataclass
class Config(TrainingConfig):
    """Epochs, batch size, learning rate, limit and seed come from TrainingConfig; change defaults here."""

    hidden: int = field(default=16, metadata={"help": "hidden units", "min": 1})
    learning_rate: float = field(default=0.01, metadata={"min": 0.0})
    epochs: int = 3


class Model(ModelSpec):
    name = "$name"
    task = "$task"
    description = "A dense regressor (edit me)."
    config_class = Config
    data_kind = "vectors"
    default_data = "$name-points"

    def build(self, config: Config, data_info: dict[str, Any]) -> Any:
        import keras

        inputs = keras.Input((FEATURES,), name="x")
        hidden = keras.layers.Dense(config.hidden, activation="tanh")(inputs)
        model = keras.Model(inputs, keras.layers.Dense(1)(hidden))
        model.compile(optimizer=keras.optimizers.Adam(config.learning_rate), loss="mse")
        return model

    def fit_data(self, config: Config, data: Dataset | None, data_info: dict[str, Any]) -> FitData:
        assert data is not None
        return FitData(x=data.x_train, y=data.y_train, batch_size=config.batch_size)

    def evaluate(self, model: Any, config: Config, data: Dataset | None, data_info: dict[str, Any]) -> dict[str, Any]:
        assert data is not None
        return {"test_mse": float(model.evaluate(data.x_test, data.y_test, verbose=0))}

    def exports(self, model: Any, config: Config, data_info: dict[str, Any]) -> list[ExportSpec]:
        return [ExportSpec(
            name="model",
            function=lambda x: model(x, training=False),
            inputs=[TensorInfo("x", (None, FEATURES), value_range=(-1.0, 1.0), meaning="a point")],
            outputs=[TensorInfo("y", (None, 1), meaning="the prediction")],
            description="x -> y",
        )]
$export_info

@hookimpl
def register_models(register: Any) -> None:
    register(Model())


@hookimpl
def register_datasets(register: Any) -> None:
    register(DatasetSpec(name="$name-points", kind="vectors", description="synthetic points", load=load_points))
$commands''')

EXPORT_INFO = '''
    def export_info(self, model: Any, config: Config, data_info: dict[str, Any]) -> dict[str, Any]:
        # What the task's contract requires in the manifest (see serving.py): checked at export.
        return {"features": FEATURES}
'''

COMMANDS = Template('''

def add_command(subparsers: Any) -> None:
    """``onnxkit $name EXPORT_DIR X1 ... X$features``: the prediction for one point."""
    p = subparsers.add_parser("$name", help="predict y for one point with a $name export")
    p.add_argument("export_dir")
    p.add_argument("x", nargs=FEATURES, type=float, metavar="X", help=f"{FEATURES} numbers in [-1, 1]")
    p.set_defaults(func=predict_command)


def predict_command(args: Any) -> int:
    from toolkit import runtime

    pipeline = runtime.load(args.export_dir, expect="$name")
    print(f"{float(pipeline.predict([args.x])[0]):.6f}")
    return 0


@hookimpl
def register_commands(register: Any) -> None:
    register(add_command)
''')

SERVING = Template('''\
"""The serving side of the $name plugin: its task, the pipeline that serves it, its demo tab.

Announced in the ``onnxkit.serving`` entry-point group: onnxkit's runtime and apps load it where
only numpy and onnxruntime are installed (a Space), so it imports neither Keras nor plugin.py.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from toolkit.errors import InputError
from toolkit.hookspecs import hookimpl
from toolkit.runtime.base import Pipeline
from toolkit.tasks import FileContract, TaskSpec

TASK = TaskSpec(
    "$name",
    "$module.serving:Predictor",
    files={"model": FileContract(inputs=("x",), outputs=("y",))},
    info=("features",),
    description="points [N, features] -> predictions [N]",
)


class Predictor(Pipeline):
    """Exports of task $name: ``predict(points) -> float32 [N]``."""

    @property
    def features(self) -> int:
        return int(self.info["features"])

    def predict(self, points: Any) -> np.ndarray:
        x = np.asarray(points, dtype=np.float32)
        if x.ndim != 2 or x.shape[1] != self.features:
            raise InputError(f"points must have shape [N, {self.features}], got {x.shape}")
        return self.run("model", x=x)["y"][:, 0]


def render(store: Any, limits: Any) -> None:
    """The demo tab (Gradio is imported here, when the demo is built)."""
    import gradio as gr

    exports = list(store.by_task("$name"))
    if not exports:
        gr.Markdown(store.missing("$title", ("$name",)))
        return
    model = gr.Dropdown(exports, value=exports[0], label="Model")
    point = gr.Textbox(value=", ".join(["0.5"] * 8), label="Point (comma-separated numbers in [-1, 1])")
    result = gr.Number(label="Prediction")

    def predict(name: str, text: str) -> float:
        try:
            values = [float(v) for v in text.split(",")]
            return float(store.get(name, ("$name",)).predict([values])[0])
        except (ValueError, InputError) as exc:
            raise gr.Error(str(exc)) from None

    gr.Button("Predict", variant="primary").click(predict, [model, point], result)


@hookimpl
def register_tasks(register: Any) -> None:
    register(TASK)


@hookimpl
def register_tabs(register: Any) -> None:
    from apps.tabs import TabSpec

    register(TabSpec("$title", "$name", ("$name",), "$module.serving:render"))
''')

TEST = Template('''\
"""The plugin's own test: train a tiny run, export it, serve it with onnxruntime."""

import numpy as np

from toolkit import runtime
from toolkit.export import export_run
from toolkit.registry import Registry
from toolkit.training import train

import $module.plugin as plugin


def test_train_export_serve(tmp_path):
    registry = Registry()
    registry.add_plugin("$name", plugin)
    result = train("$name", overrides={"epochs": "1"}, runs_root=tmp_path / "runs", run_id="t",
                   registry=registry, verbose=0)
    assert result.epochs_done == 1
    manifest = export_run(result.run_dir, tmp_path / "export", registry=registry)
    assert manifest.files["model"].parity["max_abs_diff"] <= 1e-4
    served = runtime.load(tmp_path / "export")
    out = served.run("model", x=np.zeros((2, plugin.FEATURES), np.float32))["y"]
    assert out.shape == (2, 1) and np.isfinite(out).all()
''')

TASK_TEST = Template('''\
"""The plugin's own tests: its task's contract, pipeline, command and tab, on a tiny trained export."""

import argparse
import contextlib
import io

import numpy as np
import pytest

from toolkit import runtime
from toolkit.errors import ManifestError
from toolkit.export import export_run
from toolkit.registry import Registry
from toolkit.tasks import get_tasks
from toolkit.training import train

import $module.plugin as plugin
import $module.serving as serving


@pytest.fixture(scope="module")
def export(tmp_path_factory):
    """Train one epoch and export (the serving module registered as its entry point would)."""
    if get_tasks().task("$name") is None:  # not pip-installed: register the serving side by hand
        get_tasks().add("$name", serving)
    registry = Registry()
    registry.add_plugin("$name", plugin)
    root = tmp_path_factory.mktemp("$module")
    result = train("$name", overrides={"epochs": "1"}, runs_root=root / "runs", run_id="t",
                   registry=registry, verbose=0)
    export_run(result.run_dir, root / "exported" / "$name-demo", registry=registry)
    return root / "exported" / "$name-demo", registry


def test_export_opens_as_this_task(export):
    path, _ = export
    pipeline = runtime.load(path, expect="$name")
    assert isinstance(pipeline, serving.Predictor) and pipeline.features == plugin.FEATURES
    out = pipeline.predict(np.zeros((3, plugin.FEATURES)))
    assert out.shape == (3,) and np.isfinite(out).all()
    with pytest.raises(ManifestError, match="expected classifier"):
        runtime.load(path, expect="classifier")


def test_command_prints_the_prediction(export):
    path, registry = export
    parser = argparse.ArgumentParser()
    subparsers = parser.add_subparsers()
    for _, add in registry.commands:
        add(subparsers)
    args = parser.parse_args(["$name", str(path), *["0.5"] * plugin.FEATURES])
    with contextlib.redirect_stdout(io.StringIO()) as out:
        assert args.func(args) == 0
    expected = runtime.load(path).predict([[0.5] * plugin.FEATURES])[0]
    assert float(out.getvalue()) == pytest.approx(float(expected), abs=1e-5)


def test_tab_joins_the_demo(export):
    pytest.importorskip("gradio")
    from apps.app import build
    from apps.models import ModelStore
    from apps.tabs import get_tabs

    path, _ = export
    tab = next(t for t in get_tabs() if t.name == "$name")
    store = ModelStore(path.parent, parallel=False)
    assert tab.available(store)
    assert "$title" in str(build(store, hide_unavailable=True).config)
''')

README = Template('''\
# $dist

An [onnxkit](https://pypi.org/project/onnxkit/) plugin providing the model `$name`.

    pip install -e .
    onnxkit models            # lists $name
    onnxkit train $name --epochs 3 --run-id first
    onnxkit export runs/$name/first --out exported/$name
$usage    python -m pytest tests    # the plugin's own tests

Edit `$module/plugin.py`: the config dataclass, `build`, `fit_data`, `exports`.$task_readme
''')

TASK_README = """
Edit `$module/serving.py` for the task: its contract (`TASK`: files, tensors, info keys, checked at
export and load), its pipeline (`Predictor`) and its demo tab (`render`)."""

#: ``onnxkit new-plugin``'s names: 2-41 lowercase letters, digits and '-' after normalisation.
NAME_PATTERN = re.compile(r"^[a-z][a-z0-9-]{1,40}$")


def normalise_name(name: str) -> str:
    """Normalise as Python packaging does (PEP 503): runs of ``-``, ``_`` and ``.`` become one
    ``-``, letters lower-case; ``my_model`` and ``My.Model`` both become ``my-model``."""
    canonical = re.sub(r"[-_.]+", "-", name.strip()).lower()
    if not NAME_PATTERN.match(canonical):
        raise ConfigError(f"plugin name {name!r}: use 2-41 letters, digits, '-', '_' or '.', starting with a "
                          "letter (normalised to lowercase letters, digits and '-')")
    return canonical


@dataclass(frozen=True)
class Scaffold:
    """What ``new_plugin`` wrote: the package directory and the normalised plugin name."""

    path: Path
    name: str


def new_plugin(name: str, parent: str | Path = ".", *, new_task: bool = False) -> Scaffold:
    """Write the skeleton for plugin ``name`` into ``parent/onnxkit-NAME`` (atomically); with
    ``new_task`` also its own task, pipeline, command and tab (``NAME/serving.py``)."""
    name = normalise_name(name)
    dist = f"onnxkit-{name}"
    module = "onnxkit_" + name.replace("-", "_")
    target = Path(parent) / dist
    if target.exists():
        raise ConfigError(f"{target} already exists")
    values = {
        "name": name, "dist": dist, "module": module, "features": "8",
        "title": name.replace("-", " ").capitalize(),
        "task": name if new_task else "generic",
        "serving_entry_point": (f'\n# Its serving side (task, pipeline, tab): numpy and onnxruntime only.\n'
                                f'[project.entry-points."onnxkit.serving"]\n{name} = "{module}.serving"\n')
        if new_task else "",
        "usage": f"    onnxkit {name} exported/{name} 0 0 0 0 0 0 0 0\n" if new_task else "",
    }
    values["export_info"] = EXPORT_INFO if new_task else ""
    values["commands"] = COMMANDS.substitute(values) if new_task else ""
    values["task_readme"] = Template(TASK_README).substitute(values) if new_task else ""
    with atomic_directory(target) as tmp:
        (tmp / module).mkdir()
        (tmp / "tests").mkdir()
        (tmp / "pyproject.toml").write_text(PYPROJECT.substitute(values))
        (tmp / "README.md").write_text(README.substitute(values))
        (tmp / module / "__init__.py").write_text(f'"""onnxkit plugin {name}."""\n')
        (tmp / module / "plugin.py").write_text(PLUGIN.substitute(values))
        (tmp / "tests" / "test_plugin.py").write_text((TASK_TEST if new_task else TEST).substitute(values))
        if new_task:
            (tmp / module / "serving.py").write_text(SERVING.substitute(values))
    return Scaffold(target, name)
