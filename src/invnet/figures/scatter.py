"""Appendix figure for every experiment: per-problem final loss of each method against the
baseline's (BFGS; log–log, largest n, all seeds), the diagonal marked. Points below the diagonal
are problems on which the method found the lower loss; the title of each panel gives the
beat/lose fractions (:func:`invnet.analysis.outcome_fractions`: failed problems are in neither).
Methods: every configured solver but the baseline, in table order (a solver the package does not
know included)."""

from __future__ import annotations

import os

import numpy as np

from ..analysis import OUTCOMES, outcome_fractions
from .base import FigureInputs, FigureSpec, with_baseline
from .style import DOUBLE_COLUMN, apply_style, loss_label, save_figure, solver_style


def plot(inputs: FigureInputs, pdf: str | os.PathLike, png: str | os.PathLike):
    import matplotlib.pyplot as plt

    apply_style()
    experiment = inputs.experiments[0]
    solvers = with_baseline(inputs.solvers, "scatter")
    out = inputs.tables["outcomes"]
    out = out[out["experiment"] == experiment]
    n = int(out["n"].max())
    sel = out[(out["n"] == n) & (out["solver"] != solvers.baseline)]
    methods = solvers.order(sel["solver"])
    cols = min(len(methods), 4) or 1
    rows = -(-len(methods) // cols) or 1
    fig, axes = plt.subplots(
        rows, cols, figsize=(DOUBLE_COLUMN, 2.1 * rows + 0.4), layout="constrained", squeeze=False
    )
    tiny = np.finfo(np.float64).tiny
    for ax, solver in zip(axes.flat, methods):
        grp = sel[sel["solver"] == solver]
        ok = np.isfinite(grp["loss"]) & np.isfinite(grp["loss_bfgs"])
        x = np.maximum(grp.loc[ok, "loss_bfgs"].to_numpy(), tiny)
        y = np.maximum(grp.loc[ok, "loss"].to_numpy(), tiny)
        style = solver_style(solvers, solver)
        ax.scatter(x, y, s=6, color=style["color"], marker=style["marker"], alpha=0.6, lw=0)
        if x.size:
            lo, hi = min(x.min(), y.min()), max(x.max(), y.max())
            ax.plot([lo, hi], [lo, hi], color="0.4", lw=0.7, ls="--")
        if x.size:
            ax.set_xscale("log")
            ax.set_yscale("log")
        else:
            ax.text(0.5, 0.5, "no problem with finite losses", ha="center", va="center",
                    transform=ax.transAxes, fontsize=7)
            ax.set_xticks([])
            ax.set_yticks([])
        fractions = outcome_fractions(grp["outcome"])
        dropped = int((~grp["outcome"].isin(OUTCOMES)).sum())
        # failed problems (either side) count in neither fraction: said on a line of its own
        note = f"\n{dropped} failed (NaN / inf) left out" if dropped else ""
        # the label on a line of its own: four long labels side by side would run into each other
        title = f"{style['label']}\nbeats {fractions['beat']:.2f}, loses {fractions['lose']:.2f}{note}"
        ax.set_title(title.replace("nan", "–"), fontsize=7)
        ax.set_xlabel(loss_label(solvers, solvers.baseline))
        ax.set_ylabel(f"$L$ of {style['label']}")
    for ax in list(axes.flat)[len(methods):]:
        ax.set_visible(False)
    fig.suptitle(f"{inputs.labels[experiment]}: per-problem final loss against "
                 f"{solvers.label(solvers.baseline)}, $n = {n}$", fontsize=9)
    return save_figure(fig, pdf, png)


FIGURE = FigureSpec(
    name="scatter",
    doc="per-problem loss of each method against the baseline (log-log, diagonal), largest n",
    plot=plot,
    reads=("outcomes",),
)
