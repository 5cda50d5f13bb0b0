"""Appendix figure for every experiment: per-problem final loss of each method against BFGS's
(log–log, largest n, all seeds), the diagonal marked. Points below the diagonal are problems on
which the method found the lower loss; the title of each panel gives the beat/lose fractions."""

from __future__ import annotations

import os

import numpy as np

from ..analysis import BASELINE, OUTCOMES, ordered_solvers, solver_label
from .base import FigureInputs, FigureSpec
from .style import DOUBLE_COLUMN, apply_style, save_figure, solver_style


def plot(inputs: FigureInputs, pdf: str | os.PathLike, png: str | os.PathLike) -> None:
    import matplotlib.pyplot as plt

    apply_style()
    experiment = inputs.experiments[0]
    out = inputs.tables["outcomes"]
    out = out[out["experiment"] == experiment]
    n = int(out["n"].max())
    sel = out[(out["n"] == n) & (out["solver"] != BASELINE)]
    methods = ordered_solvers(sel["solver"])
    cols = min(len(methods), 4) or 1
    rows = -(-len(methods) // cols) or 1
    fig, axes = plt.subplots(
        rows, cols, figsize=(DOUBLE_COLUMN, 1.9 * rows + 0.4), layout="constrained", squeeze=False
    )
    tiny = np.finfo(np.float64).tiny
    for ax, solver in zip(axes.flat, methods):
        grp = sel[sel["solver"] == solver]
        ok = np.isfinite(grp["loss"]) & np.isfinite(grp["loss_bfgs"])
        x = np.maximum(grp.loc[ok, "loss_bfgs"].to_numpy(), tiny)
        y = np.maximum(grp.loc[ok, "loss"].to_numpy(), tiny)
        style = solver_style(solver)
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
        compared = grp["outcome"].isin(OUTCOMES)
        beat = float((grp["outcome"] == "beat").sum() / compared.sum()) if compared.any() else float("nan")
        lose = float((grp["outcome"] == "lose").sum() / compared.sum()) if compared.any() else float("nan")
        dropped = int((~compared).sum())
        # own line: titles stay short; failed problems (either side) count in neither fraction
        note = f"\n{dropped} failed (NaN / inf) left out" if dropped else ""
        ax.set_title(f"{solver_label(solver)}: beats {beat:.2f}, loses {lose:.2f}{note}".replace("nan", "–"),
                     fontsize=7)
        ax.set_xlabel(r"$L_\mathrm{BFGS}$")
        ax.set_ylabel(f"$L$ of {solver_label(solver)}")
    for ax in list(axes.flat)[len(methods):]:
        ax.set_visible(False)
    fig.suptitle(f"{inputs.labels[experiment]}: per-problem final loss against BFGS, $n = {n}$", fontsize=9)
    save_figure(fig, pdf, png)


FIGURE = FigureSpec(
    name="scatter",
    doc="per-problem loss of each method against BFGS (log-log, diagonal), largest n",
    plot=plot,
    reads=("outcomes",),
)
