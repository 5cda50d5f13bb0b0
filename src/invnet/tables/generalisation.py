"""Generalisation table (docs/experiments.md §2.5): per experiment, n and network method, the
fraction of problems on which it beats the baseline (BFGS) on its training problems and on the
held-out new problems (BFGS run on each of them), mean ± std over seeds, and what each side spent
per problem: BFGS's evaluations per new problem, the network's per training problem and amortised
over every problem it answers, and its network passes per new problem. Reads the aggregate
``generalisation`` frames."""

from __future__ import annotations

import pandas as pd

from ..analysis import seed_spread, sort_frame
from .base import Rendered, TableInputs, TableSpec
from .render import count_cell, label_text, mean_pm_std, plus_minus

QUANTITIES = ("beat_known", "beat_new", "lose_new", "evaluations_reference_new", "evaluations_network",
              "amortised_evaluations", "inference_passes", "mean_loss_new", "mean_reference_loss_new")
CAPTION = (
    "Known and new problems: the fraction of problems on which each network method beats BFGS on its n "
    "training problems and on the held-out new problems (BFGS solving each new problem from x0), mean and "
    "standard deviation over seeds; evaluations of F per problem of BFGS on the new problems and of the "
    "network's training (per training problem, and amortised over the n training and n_test new problems it "
    "answers); network passes one new problem costs (no evaluation of F)."
)


def numeric(frame: pd.DataFrame, inputs: TableInputs) -> pd.DataFrame:
    """Per (experiment, solver, n) against the baseline: each quantity's mean and std over seeds."""
    columns = ["experiment", "solver", "n", "n_seeds", "n_test"] + [f"{q}_{s}" for q in QUANTITIES for s in ("mean", "std")]
    if frame.empty:
        return pd.DataFrame(columns=columns)
    sel = frame[frame["reference"] == inputs.solvers.baseline]
    rows = []
    for (experiment, solver, n), grp in sel.groupby(["experiment", "solver", "n"], sort=False):
        row = {"experiment": experiment, "solver": solver, "n": int(n), "n_seeds": int(grp["seed"].nunique()),
               "n_test": int(grp["n_test"].max())}
        for q in QUANTITIES:
            spread = seed_spread(grp[q])
            row[f"{q}_mean"], row[f"{q}_std"] = spread["mean"], spread["std"]
        rows.append(row)
    return sort_frame(pd.DataFrame(rows, columns=columns), experiments=inputs.experiments, solvers=inputs.solvers)


def display(table: pd.DataFrame, inputs: TableInputs, latex: bool) -> pd.DataFrame:
    pm = plus_minus(latex)
    base = label_text(inputs.solvers.label(inputs.solvers.baseline), latex)
    rows = []
    for rec in table.to_dict("records"):
        rows.append({
            **inputs.row_head(rec, latex),
            f"Beats {base}: known": mean_pm_std(rec["beat_known_mean"], rec["beat_known_std"], pm=pm),
            f"Beats {base}: new": mean_pm_std(rec["beat_new_mean"], rec["beat_new_std"], pm=pm),
            f"{base} evals / new problem": count_cell(rec["evaluations_reference_new_mean"]),
            "Network evals / training problem": count_cell(rec["evaluations_network_mean"]),
            "amortised": count_cell(rec["amortised_evaluations_mean"]),
            "Passes / new problem": count_cell(rec["inference_passes_mean"]),
            "Seeds": str(int(rec["n_seeds"])),
        })
    columns = ["Experiment", "Method", "n", f"Beats {base}: known", f"Beats {base}: new",
               f"{base} evals / new problem", "Network evals / training problem", "amortised",
               "Passes / new problem", "Seeds"]
    return pd.DataFrame(rows, columns=columns)


def render(inputs: TableInputs) -> Rendered:
    table = numeric(inputs.tables["generalisation"], inputs)
    return Rendered.of(table, lambda latex: display(table, inputs, latex), lambda latex: CAPTION,
                       "tab:generalisation", "llrrrrrrrr")


TABLE = TableSpec(
    name="generalisation",
    doc="network methods against BFGS on known and new problems, with both costs",
    render=render,
    reads=("generalisation",),
)
