"""The table interface. A table is one module under ``invnet.tables`` (or a plug-in named in the
config's ``plugins``) that defines ``TABLE = TableSpec(...)``: the aggregate frames it reads (every
experiment's, concatenated), optionally the data and run artifacts themselves, and a ``render``
function from :class:`TableInputs` to a :class:`Rendered` table. The workflow writes it as
``results/tables/{name}.csv`` (the numeric frame at full precision), ``.tex`` (booktabs),
``.md`` (pipe table) and ``.html`` (shown in the report) in one generic job, and gives it a named target (``snakemake <name>``).
Tables read only artifacts: re-rendering never reruns a solver.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Callable

import pandas as pd

from ..solver_info import SolverSet
from .render import label_text

PathLike = str | os.PathLike
ARTIFACTS = ("data", "runs")  # what a table may read besides aggregate frames


@dataclass(frozen=True)
class TableInputs:
    """What a table's ``render`` gets: the experiments (config order) with their labels, the
    aggregate frames it declared (all experiments concatenated), the configured solvers, the
    global settings (``compare_rtol``, ...) and, if it asked for them, artifact paths."""

    experiments: list[str]
    labels: dict[str, str]
    tables: dict[str, pd.DataFrame]
    solvers: SolverSet = field(default_factory=SolverSet)
    settings: dict[str, Any] = field(default_factory=dict)
    data: list[str] = field(default_factory=list)
    runs: list[str] = field(default_factory=list)

    @classmethod
    def load(
        cls, experiments: list[str], labels: dict[str, str], tables: dict[str, list[PathLike]],
        solvers: SolverSet | None = None, settings: dict[str, Any] | None = None,
        data: list[PathLike] = (), runs: list[PathLike] = (),
    ) -> TableInputs:
        frames = {}
        for name, paths in tables.items():
            parts = [pd.read_csv(p) for p in paths]
            parts = [p for p in parts if not p.empty]
            frames[name] = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
        return cls(list(experiments), dict(labels), frames, solvers if solvers is not None else SolverSet(),
                   dict(settings or {}), [str(p) for p in data], [str(p) for p in runs])

    def label(self, experiment: str) -> str:
        return self.labels.get(experiment, experiment)

    def row_head(self, rec: dict[str, Any], latex: bool) -> dict[str, str]:
        """The Experiment, Method and n cells of a row per (experiment, solver, n)."""
        return {
            "Experiment": label_text(self.label(rec["experiment"]), latex),
            "Method": label_text(self.solvers.label(rec["solver"]), latex),
            "n": str(int(rec["n"])),
        }


@dataclass(frozen=True)
class Rendered:
    """One rendered table: the numeric frame (CSV) and its display frames (cells already
    formatted; LaTeX cells valid LaTeX), with captions, a LaTeX label and column alignment."""

    numeric: pd.DataFrame
    latex: pd.DataFrame
    markdown: pd.DataFrame
    caption_latex: str
    caption_markdown: str
    label: str
    align: str | None = None

    @classmethod
    def of(cls, numeric: pd.DataFrame, display: Callable[[bool], pd.DataFrame], caption: Callable[[bool], str],
           label: str, align: str | None = None) -> Rendered:
        """The usual rendering: ``display(latex)`` and ``caption(latex)`` called once for LaTeX
        (True) and once for Markdown (False)."""
        return cls(numeric, display(True), display(False), caption(True), caption(False), label, align)


@dataclass(frozen=True)
class TableSpec:
    """Declaration of one table (see the module docstring)."""

    name: str
    doc: str
    render: Callable[[TableInputs], Rendered]
    reads: tuple[str, ...] = ("fractions",)  # aggregate frames (results/aggregate/{experiment}/{t}.csv)
    artifacts: tuple[str, ...] = ()  # "data" and/or "runs": the artifacts themselves
    # What it shows and how to read it, for readers of the report (snakemake --report, after the
    # doc in bold); "" = its module's docstring (invnet.report)
    caption: str = ""

    def __post_init__(self) -> None:
        unknown = [a for a in self.artifacts if a not in ARTIFACTS]
        if unknown:
            raise ValueError(f"table '{self.name}': artifacts {unknown} unknown; allowed: {', '.join(ARTIFACTS)}")


def write_table(rendered: Rendered, csv: PathLike, tex: PathLike, md: PathLike, html: PathLike | None = None) -> None:
    """Write the numeric frame as CSV and the display frames as LaTeX, Markdown and (for the
    report) a small HTML page, atomically."""
    from ..atomic import atomic_write_text
    from .render import to_booktabs, to_html, to_markdown, write_csv

    write_csv(rendered.numeric, csv)
    atomic_write_text(tex, to_booktabs(rendered.latex, caption=rendered.caption_latex, label=rendered.label,
                                       align=rendered.align, escape=False))
    atomic_write_text(md, to_markdown(rendered.markdown, caption=rendered.caption_markdown))
    if html is not None:
        atomic_write_text(html, to_html(rendered.markdown, caption=rendered.caption_markdown))
