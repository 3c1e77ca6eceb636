"""``onnxkit new-plugin NAME``: write a pip-installable plugin package that passes its own test.

The skeleton is a complete, small model (a dense regressor on a synthetic dataset the plugin
registers itself), so a new author starts from something that trains, exports and serves, and
replaces the parts they need.
"""

from __future__ import annotations

import re
from pathlib import Path
from string import Template

from toolkit.errors import ConfigError
from toolkit.fsutil import atomic_directory

NAME_PATTERN = re.compile(r"^[a-z][a-z0-9-]{1,40}$")

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

[tool.setuptools]
packages = ["$module"]
''')

PLUGIN = Template('''\
"""The $name plugin for onnxkit: a model spec and the dataset it trains on."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

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
class Config:
    hidden: int = field(default=16, metadata={"help": "hidden units", "min": 1})
    learning_rate: float = field(default=0.01, metadata={"min": 0.0})
    epochs: int = 3
    batch_size: int = 32
    seed: int = 0


class Model(ModelSpec):
    name = "$name"
    task = "generic"
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


@hookimpl
def register_models(register: Any) -> None:
    register(Model())


@hookimpl
def register_datasets(register: Any) -> None:
    register(DatasetSpec(name="$name-points", kind="vectors", description="synthetic points", load=load_points))
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

README = Template('''\
# $dist

An [onnxkit](https://pypi.org/project/onnxkit/) plugin providing the model `$name`.

    pip install -e .
    onnxkit models            # lists $name
    onnxkit train $name --epochs 3 --run-id first
    onnxkit export runs/$name/first --out exported/$name
    python -m pytest tests    # the plugin's own test

Edit `$module/plugin.py`: the config dataclass, `build`, `fit_data`, `exports`.
''')


def new_plugin(name: str, parent: str | Path = ".") -> Path:
    """Write the skeleton for plugin ``name`` into ``parent/onnxkit-NAME`` (atomically)."""
    if not NAME_PATTERN.match(name):
        raise ConfigError(f"plugin name {name!r}: use 2-41 lowercase letters, digits and '-', starting with a letter")
    dist = f"onnxkit-{name}"
    module = "onnxkit_" + name.replace("-", "_")
    target = Path(parent) / dist
    if target.exists():
        raise ConfigError(f"{target} already exists")
    values = {"name": name, "dist": dist, "module": module}
    with atomic_directory(target) as tmp:
        (tmp / module).mkdir()
        (tmp / "tests").mkdir()
        (tmp / "pyproject.toml").write_text(PYPROJECT.substitute(values))
        (tmp / "README.md").write_text(README.substitute(values))
        (tmp / module / "__init__.py").write_text(f'"""onnxkit plugin {name}."""\n')
        (tmp / module / "plugin.py").write_text(PLUGIN.substitute(values))
        (tmp / "tests" / "test_plugin.py").write_text(TEST.substitute(values))
    return target
