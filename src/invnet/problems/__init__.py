"""Problem families. Every module of this package that defines a :class:`ProblemFamily` subclass is
registered under the class's ``name``; a family elsewhere is named by import path
(``package.module:Class``) in an experiment's ``family`` key."""

from __future__ import annotations

from typing import Any

from ..errors import ConfigError
from ..registry import discover, import_path, with_plugins
from .base import Objective, ParamSpec, ProblemFamily, ProblemSet


def families() -> dict[str, type[ProblemFamily]]:
    """Every registered family by name: the modules of this package (imported on first use)
    and the family plug-ins of the config (``plugins``)."""
    return with_plugins("family", discover(__name__, ProblemFamily))


def family_class(name: str, where: str = "family") -> type[ProblemFamily]:
    """The family registered as ``name``, or the class at import path ``package.module:Class``."""
    if ":" in name:
        return import_path(name, ProblemFamily, where)
    registered = families()
    if name not in registered:
        raise ConfigError(
            where,
            f"unknown family '{name}'; allowed: {', '.join(sorted(registered))}, "
            "or an import path package.module:Class",
        )
    return registered[name]


def make_family(
    family: str, params: dict[str, Any] | None = None, experiment: str | None = None
) -> ProblemFamily:
    """Instantiate ``family`` with physical parameters from config (defaults otherwise).

    Errors name the key under ``experiments.<experiment>.problem`` (the family name by default).
    """
    cls = family_class(family, f"experiments.{experiment}.family" if experiment else "family")
    try:
        return cls(**(params or {}))
    except ConfigError as err:
        if experiment is None or experiment == cls.name:
            raise
        old, new = f"experiments.{cls.name}.", f"experiments.{experiment}."
        key = new + err.key[len(old):] if err.key.startswith(old) else err.key
        raise ConfigError(key, str(err).split(": ", 1)[1]) from None


def family_from_description(description: dict[str, Any]) -> ProblemFamily:
    """Rebuild a family from a data artifact's ``problem`` attribute (``ProblemFamily.describe``)."""
    name = description.get("family_path") or description["family"]
    params = {k: v for k, v in description.items() if k not in ("family", "family_path", "param_names")}
    return make_family(name, params)


__all__ = [
    "Objective",
    "ParamSpec",
    "ProblemFamily",
    "ProblemSet",
    "families",
    "family_class",
    "family_from_description",
    "make_family",
]
