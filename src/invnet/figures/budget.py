"""Budget figure for every experiment: where a win costs what.

(a) fraction of problems on which the primary method (JPO) beats a multi-start classical
    baseline: the best of its first k runs from x0 and prior draws (BFGS multi-start), against
    the evaluations per problem those k runs spent (one line per n, mean ± std over seeds;
    dashed: the multi-start better); the primary method's own evaluations per problem marked.
    Every multi-start solver of the budget table (its ``classical`` column) is drawn, in table
    order, each with its own marker.
(b) mean final loss against evaluations per problem for every configured solver (largest n, mean
    over seeds) in table order, a multi-start solver as a curve over k.
"""

from __future__ import annotations

import os

import numpy as np

from ..analysis import seed_spread
from .base import FigureInputs, FigureSpec, with_baseline
from .failures import add_note, failed_note
from .style import DOUBLE_COLUMN, apply_style, save_figure, solver_style


def _plain_log_axis(ax) -> None:
    """Log x axis with plain numbers (1, 10, 100, ...); minor ticks labelled only where the axis
    spans less than a decade (else it could show no number at all). Call after drawing."""
    from matplotlib.ticker import FuncFormatter, NullFormatter

    plain = FuncFormatter(lambda v, _: f"{v:,.0f}" if v >= 1 else f"{v:g}")
    ax.set_xscale("log")
    ax.xaxis.set_major_formatter(plain)
    lo, hi = ax.get_xlim()
    ax.xaxis.set_minor_formatter(plain if 0 < lo and hi / lo < 10 else NullFormatter())


def _no_data(ax, text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, fontsize=7, wrap=True)
    ax.set_axis_off()


