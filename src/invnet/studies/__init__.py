"""Studies: computations that are not problem families (the gradient-alignment theory of
Figure 2), run by the workflow as jobs over seed chunks plus one aggregate table. A module here
that defines ``STUDY = StudySpec(...)`` is a study; see :mod:`invnet.studies.base`."""

from __future__ import annotations

from ..registry import discover_named, with_plugins
from .base import STUDY_SPECS, StudySpec


def studies() -> dict[str, StudySpec]:
    """Every registered study by name: the ``STUDY`` of each module of this package and the
    study plug-ins of the config (``plugins``)."""
    return dict(sorted(with_plugins("study", discover_named(__name__, "STUDY")).items()))


__all__ = ["STUDY_SPECS", "StudySpec", "studies"]
