"""Model configurations: dataclasses with defaults, overridden from ``--set key=value`` strings.

Values are parsed by the field's declared type, and a field may carry ``metadata={"help": ...,
"choices": (...), "min": x, "max": y}`` which is checked here, so every plugin gets validation and
readable errors for free.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from collections.abc import Iterable, Mapping
from typing import Any

from toolkit.errors import ConfigError


@dataclasses.dataclass
class TrainingConfig:
    """The training fields every model has, typed once: a model's config dataclass extends it and
    redeclares a field only to change its default (``epochs: int = field(default=60, ...)``).

    The training driver and the data request read these as attributes (see :func:`training_fields`
    for configs that predate this base).
    """

    epochs: int = dataclasses.field(default=10, metadata={"help": "epochs to train", "min": 1})
    batch_size: int = dataclasses.field(default=32, metadata={"help": "examples per step", "min": 1})
    learning_rate: float = dataclasses.field(default=1e-3, metadata={"help": "optimizer learning rate", "min": 0.0})
    limit: int | None = dataclasses.field(
        default=None, metadata={"help": "use at most this many training examples (tiny runs)", "min": 1})
    seed: int = dataclasses.field(default=0, metadata={"help": "random seed of the data order and the weights"})


def training_fields(config: Any) -> TrainingConfig:
    """``config`` as the typed training fields: itself when it extends :class:`TrainingConfig`;
    for a plugin config that does not (yet), the fields it has, the base defaults for the rest."""
    if isinstance(config, TrainingConfig):
        return config
    names = [f.name for f in dataclasses.fields(TrainingConfig)]
    return TrainingConfig(**{n: getattr(config, n) for n in names if hasattr(config, n)})


def parse_assignments(items: Iterable[str]) -> dict[str, str]:
    """Turn ``["a=1", "b=x"]`` into ``{"a": "1", "b": "x"}``; a malformed item is a ConfigError."""
    result: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ConfigError(f"--set expects key=value, got {item!r}")
        result[key] = value.strip()
    return result


def _field_types(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _coerce(name: str, raw: Any, annotation: Any) -> Any:
    """Convert ``raw`` (a string from the CLI, or a JSON value from a saved config) to ``annotation``."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        if raw is None or (isinstance(raw, str) and raw.lower() in ("none", "null", "")):
            if type(None) in args:
                return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(name, raw, arg)
            except ConfigError as exc:
                errors.append(str(exc))
        raise ConfigError(errors[0] if errors else f"{name}: cannot parse {raw!r}")
    if origin in (tuple, list):
        if isinstance(raw, str):
            text = raw.strip()
            if text.startswith("["):
                try:
                    items = json.loads(text)
                except json.JSONDecodeError:
                    raise ConfigError(f"{name}: {raw!r} is not a JSON list") from None
            else:
                items = [part for part in text.split(",") if part.strip()]
        else:
            items = list(raw)
        item_type = args[0] if args else str
        values = [_coerce(name, item, item_type) for item in items]
        return tuple(values) if origin is tuple else values
    if annotation is bool:
        if isinstance(raw, bool):
            return raw
        text = str(raw).strip().lower()
        if text in ("1", "true", "yes", "on"):
            return True
        if text in ("0", "false", "no", "off"):
            return False
        raise ConfigError(f"{name}: expected true/false, got {raw!r}")
    if annotation is int:
        if isinstance(raw, bool):
            raise ConfigError(f"{name}: expected an integer, got {raw!r}")
        try:
            value = float(raw) if not isinstance(raw, int) else raw
        except (TypeError, ValueError):
            raise ConfigError(f"{name}: expected an integer, got {raw!r}") from None
        if isinstance(value, float) and not value.is_integer():
            raise ConfigError(f"{name}: expected an integer, got {raw!r}")
        return int(value)
    if annotation is float:
        try:
            value = float(raw)
        except (TypeError, ValueError):
            raise ConfigError(f"{name}: expected a number, got {raw!r}") from None
        if value != value or value in (float("inf"), float("-inf")):
            raise ConfigError(f"{name}: expected a finite number, got {raw!r}")
        return value
    if annotation is str:
        return str(raw)
    raise ConfigError(f"{name}: unsupported config type {annotation!r}")


def _check_metadata(name: str, value: Any, meta: Mapping[str, Any]) -> None:
    choices = meta.get("choices")
    if choices is not None:
        values = value if isinstance(value, (list, tuple)) else [value]
        for item in values:
            if item not in choices:
                raise ConfigError(f"{name}: {item!r} is not one of {', '.join(map(repr, choices))}")
    low, high = meta.get("min"), meta.get("max")
    values = value if isinstance(value, (list, tuple)) else [value]
    for item in values:
        if isinstance(item, (int, float)) and not isinstance(item, bool):
            if low is not None and item < low:
                raise ConfigError(f"{name}: {item} is below the minimum {low}")
            if high is not None and item > high:
                raise ConfigError(f"{name}: {item} is above the maximum {high}")


def build_config(cls: type, overrides: Mapping[str, Any] | None = None) -> Any:
    """Instantiate the config dataclass ``cls`` with ``overrides`` parsed, validated and applied.

    An unknown key names the valid keys; the dataclass's own ``__post_init__`` may raise
    ``ConfigError`` (or ``ValueError``, re-raised as ConfigError) for cross-field checks.
    """
    if not dataclasses.is_dataclass(cls):
        raise TypeError(f"{cls!r} is not a dataclass")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    hints = _field_types(cls)
    values: dict[str, Any] = {}
    for key, raw in (overrides or {}).items():
        if key not in fields:
            raise ConfigError(f"unknown config key {key!r}; valid keys: {', '.join(sorted(fields))}")
        value = _coerce(key, raw, hints[key])
        _check_metadata(key, value, fields[key].metadata)
        values[key] = value
    for key, f in fields.items():
        if key not in values:
            default = f.default if f.default is not dataclasses.MISSING else (
                f.default_factory() if f.default_factory is not dataclasses.MISSING else dataclasses.MISSING  # type: ignore[misc]
            )
            if default is dataclasses.MISSING:
                raise ConfigError(f"config key {key!r} has no default and must be set")
            _check_metadata(key, default, f.metadata)
    try:
        return cls(**values)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


def config_to_json(config: Any) -> dict[str, Any]:
    data = dataclasses.asdict(config)
    return {k: list(v) if isinstance(v, tuple) else v for k, v in data.items()}


def describe_config(cls: type) -> list[tuple[str, str, str]]:
    """Rows of (key, default, help) for ``onnxkit models --verbose`` and docs."""
    rows = []
    for f in dataclasses.fields(cls):
        default = f.default if f.default is not dataclasses.MISSING else (
            f.default_factory() if f.default_factory is not dataclasses.MISSING else "(required)"  # type: ignore[misc]
        )
        rows.append((f.name, repr(default), f.metadata.get("help", "")))
    return rows
