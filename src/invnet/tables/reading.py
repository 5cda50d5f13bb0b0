"""What tables read from the data and run artifacts themselves (attributes and the small
per-problem datasets), for the tables that describe how the runs were set up rather than what
they achieved (Table 1: the problems and the iterations spent; Table 5: the solver settings).

Every artifact is checked as the aggregate checks it (:func:`invnet.artifacts.check_artifact`:
complete, this schema version, the datasets of its kind), so a stale or broken file is one clear
line naming it, never a KeyError here.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import h5py
import numpy as np

from ..artifacts import check_artifact


@dataclass(frozen=True)
class DataRecord:
    """One data artifact: which problem set it is and the problem description it was drawn from."""

    experiment: str
    n: int
    seed: int
    n_test: int
    problem: dict[str, Any]


@dataclass(frozen=True)
class RunRecord:
    """One run artifact: which run it is, its recorded ``config`` (``config["solver"]`` are the
    resolved settings the solver ran with) and the per-problem datasets asked for."""

    experiment: str
    solver: str
    n: int
    seed: int
    config: dict[str, Any]
    datasets: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def settings(self) -> dict[str, Any]:
        solver = self.config.get("solver") if isinstance(self.config, dict) else None
        return dict(solver) if isinstance(solver, dict) else {}


def read_data(paths: Iterable[str | os.PathLike]) -> list[DataRecord]:
    """The attributes of every data artifact of ``paths``."""
    out = []
    for path in paths:
        attrs = check_artifact(path, "data")
        problem = attrs["problem"] if isinstance(attrs["problem"], dict) else {}
        out.append(DataRecord(str(attrs["experiment"]), int(attrs["n"]), int(attrs["seed"]),
                              int(attrs["n_test"]), problem))
    return out


def read_runs(paths: Iterable[str | os.PathLike], datasets: Sequence[str] = ()) -> list[RunRecord]:
    """The attributes of every run artifact of ``paths`` and its ``datasets`` (those it has)."""
    out = []
    for path in paths:
        attrs = check_artifact(path, "run")
        arrays = {}
        if datasets:
            with h5py.File(path, "r") as f:
                arrays = {name: np.asarray(f[name][()]) for name in datasets if name in f}
        config = attrs["config"] if isinstance(attrs["config"], dict) else {}
        out.append(RunRecord(str(attrs["experiment"]), str(attrs["solver"]), int(attrs["n"]), int(attrs["seed"]),
                             config, arrays))
    return out


def experiment_order(experiments: Sequence[str], found: Iterable[str]) -> list[str]:
    """The experiments that have artifacts: those of ``experiments`` (config order) first, then
    any other found, in order of appearance."""
    present = list(dict.fromkeys(found))
    return [e for e in experiments if e in present] + [e for e in present if e not in experiments]


def json_value(value: Any) -> str:
    """A canonical JSON text of ``value`` (keys sorted), to compare and store recorded values."""
    return json.dumps(value, sort_keys=True)
