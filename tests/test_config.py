"""Config parsing and validation from ``--set key=value``."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from toolkit.config import build_config, parse_assignments
from toolkit.errors import ConfigError


@dataclass
class Sample:
    units: int = field(default=8, metadata={"min": 1, "max": 64})
    rate: float = 0.1
    mode: str = field(default="a", metadata={"choices": ("a", "b")})
    flag: bool = False
    sizes: tuple[int, ...] = (1, 2)
    base: str | None = None

    def __post_init__(self) -> None:
        if self.mode == "b" and self.units < 4:
            raise ValueError("mode b needs units >= 4")


def test_values_are_parsed_by_type():
    config = build_config(Sample, parse_assignments(
        ["units=16", "rate=1e-3", "mode=b", "flag=yes", "sizes=3,4,5", "base=x.keras"]))
    assert (config.units, config.rate, config.mode, config.flag, config.sizes, config.base) == (
        16, 1e-3, "b", True, (3, 4, 5), "x.keras")
    assert build_config(Sample, {"sizes": "[7, 8]", "base": "none"}).sizes == (7, 8)
    assert build_config(Sample, {"units": 12}).units == 12  # JSON values from a saved run


@pytest.mark.parametrize("items, message", [
    (["units"], "--set expects key=value, got 'units'"),
    (["=3"], "--set expects key=value"),
    (["unit=3"], "unknown config key 'unit'; valid keys: base, flag, mode, rate, sizes, units"),
    (["units=abc"], "units: expected an integer, got 'abc'"),
    (["units=2.5"], "units: expected an integer"),
    (["units=0"], "units: 0 is below the minimum 1"),
    (["units=65"], "units: 65 is above the maximum 64"),
    (["rate=nan"], "rate: expected a finite number"),
    (["mode=c"], "mode: 'c' is not one of 'a', 'b'"),
    (["flag=maybe"], "flag: expected true/false"),
    (["mode=b", "units=2"], "mode b needs units >= 4"),
])
def test_bad_settings_are_clear_errors(items, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace("[", r"\[")):
        build_config(Sample, parse_assignments(items))


def test_every_built_in_model_types_its_training_fields():
    """epochs / batch_size / learning_rate / limit / seed are declared once (TrainingConfig) and
    read as typed attributes; a config that predates the base is read through training_fields."""
    from dataclasses import dataclass

    from toolkit.config import TrainingConfig, training_fields
    from toolkit.registry import get_registry

    models = get_registry().models.values()
    builtin = [m for m in models if type(m).__module__.startswith(("plugins.", "toolkit."))]
    legacy = sorted(m.name for m in builtin if not issubclass(m.config_class, TrainingConfig))
    assert set(legacy) <= {"dlib-finetune", "dlib-resnet"}, legacy  # not migrated yet: read via training_fields

    @dataclass
    class Old:
        epochs: int = 4
        seed: int = 7

    fields = training_fields(Old())
    assert (fields.epochs, fields.seed, fields.batch_size, fields.limit) == (4, 7, 32, None)
