"""Reading one problem set (data artifact) and the runs on it, as the panel steps of the
per-example figures need them: :class:`ProblemRuns`, :func:`load_problem_runs`. Not a figure
(no ``FIGURE``)."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ..artifacts import read_h5
from ..errors import ArtifactError

if TYPE_CHECKING:  # the families (and torch) load in load_problem_runs, not on import
    from ..problems import ProblemFamily

Paths = Mapping[str, str | os.PathLike] | Iterable[str | os.PathLike]


@dataclass
class ProblemRuns:
    """A data artifact's arrays and attributes, its family, and each run's solutions and losses
    (by solver, in the order of the runs given)."""

    arrays: dict[str, np.ndarray]
    attrs: dict[str, Any]
    family: ProblemFamily
    solutions: dict[str, np.ndarray]
    losses: dict[str, np.ndarray]

    @property
    def problem(self) -> dict[str, Any]:
        return self.attrs["problem"]


def load_problem_runs(data: str | os.PathLike, runs: Paths, families: tuple[str, ...] | None = None) -> ProblemRuns:
    """Read ``data`` (refused unless its family is one of ``families``; None: any) and the run artifacts
    ``runs`` (solver -> path, or paths), each checked to be a run on that problem set (and, for a
    mapping, a run of the solver it is given for)."""
    from ..problems import family_from_description

    arrays, attrs = read_h5(data, "data")
    problem = attrs.get("problem", {})
    if families is not None and problem.get("family") not in families:
        raise ArtifactError(f"{data} is not a data artifact of the {' or '.join(families)} family")
    family = family_from_description(problem)
    n, seed = int(attrs["n"]), int(attrs["seed"])
    items = runs.items() if isinstance(runs, Mapping) else ((None, p) for p in runs)
    solutions, losses = {}, {}
    for solver, path in items:
        expect = {"n": n, "seed": seed} | ({} if solver is None else {"solver": str(solver)})
        run, run_attrs = read_h5(path, "run", expect)
        solutions[str(run_attrs["solver"])] = np.asarray(run["x"], dtype=np.float64)
        losses[str(run_attrs["solver"])] = np.asarray(run["loss"], dtype=np.float64)
    return ProblemRuns(arrays, attrs, family, solutions, losses)
