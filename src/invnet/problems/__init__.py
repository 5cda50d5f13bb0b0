"""Problem families, looked up by experiment name (the config's ``experiments`` keys)."""

from __future__ import annotations

from typing import Any

from ..errors import ConfigError
from .base import Objective, ParamSpec, ProblemFamily, ProblemSet
from .wavepacket import WavePacket

FAMILIES: dict[str, type[ProblemFamily]] = {cls.name: cls for cls in (WavePacket,)}


def make_family(name: str, params: dict[str, Any] | None = None) -> ProblemFamily:
    """Instantiate the family ``name`` with physical parameters from config (defaults otherwise)."""
    if name not in FAMILIES:
        raise ConfigError("experiments", f"unknown experiment '{name}'; allowed: {', '.join(sorted(FAMILIES))}")
    return FAMILIES[name](**(params or {}))


def family_from_description(description: dict[str, Any]) -> ProblemFamily:
    """Rebuild a family from a data artifact's ``problem`` attribute (``ProblemFamily.describe``)."""
    name = description["family"]
    params = {k: v for k, v in description.items() if k not in ("family", "param_names")}
    return make_family(name, params)


__all__ = ["FAMILIES", "Objective", "ParamSpec", "ProblemFamily", "ProblemSet", "family_from_description", "make_family"]
