"""Studies: computations that are not problem families (the gradient-alignment theory of
Figure 2), run by the workflow as jobs over seed chunks plus one aggregate table. A module here
that defines ``STUDY = StudySpec(...)`` is a study; see :mod:`invnet.studies.base`."""

from __future__ import annotations

from ..errors import ConfigError
from ..registry import discover_named
from .base import STUDY_SPECS, StudySpec


def studies() -> dict[str, StudySpec]:
    """Every registered study by name (the ``STUDY`` of each module of this package)."""
    return discover_named(__name__, "STUDY")


def study(name: str, where: str = "studies") -> StudySpec:
    registered = studies()
    if name not in registered:
        raise ConfigError(f"{where}.{name}", f"unknown study; allowed: {', '.join(registered)}")
    return registered[name]


__all__ = ["STUDY_SPECS", "StudySpec", "studies", "study"]
