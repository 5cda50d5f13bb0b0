"""Table 4: compute cost per method, experiment and n: evaluations per problem (own, and with
the run a refinement starts from), wall time of the whole run and the mean final loss those
bought, mean and spread over seeds. Reads the aggregate ``summary`` frames."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from ..analysis import sort_frame
from ..solver_info import SolverSet
from .base import Rendered, TableInputs, TableSpec
from .render import count_cell, mean_pm_std, plus_minus

QUANTITIES = ("mean_evaluations", "mean_total_evaluations", "wall_time_s", "mean_loss")
CAPTION = (
    "Compute cost of every method: forward (and gradient) evaluations per problem (own, and "
    "including the run a refinement starts from), wall time of the whole run (all n problems) "
    "and the mean final training loss, mean and standard deviation over seeds."
)


def numeric(summaries: pd.DataFrame, solvers: SolverSet, experiments: Sequence[str] = ()) -> pd.DataFrame:
    """Evaluations per problem, wall time and mean final loss per experiment, solver and n
    (mean and std over seeds), from the aggregate ``summary`` frames."""
    cols = ["experiment", "solver", "n", "n_seeds"] + [f"{q}_{s}" for q in QUANTITIES for s in ("mean", "std")]
    return sort_frame(summaries[[c for c in cols if c in summaries.columns]], experiments=experiments,
                      solvers=solvers)


def display(table: pd.DataFrame, inputs: TableInputs, latex: bool) -> pd.DataFrame:
    pm = plus_minus(latex)
    rows = []
    for rec in table.to_dict("records"):
        rows.append({
            **inputs.row_head(rec, latex),
            "Evals / problem": count_cell(rec["mean_evaluations_mean"]),
            "incl. start run": count_cell(rec.get("mean_total_evaluations_mean", float("nan"))),
            "Wall time [s]": mean_pm_std(rec["wall_time_s_mean"], rec["wall_time_s_std"], pm=pm),
            "Mean loss": mean_pm_std(rec["mean_loss_mean"], rec["mean_loss_std"], digits=4, pm=pm),
            "Seeds": str(int(rec["n_seeds"])),
        })
    columns = ["Experiment", "Method", "n", "Evals / problem", "incl. start run", "Wall time [s]", "Mean loss", "Seeds"]
    return pd.DataFrame(rows, columns=columns)


def render(inputs: TableInputs) -> Rendered:
    table = numeric(inputs.tables["summary"], inputs.solvers, inputs.experiments)
    return Rendered.of(table, lambda latex: display(table, inputs, latex), lambda latex: CAPTION,
                       "tab:cost", "llrrrrrr")


TABLE = TableSpec(
    name="table4",
    doc="Table 4: compute cost per method (evaluations per problem, wall time, mean loss)",
    render=render,
    reads=("summary",),
)
