"""Table 3: the final loss of every method (the baseline included) per experiment and n: the
mean and the median over the problems of each seed's problem set, each as mean ± standard
deviation over seeds, and how many problems the method failed on (non-finite loss or optimiser
failure; they count in neither statistic). Reads the aggregate ``fractions`` frames, whose rows
are one run each (``mean_loss`` and ``median_loss`` of its finite losses, ``failed``,
``n_problems``)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import pandas as pd

from ..analysis import sort_frame, summarize
from ..solver_info import SolverSet
from .base import Rendered, TableInputs, TableSpec
from .render import failed_cell, plus_minus

QUANTITIES = ("mean_loss", "median_loss")
STATS = ("mean", "std", "min", "max")


def numeric(fractions: pd.DataFrame, solvers: SolverSet, experiments: Sequence[str] = ()) -> pd.DataFrame:
    """Per (experiment, solver, n): ``n_seeds``, ``<q>_{mean,std,min,max}`` over seeds of each
    run's mean and median final loss, ``failed_total`` (problems failed, summed over seeds) and
    ``problems_total`` (all problems over seeds)."""
    keys = ["experiment", "solver", "n"]
    if fractions.empty:
        fractions = pd.DataFrame(columns=[*keys, "seed", *QUANTITIES, "failed", "n_problems"])
    summary = summarize(fractions, QUANTITIES, solvers)
    cols = keys + ["n_seeds"] + [f"{q}_{s}" for q in QUANTITIES for s in STATS]
    frac = fractions.assign(**{c: fractions[c] if c in fractions else float("nan") for c in ("failed", "n_problems")})
    totals = (frac.groupby(keys, sort=False)[["failed", "n_problems"]].sum(min_count=1)
              .rename(columns={"failed": "failed_total", "n_problems": "problems_total"}).reset_index())
    out = summary[[c for c in cols if c in summary.columns]].merge(totals, on=keys, how="left")
    return sort_frame(out, experiments=experiments, solvers=solvers)


def significant(value: float, digits: int) -> str:
    """``value`` to ``digits`` significant digits, trailing zeros kept ('0.0600', '1.50e-05')."""
    text = f"{value:#.{digits}g}"
    return text[:-1] if text.endswith(".") else text


def loss_cell(mean: float, std: float, pm: str) -> str:
    """'0.0123 ± 0.00045': three significant digits for the mean, two for the spread, whatever
    the scale of the loss (losses span decades across experiments); only the mean for one seed,
    '–' when there is none."""
    if mean is None or math.isnan(mean):
        return "–"
    text = significant(mean, 3)
    return text if std is None or math.isnan(std) else f"{text} {pm} {significant(std, 2)}"


def display(table: pd.DataFrame, inputs: TableInputs, latex: bool) -> pd.DataFrame:
    pm = plus_minus(latex)
    rows = []
    for rec in table.to_dict("records"):
        rows.append({
            **inputs.row_head(rec, latex),
            "Mean loss": loss_cell(rec["mean_loss_mean"], rec["mean_loss_std"], pm),
            "Median loss": loss_cell(rec["median_loss_mean"], rec["median_loss_std"], pm),
            "Failed": failed_cell(rec["failed_total"], rec["problems_total"]),
            "Seeds": str(int(rec["n_seeds"])),
        })
    return pd.DataFrame(rows, columns=["Experiment", "Method", "n", "Mean loss", "Median loss", "Failed", "Seeds"])


def caption(latex: bool) -> str:
    pm = plus_minus(latex)
    return (
        "Final loss of every method on the problem sets it was run on (the n training problems, not the "
        "held-out test set): for each seed the mean and the median over its problems, shown as mean "
        f"{pm} standard deviation of those per-seed values over seeds. Failed: problems (summed over "
        "seeds, of all problems) on which the method ended with a NaN or infinite loss or an optimiser "
        "failure; they are left out of both statistics. Losses are the family's loss under the true "
        "forward process, so they compare across methods within an experiment, not across experiments."
    )


def render(inputs: TableInputs) -> Rendered:
    table = numeric(inputs.tables["fractions"], inputs.solvers, inputs.experiments)
    return Rendered.of(table, lambda latex: display(table, inputs, latex), lambda latex: caption(latex=latex),
                       "tab:final-loss", "llrrrrr")


TABLE = TableSpec(
    name="table3",
    doc="Table 3: mean and median final loss per method, experiment and n, with the spread over seeds "
        "and the failed problems",
    render=render,
    reads=("fractions",),
)
