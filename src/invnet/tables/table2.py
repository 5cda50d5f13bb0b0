"""Table 2: the fraction of problems on which each method beats, ties or loses to BFGS, per
experiment and n, mean and spread over seeds, with what each method (and BFGS) spent and how
many problems failed (docs/experiments.md §2.2). Reads the aggregate ``fractions`` frames."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from ..analysis import OUTCOMES, sort_frame, summarize
from ..solver_info import SolverSet
from .base import Rendered, TableInputs, TableSpec
from .render import count_cell, failed_cell, mean_pm_std, plus_minus

COST = ("mean_evaluations", "mean_total_evaluations", "wall_time_s")
STATS = ("mean", "std", "min", "max")
OUTCOME_HEADERS = {"beat": "Beats BFGS", "tie": "Tie", "lose": "BFGS better"}


def numeric(fractions: pd.DataFrame, solvers: SolverSet, experiments: Sequence[str] = ()) -> pd.DataFrame:
    """Beat/tie/lose fractions against the baseline per experiment, solver and n, over seeds.

    Columns: experiment, solver, n, n_seeds, then <outcome>_{mean,std,min,max}, what the method
    spent (``mean_evaluations_*``: evaluations per problem; ``wall_time_s_*``), what BFGS spent
    on the same problems (``bfgs_evaluations_mean``, ``bfgs_wall_time_s_mean``) and the failed
    problems summed over seeds. The baseline itself is left out.
    """
    if fractions.empty:
        fractions = pd.DataFrame(columns=["experiment", "solver", "n", "seed", *OUTCOMES])
    summary = summarize(fractions, OUTCOMES + tuple(q for q in COST if q in fractions.columns), solvers)
    cols = ["experiment", "solver", "n", "n_seeds"] + [
        f"{q}_{s}" for q in OUTCOMES + COST for s in STATS if f"{q}_{s}" in summary.columns
    ]
    is_base = summary["solver"] == solvers.baseline
    base = summary[is_base]
    base = base[["experiment", "n"] + [c for c in ("mean_evaluations_mean", "wall_time_s_mean") if c in base]]
    base = base.rename(columns={"mean_evaluations_mean": "bfgs_evaluations_mean",
                                "wall_time_s_mean": "bfgs_wall_time_s_mean"})
    out = summary.loc[~is_base, cols].merge(base, on=["experiment", "n"], how="left")
    out = out.merge(failed_totals(fractions), on=["experiment", "solver", "n"], how="left")
    return sort_frame(out, experiments=experiments, solvers=solvers)


def failed_totals(fractions: pd.DataFrame) -> pd.DataFrame:
    """Per (experiment, solver, n), summed over seeds: problems the method failed on
    (``failed_total``), problems BFGS failed on (``bfgs_failed_total``) and all problems
    (``problems_total``). Failed problems count in no fraction (invnet.analysis)."""
    keys = ["experiment", "solver", "n"]
    frac = fractions.copy()
    for col in ("failed", "bfgs_failed"):
        if col not in frac:
            frac[col] = 0
    if "n_problems" not in frac:
        frac["n_problems"] = float("nan")
    out = frac.groupby(keys, sort=False)[["failed", "bfgs_failed", "n_problems"]].sum(min_count=1)
    return out.rename(columns={"failed": "failed_total", "bfgs_failed": "bfgs_failed_total",
                               "n_problems": "problems_total"}).reset_index()


def display(table: pd.DataFrame, inputs: TableInputs, latex: bool) -> pd.DataFrame:
    """Human-readable Table 2: one 'mean ± std' cell per outcome; experiments and methods by label."""
    pm = plus_minus(latex)
    rows = []
    for rec in table.to_dict("records"):
        row = inputs.row_head(rec, latex)
        for o in OUTCOMES:
            row[OUTCOME_HEADERS[o]] = mean_pm_std(rec[f"{o}_mean"], rec[f"{o}_std"], pm=pm)
        row["Evals"] = count_cell(rec.get("mean_total_evaluations_mean", rec.get("mean_evaluations_mean", float("nan"))))
        row["BFGS evals"] = count_cell(rec.get("bfgs_evaluations_mean", float("nan")))
        total = rec.get("problems_total", float("nan"))
        row["Failed"] = failed_cell(rec.get("failed_total", float("nan")), total)
        row["BFGS failed"] = failed_cell(rec.get("bfgs_failed_total", float("nan")), total)
        row["Seeds"] = str(int(rec["n_seeds"]))
        rows.append(row)
    columns = ["Experiment", "Method", "n", *OUTCOME_HEADERS.values(), "Evals", "BFGS evals", "Failed",
               "BFGS failed", "Seeds"]
    return pd.DataFrame(rows, columns=columns)


def caption(rtol: float, latex: bool = True) -> str:
    if latex:
        return (
            "Fraction of problems on which each method beats BFGS "
            rf"($L_M < L_\mathrm{{BFGS}}\,(1-r)$), ties, or is beaten by it "
            rf"($L_M > L_\mathrm{{BFGS}}\,(1+r)$), $r = {rtol:g}$; "
            r"mean $\pm$ standard deviation over seeds. Evals: forward (and gradient) evaluations "
            r"per problem spent by the method (refinements include the run they start from) and by "
            r"BFGS, mean over seeds. Failed: problems (summed over seeds) on which the method, or BFGS, "
            r"ended with a NaN or infinite loss or an optimiser failure; they count in no fraction."
        )
    return (
        "Fraction of problems on which each method beats BFGS (L_M < L_BFGS·(1−r)), ties, "
        f"or is beaten by it (L_M > L_BFGS·(1+r)), r = {rtol:g}; mean ± standard deviation "
        "over seeds. Evals: forward (and gradient) evaluations per problem spent by the method "
        "(refinements include the run they start from) and by BFGS, mean over seeds. Failed: "
        "problems (summed over seeds) on which the method, or BFGS, ended with a NaN or infinite "
        "loss or an optimiser failure; they count in no fraction."
    )


def render(inputs: TableInputs) -> Rendered:
    table = numeric(inputs.tables["fractions"], inputs.solvers, inputs.experiments)
    rtol = float(inputs.settings["compare_rtol"])
    return Rendered.of(table, lambda latex: display(table, inputs, latex), lambda latex: caption(rtol, latex=latex),
                       "tab:beat-bfgs", "llrcccrrrrr")


TABLE = TableSpec(
    name="table2",
    doc="Table 2: beat/tie/lose against BFGS per method and n, with evaluations and failed problems",
    render=render,
    reads=("fractions",),
)
