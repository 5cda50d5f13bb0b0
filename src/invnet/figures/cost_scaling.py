"""Appendix figure for every experiment: how the cost of each method grows with the number of
problems n. (a) forward evaluations per problem, (b) wall time per run (the whole problem set),
against n on log–log axes: the mean over seeds with the min–max range as error bar; the legend gives
each method's slope b of the least-squares line log10(cost) = a + b log10(n) through the means
(– with fewer than two n). A refinement (e.g. JPO + BFGS) counts the run it starts from in both,
seed by seed (:attr:`~invnet.solver_info.SolverSet.chain`). Methods: every configured solver, in
table order (a solver the package does not know included).

Slope 0 in (a) is a budget per problem that does not depend on n (BFGS, a network's training
steps: each step evaluates every problem once); slope 1 in (b) is a cost proportional to n.
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd

from ..analysis import seed_spread
from ..solver_info import SolverSet
from .base import FigureInputs, FigureSpec
from .log_ticks import plain_log_ticks
from .style import DOUBLE_COLUMN, apply_style, save_figure, solver_style

QUANTITIES = (
    ("evaluations", "forward evaluations per problem", "(a) evaluations per problem"),
    ("wall_time", "wall time per run [s]", "(b) wall time per run"),
)


def total_costs(frac: pd.DataFrame, solvers: SolverSet) -> pd.DataFrame:
    """Per (solver, n, seed) of one experiment's ``fractions`` rows: ``evaluations`` (the
    aggregate's total per problem, a refinement's start run included) and ``wall_time`` (the
    run's own plus that of every run it starts from, same n and seed)."""
    own = frac.set_index(["solver", "n", "seed"])["wall_time_s"]
    evals = frac["mean_total_evaluations"] if "mean_total_evaluations" in frac else frac["mean_evaluations"]
    rows = []
    for rec, total_evals in zip(frac.to_dict("records"), evals):
        wall = sum(float(own.get((s, rec["n"], rec["seed"]), np.nan)) for s in solvers.chain(rec["solver"]))
        rows.append({"solver": rec["solver"], "n": int(rec["n"]), "seed": int(rec["seed"]),
                     "evaluations": float(total_evals), "wall_time": wall})
    return pd.DataFrame(rows, columns=["solver", "n", "seed", "evaluations", "wall_time"])


def log_slope(n: np.ndarray, cost: np.ndarray) -> float:
    """Least-squares slope of log10(cost) on log10(n) over the finite positive costs; NaN with
    fewer than two distinct n."""
    n, cost = np.asarray(n, dtype=np.float64), np.asarray(cost, dtype=np.float64)
    ok = np.isfinite(cost) & (cost > 0) & (n > 0)
    if np.unique(n[ok]).size < 2:
        return float("nan")
    return float(np.polyfit(np.log10(n[ok]), np.log10(cost[ok]), 1)[0])


def plot(inputs: FigureInputs, pdf: str | os.PathLike, png: str | os.PathLike):
    """Render the cost scaling of one experiment; return the figure."""
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FixedLocator, NullLocator

    apply_style()
    experiment = inputs.experiments[0]
    solvers = inputs.solvers
    frac = inputs.tables["fractions"]
    frac = frac[frac["experiment"] == experiment]
    costs = total_costs(frac, solvers)
    sizes = sorted(int(n) for n in costs["n"].unique())
    methods = solvers.order(costs["solver"])
    fig, axes = plt.subplots(1, 2, figsize=(DOUBLE_COLUMN, 3.9), layout="constrained")
    for ax, (column, ylabel, title) in zip(axes, QUANTITIES):
        for solver in methods:
            grp = costs[costs["solver"] == solver]
            stats = [seed_spread(grp.loc[grp["n"] == n, column]) for n in sizes]
            mean = np.array([s["mean"] for s in stats])
            err = np.array([[s["mean"] - s["min"] for s in stats], [s["max"] - s["mean"] for s in stats]])
            slope = log_slope(np.asarray(sizes), mean)
            style = solver_style(solvers, solver)
            text = f"{slope:.2f}" if np.isfinite(slope) else "–"
            ax.errorbar(sizes, mean, yerr=np.nan_to_num(err), color=style["color"], marker=style["marker"],
                        ls=style["linestyle"], lw=1.0, ms=4, label=f"{style['label']}: {text}")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.xaxis.set_major_locator(FixedLocator(sizes))
        ax.xaxis.set_minor_locator(NullLocator())
        ax.set_xticklabels([str(n) for n in sizes])
        plain_log_ticks(ax.yaxis)
        if len(sizes) == 1:
            ax.set_xlim(sizes[0] / 2, sizes[0] * 2)
        ax.set_xlabel("number of problems $n$")
        ax.set_ylabel(ylabel)
        ax.set_title(title, fontsize=8)
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2, fontsize=6.5, handlelength=1.8,
                  columnspacing=1.0, title="slope $b$ of log cost against log $n$", title_fontsize=6.5)
    fig.suptitle(f"{inputs.labels[experiment]}: cost against n (mean, min–max over seeds; refinements "
                 "include the run they start from)", fontsize=8)
    return save_figure(fig, pdf, png)


FIGURE = FigureSpec(
    name="cost_scaling",
    doc="evaluations per problem and wall time per run against n (log-log), fitted slopes per method",
    plot=plot,
    reads=("fractions",),
    caption=(
        "Cost of every method against the number of problems n: forward evaluations per problem (a) and "
        "wall time per run (b), mean over seeds with the min–max range; the legend gives the least-squares "
        "slope of log cost against log n (0: cost per problem independent of n; 1 in (b): proportional to n)."
    ),
)
