"""The figure interface. A figure is one module under ``invnet.figures`` that defines
``FIGURE = FigureSpec(...)``: which families it applies to, which aggregate tables it reads, an
optional panel-data step computed from one problem set and its runs, and a ``plot`` function.

The workflow renders it generically:

- ``per_experiment=True``: ``results/figures/{experiment}/{name}.{pdf,png}`` for every matching
  experiment (the appendix figures every experiment gets);
- ``per_experiment=False``: one ``results/figures/{name}.{pdf,png}`` drawn over the matching
  experiments, or the first ``max_experiments`` of them in config order (Figure 4: the first two
  billiards experiments; Figures 3, 5 and ``fig_fluid``: the first experiment of their family).

A figure with ``families=()`` is not drawn from experiments: it is one
``results/figures/{name}.{pdf,png}``, rendered when every study it names in ``studies`` is
configured (Figure 2 reads the alignment study's table; Figure 1 is drawn from nothing). Any
figure may read study tables: ``inputs.tables[study]``.

Panel data (``panels(inputs: PanelInputs, out)``) is computed by its own job from the
representative problem set of an experiment (largest n, first seed), every run on it and the
configured solvers, and written to ``results/aggregate/{experiment}/panels/{name}.h5``; ``plot``
reads only artifacts and returns the figure it saved (``style.save_figure`` returns it).

A figure over several experiments draws the first ``max_experiments`` matching experiments in
config order (``None``: all of them); only those get panel data.

Figures name no solver: what a figure needs to know about the solvers (their labels, styles,
order, the baseline, the method of the paper's claim, which are networks, which start from x0)
is ``inputs.solvers`` (``PanelInputs.solvers`` in the panel step), a
:class:`~invnet.solver_info.SolverSet` built from the solver declarations. Each figure's module
docstring states the rule by which it picks solvers (e.g. "every solver that starts from x0").

A module of this package without ``FIGURE`` is a helper, not a figure (``example_problem``,
``fractions_vs_n``, ``failures``, ``landscape``, ``problem_runs``, ``billiards_runs``,
``roles``, ``data_view``, ``log_ticks``, ``style``); a figure module imports helpers only, never another figure
module, so an edit of one figure redraws that figure alone.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Callable

import pandas as pd

from ..registry import discover_named, with_plugins
from ..solver_info import SolverSet

PathLike = str | os.PathLike


@dataclass(frozen=True)
class FigureInputs:
    """What a figure's ``plot`` gets: the experiments it draws (config order) with their labels and
    families, the aggregate tables it declared (all its experiments concatenated), the panel
    files (experiment -> path) if it has a panel step, and the configured solvers of its
    experiments (labels, styles, roles; table order)."""

    experiments: list[str]
    labels: dict[str, str]
    families: dict[str, str]
    tables: dict[str, pd.DataFrame]
    panels: dict[str, str] = field(default_factory=dict)
    solvers: SolverSet = field(default_factory=SolverSet)

    @classmethod
    def load(
        cls,
        experiments: list[str],
        labels: dict[str, str],
        families: dict[str, str],
        tables: dict[str, list[PathLike]],
        panels: dict[str, str] | None = None,
        solvers: SolverSet | None = None,
    ) -> FigureInputs:
        frames = {}
        for name, paths in tables.items():
            parts = [pd.read_csv(p) for p in paths]
            frames[name] = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
        return cls(list(experiments), dict(labels), dict(families), frames, dict(panels or {}),
                   solvers if solvers is not None else SolverSet())


@dataclass(frozen=True)
class PanelInputs:
    """What a figure's ``panels`` step gets: one experiment's representative problem set (its
    data artifact), every run on it (solver -> run artifact) and the configured solvers."""

    experiment: str
    data: PathLike
    runs: dict[str, PathLike]
    solvers: SolverSet = field(default_factory=SolverSet)


@dataclass(frozen=True)
class FigureSpec:
    """Declaration of one figure (see the module docstring)."""

    name: str
    doc: str
    plot: Callable[[FigureInputs, PathLike, PathLike], object]  # returns the figure it saved
    families: tuple[str, ...] | None = None  # family names it applies to; None = every experiment
    per_experiment: bool = True
    reads: tuple[str, ...] = ("fractions",)  # aggregate tables (results/aggregate/{experiment}/{t}.csv)
    panels: Callable[[PanelInputs, PathLike], None] | None = None
    studies: tuple[str, ...] = ()  # studies whose table it reads (results/tables/{study table}.csv)
    max_experiments: int | None = None  # per_experiment=False: draws the first k matching ones
    # What it shows and how to read it, for readers of the report (snakemake --report); "" = doc
    caption: str = ""

    def __post_init__(self) -> None:
        if self.families == () and self.per_experiment:
            raise ValueError(f"figure '{self.name}': families=() (no experiments) needs per_experiment=False")

    @property
    def standalone(self) -> bool:
        """Drawn once, not from experiments (``families=()``)."""
        return self.families == ()

    def applies_to(self, family: str) -> bool:
        return self.families is None or family in self.families


def with_baseline(solvers: SolverSet, figure: str) -> SolverSet:
    """``solvers``, refused (ValueError) without a baseline: a figure that compares methods was
    given no configured solvers (``FigureInputs.solvers`` / ``PanelInputs.solvers``)."""
    if solvers.baseline is None:
        raise ValueError(
            f"figure '{figure}' needs the configured solvers with their baseline, got {solvers!r}: "
            "pass the experiments' SolverSet as FigureInputs.solvers / PanelInputs.solvers"
        )
    return solvers


def figures() -> dict[str, FigureSpec]:
    """Every registered figure by name: the ``FIGURE`` of each module of this package and the
    figure plug-ins of the config (``plugins``)."""
    return dict(sorted(with_plugins("figure", discover_named(__package__, "FIGURE")).items()))
