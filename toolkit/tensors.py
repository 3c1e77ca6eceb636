"""Descriptions of model inputs and outputs, shared by export (writes them) and runtime (checks them).

Deliberately free of TensorFlow: the serving side reads these from ``manifest.json``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

DTYPES = ("float32", "int32", "int64", "uint8", "bool")


@dataclass(frozen=True)
class TensorInfo:
    """One input or output of an exported ONNX file.

    ``shape`` uses ``None`` for a dynamic axis (the batch axis is always dynamic). ``value_range``
    is the closed interval every value must lie in (inputs are checked against it at run time;
    outputs state what a caller can expect). ``meaning`` says in words what the tensor holds.
    """

    name: str
    shape: tuple[int | None, ...]
    dtype: str = "float32"
    value_range: tuple[float, float] | None = None
    meaning: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.dtype not in DTYPES:
            raise ValueError(f"tensor {self.name!r}: dtype {self.dtype!r} is not one of {DTYPES}")
        object.__setattr__(self, "shape", tuple(self.shape))
        if self.value_range is not None:
            low, high = self.value_range
            if not low <= high:
                raise ValueError(f"tensor {self.name!r}: value_range {self.value_range} is empty")
            object.__setattr__(self, "value_range", (float(low), float(high)))

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["shape"] = list(self.shape)
        data["value_range"] = list(self.value_range) if self.value_range is not None else None
        if not data["extra"]:
            del data["extra"]
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TensorInfo:
        value_range = data.get("value_range")
        return cls(
            name=data["name"],
            shape=tuple(data["shape"]),
            dtype=data.get("dtype", "float32"),
            value_range=tuple(value_range) if value_range is not None else None,  # type: ignore[arg-type]
            meaning=data.get("meaning", ""),
            extra=dict(data.get("extra", {})),
        )

    def describe(self) -> str:
        dims = ", ".join("N" if i == 0 and d is None else ("?" if d is None else str(d))
                         for i, d in enumerate(self.shape))
        text = f"{self.name}: {self.dtype}[{dims}]"
        if self.value_range is not None:
            text += f" in [{self.value_range[0]:g}, {self.value_range[1]:g}]"
        if self.meaning:
            text += f" — {self.meaning}"
        return text