def plot(inputs: FigureInputs, pdf: str | os.PathLike, png: str | os.PathLike):
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    apply_style()
    experiment = inputs.experiments[0]
    solvers = with_baseline(inputs.solvers, "budget")
    primary = solvers.primary
    label = solvers.label(primary) if primary is not None else "the primary method"
    bud = inputs.tables["budget"]
    bud = bud[bud["experiment"] == experiment] if not bud.empty else bud
    summ = inputs.tables["summary"]
    summ = summ[summ["experiment"] == experiment]
    fig, (ax_a, ax_b) = plt.subplots(1, 2, figsize=(DOUBLE_COLUMN, 2.9), layout="constrained")

    sel = bud[bud["solver"] == primary] if not bud.empty else bud
    multi = solvers.order(sel["classical"]) if not sel.empty else []
    if sel.empty:
        _no_data(ax_a, f"no runs of {label} and of a multi-start solver to compare\n"
                       "(configure both for the experiment)")
    else:
        sizes = sorted(int(n) for n in sel["n"].unique())
        shades = plt.get_cmap("Blues")(np.linspace(0.45, 0.95, len(sizes)))
        for classical in multi:
            marker = solver_style(solvers, classical)["marker"]
            for n, color in zip(sizes, shades):
                grp = sel[(sel["n"] == n) & (sel["classical"] == classical)]
                ks = sorted(int(k) for k in grp["starts"].unique())
                evals = [grp.loc[grp["starts"] == k, "evaluations_classical"].mean() for k in ks]
                for outcome, ls in (("beat", "-"), ("lose", "--")):
                    stats = [seed_spread(grp.loc[grp["starts"] == k, outcome]) for k in ks]
                    ax_a.errorbar(evals, [s["mean"] for s in stats], yerr=np.nan_to_num([s["std"] for s in stats]),
                                  color=color, ls=ls, marker=marker, mfc=color if ls == "-" else "white",
                                  lw=1.1 if ls == "-" else 0.8)
                if n == sizes[-1]:  # name the number of starts k at each point of the largest n
                    beat = [seed_spread(grp.loc[grp["starts"] == k, "beat"])["mean"] for k in ks]
                    for k, e, b in zip(ks, evals, beat):
                        ax_a.annotate(f"k={k}", (e, b), textcoords="offset points", xytext=(5, -11),
                                      ha="left", fontsize=6, color="0.25")
        method_evals = float(sel["evaluations_method"].mean())
        method_color = solver_style(solvers, primary)["color"]
        ax_a.axvline(method_evals, color=method_color, lw=1.0, ls=":")
        _plain_log_axis(ax_a)
        ax_a.set_ylim(-0.02, 1.45)
        ax_a.set_xlabel("evaluations per problem of the multi-start baseline")
        ax_a.set_ylabel("fraction of problems")
        handles = [Line2D([], [], color=c, marker="o", label=f"$n = {n}$") for n, c in zip(sizes, shades)]
        if len(multi) > 1:  # which marker is which multi-start solver
            handles += [Line2D([], [], color="0.3", ls="none", marker=solver_style(solvers, c)["marker"],
                               label=solvers.label(c)) for c in multi]
        handles += [Line2D([], [], color="0.3", ls="-", label=f"{label} better"),
                    Line2D([], [], color="0.3", ls="--", mfc="white", marker="o", label="multi-start better"),
                    Line2D([], [], color=method_color, ls=":", label=f"{label}: {method_evals:,.0f} evals")]
        ax_a.legend(handles=handles, loc="upper center", ncol=2, fontsize=6)
    against = " and ".join(solvers.label(c) for c in multi)
    ax_a.set_title(f"(a) {label} against best of k starts ({against})" if multi
                   else f"(a) {label} against a multi-start solver", fontsize=8)

    if summ.empty:
        _no_data(ax_b, "no runs")
    else:
        n = int(summ["n"].max())
        at_n = summ[summ["n"] == n]
        for solver in solvers.order(at_n["solver"]):
            row = at_n[at_n["solver"] == solver].iloc[0]
            style = solver_style(solvers, solver)
            curve = bud[(bud["n"] == n) & (bud["classical"] == solver)] if not bud.empty else bud
            if not curve.empty:
                ks = sorted(int(k) for k in curve["starts"].unique())
                e = [curve.loc[curve["starts"] == k, "evaluations_classical"].mean() for k in ks]
                loss = [curve.loc[curve["starts"] == k, "mean_loss_classical"].mean() for k in ks]
                ax_b.plot(e, loss, color=style["color"], ls=style["linestyle"], marker=style["marker"],
                          label=f"{style['label']} (k = {ks[0]}…{ks[-1]})")
            else:
                cost = row.get("mean_total_evaluations_mean", row["mean_evaluations_mean"])
                ax_b.plot([cost], [row["mean_loss_mean"]], ls="none",
                          color=style["color"], marker=style["marker"], ms=6, label=style["label"])
        _plain_log_axis(ax_b)
        low, high = ax_b.get_ylim()
        if np.isfinite([low, high]).all():
            ax_b.set_ylim(low, high + 0.55 * (high - low))
        ax_b.set_xlabel("evaluations per problem (refinements: incl. their start run)")
        ax_b.set_ylabel("mean final loss")
        ax_b.legend(fontsize=6, loc="upper center", ncol=2)
        ax_b.set_title(f"(b) loss against cost, $n = {n}$", fontsize=8)
    # losses are means over the problems each method solved with a finite loss
    add_note(fig, failed_note(summ_failed(inputs, experiment), experiment, solvers),
             f"{inputs.labels[experiment]}: what each method spent")
    return save_figure(fig, pdf, png)


def summ_failed(inputs: FigureInputs, experiment: str):
    """Failed problems per solver at the largest n, from the summary (failed_mean x n_seeds)."""
    import pandas as pd

    summ = inputs.tables["summary"]
    if summ.empty or "failed_mean" not in summ:
        return pd.DataFrame()
    summ = summ[summ["experiment"] == experiment]
    summ = summ[summ["n"] == summ["n"].max()]
    return pd.DataFrame({
        "experiment": experiment, "solver": summ["solver"], "n": summ["n"],
        "failed": (summ["failed_mean"] * summ["n_seeds"]).round(),
        "n_problems": summ["n"] * summ["n_seeds"],
    })


FIGURE = FigureSpec(
    name="budget",
    doc="the primary method against multi-start solvers at matched evaluations; loss against cost for every method",
    plot=plot,
    reads=("budget", "summary"),
)
