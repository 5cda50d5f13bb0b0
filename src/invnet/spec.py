"""Declarations of config values: each parameter or setting is declared once, as a :class:`ParamSpec`
(type, range, default, one-line doc). Validation, default filling and the JSON schema of the
config (:mod:`invnet.config`) are all derived from these declarations."""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from typing import Any

from .errors import ConfigError

REQUIRED = object()  # default of a value the user must give


@dataclass(frozen=True)
class ParamSpec:
    """Type, range and default of one config value.

    ``kind``: ``float``, ``int``, ``str``, ``bool`` or a tuple of those. ``length``: None for a
    scalar, n for a list of exactly n entries, -1 for a non-empty list of any length, 0 for a list
    of any length that may be empty; list entries may themselves be lists of scalars (e.g. ``bounds``). ``minimum``/``maximum`` are inclusive,
    ``positive`` means > 0.
    """

    default: Any
    kind: type | tuple[type, ...] = float
    length: int | None = None
    positive: bool = False
    doc: str = ""
    choices: tuple[Any, ...] | None = None
    minimum: float | None = None
    maximum: float | None = None
    unique: bool = False  # list entries must be distinct

    @property
    def kinds(self) -> tuple[type, ...]:
        return self.kind if isinstance(self.kind, tuple) else (self.kind,)

    @property
    def numeric(self) -> bool:
        return float in self.kinds or int in self.kinds

    @property
    def required(self) -> bool:
        return self.default is REQUIRED

    # ------------------------------------------------------------------ checking
    def check(self, value: Any, where: str) -> Any:
        """``value`` checked and normalised (ints for int, floats for float); ConfigError naming ``where``."""
        if self.length is None:
            return self._scalar(value, where)
        if not isinstance(value, (list, tuple)):
            what = {0: "a list", -1: "a non-empty list"}.get(self.length, f"a list of length {self.length}")
            raise ConfigError(where, f"expected {what}, got {type(value).__name__} {value!r}")
        if not value and self.length != 0:
            raise ConfigError(where, "expected a non-empty list")
        if self.length > 0 and len(value) != self.length:
            raise ConfigError(where, f"expected a list of length {self.length}, got {len(value)}")
        out = []
        for i, v in enumerate(value):
            if isinstance(v, (list, tuple)):
                out.append([self._scalar(w, f"{where}[{i}][{j}]") for j, w in enumerate(v)])
            else:
                out.append(self._scalar(v, f"{where}[{i}]"))
        if self.unique and len({repr(v) for v in out}) != len(out):
            raise ConfigError(where, f"entries must be distinct, got {value!r}")
        return out

    def _scalar(self, v: Any, where: str) -> Any:
        kinds = self.kinds
        if self.numeric:
            ok = isinstance(v, (int, float)) and not isinstance(v, bool)
            if kinds == (int,):
                ok = ok and (isinstance(v, int) or (isinstance(v, float) and v.is_integer()))
        else:
            ok = isinstance(v, kinds)
        if not ok:
            names = "/".join("number" if k is float else k.__name__ for k in kinds)
            raise ConfigError(where, f"expected {names}, got {type(v).__name__} {_short(v)}")
        if self.numeric:
            if not math.isfinite(v):
                raise ConfigError(where, f"must be finite, got {v!r}")
            if self.positive and v <= 0:
                raise ConfigError(where, f"must be > 0, got {v!r}")
            if self.minimum is not None and v < self.minimum:
                raise ConfigError(where, f"must be >= {self.minimum:g}, got {v!r}")
            if self.maximum is not None and v > self.maximum:
                raise ConfigError(where, f"must be <= {self.maximum:g}, got {v!r}")
        if self.choices is not None and v not in self.choices:
            raise ConfigError(where, f"got {_short(v)}; allowed: {', '.join(map(str, self.choices))}")
        if kinds == (int,):
            return int(v)
        if self.numeric and float in kinds:
            return float(v) if not isinstance(v, int) or int not in kinds else v
        return v

    # ------------------------------------------------------------------ schema
    def json_schema(self) -> dict[str, Any]:
        """The JSON-schema fragment of this value (for documentation and jsonschema checks)."""
        scalar: dict[str, Any] = {}
        kinds = self.kinds
        if kinds == (int,):
            scalar["type"] = "integer"
        elif self.numeric:
            scalar["type"] = "number"
        elif kinds == (str,):
            scalar["type"] = "string"
        elif kinds == (bool,):
            scalar["type"] = "boolean"
        if self.positive:
            scalar["exclusiveMinimum"] = 0
        if self.minimum is not None:
            scalar["minimum"] = self.minimum
        if self.maximum is not None:
            scalar["maximum"] = self.maximum
        if self.choices is not None:
            scalar["enum"] = list(self.choices)
        if self.length is None:
            out = scalar
        else:
            nested = isinstance(self.default, (list, tuple)) and any(isinstance(v, (list, tuple)) for v in self.default)
            items = {"type": "array", "items": scalar, "minItems": 1} if nested else scalar
            out = {"type": "array", "items": items, "minItems": 0 if self.length == 0 else max(self.length, 1)}
            if self.length > 0:
                out["maxItems"] = self.length
            if self.unique:
                out["uniqueItems"] = True
        if self.doc:
            out["description"] = self.doc
        if not self.required:
            out["default"] = self.default
        return out


def resolve(specs: dict[str, ParamSpec], values: dict[str, Any] | None, where: str) -> dict[str, Any]:
    """Every key of ``specs`` checked, with defaults filled in; unknown keys name the allowed ones."""
    values = {} if values is None else values
    if not isinstance(values, dict):
        raise ConfigError(where, f"expected a mapping, got {type(values).__name__} {_short(values)}")
    def at(key: str) -> str:
        return f"{where}.{key}" if where else key

    unknown = sorted(set(values) - set(specs))
    if unknown:
        raise ConfigError(at(unknown[0]), f"unknown key; allowed: {', '.join(sorted(specs))}")
    out = {}
    for key, spec in specs.items():
        if key not in values:
            if spec.required:
                raise ConfigError(at(key), f"required key is missing ({spec.doc})")
            out[key] = copy.deepcopy(spec.default)
        else:
            out[key] = spec.check(values[key], at(key))
    return out


def object_schema(specs: dict[str, ParamSpec], doc: str = "") -> dict[str, Any]:
    """A closed JSON-schema object whose properties are ``specs``."""
    out: dict[str, Any] = {
        "type": "object",
        "additionalProperties": False,
        "properties": {k: s.json_schema() for k, s in specs.items()},
    }
    required = [k for k, s in specs.items() if s.required]
    if required:
        out["required"] = required
    if doc:
        out["description"] = doc
    return out


def _short(value: Any, width: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= width else f"{text[: width - 3]}..."
