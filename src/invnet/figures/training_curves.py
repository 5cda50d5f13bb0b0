"""Appendix figure for every experiment: training and optimisation curves with their spread over
seeds. One panel per method (every configured solver that recorded a loss history, in table order;
a solver the package does not know included), one curve per n: the mean training loss (mean of L
over the n problems at each recorded iteration) averaged over seeds, with the min–max band over
seeds (:func:`invnet.analysis.history_band`: a finished run keeps its last loss), on log–log axes
shared by every panel so methods compare at a glance. The lightest shade is the smallest n, the
solver's own colour the largest.

Iterations are each method's own: optimiser iterations of a per-problem solver, training steps of
a network, iterations of a refinement after the run it starts from (its curve starts at that run's
loss), the best over the starts of a multi-start run.
"""

from __future__ import annotations

import os

import numpy as np

from ..analysis import history_band
from .base import FigureInputs, FigureSpec
from .log_ticks import plain_log_ticks
from .style import DOUBLE_COLUMN, apply_style, save_figure, solver_style

COLUMNS = 4  # panels per row


def shades(color, count: int) -> list[tuple[float, float, float]]:
    """``count`` tints of ``color`` from light (mixed with white) to the colour itself."""
    c = np.asarray(color[:3], dtype=np.float64)
    mix = np.linspace(0.55, 0.0, count) if count > 1 else np.zeros(1)
    return [tuple(c * (1 - w) + w) for w in mix]


def plot(inputs: FigureInputs, pdf: str | os.PathLike, png: str | os.PathLike):
    """Render the training curves of one experiment; return the figure."""
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    apply_style()
    experiment = inputs.experiments[0]
    solvers = inputs.solvers
    hist = inputs.tables["history"]
    hist = hist[hist["experiment"] == experiment] if not hist.empty else hist
    sizes = sorted(int(n) for n in hist["n"].unique()) if not hist.empty else []
    methods = solvers.order(hist["solver"]) if not hist.empty else []
    without = [solvers.label(s) for s in solvers if s not in methods]
    cols = min(len(methods), COLUMNS) or 1
    rows = -(-len(methods) // cols) or 1
    fig, axes = plt.subplots(rows, cols, figsize=(DOUBLE_COLUMN, 1.85 * rows + 0.9), layout="constrained",
                             squeeze=False, sharey=True)
    for ax, solver in zip(axes.flat, methods):
        style = solver_style(solvers, solver)
        for n, color in zip(sizes, shades(style["color"], len(sizes))):
            band = history_band(hist, experiment, n, [solver])
            if band.empty:
                continue
            x = band["step"].to_numpy() + 1
            ax.plot(x, band["mean"], color=color, lw=1.1, ls=style["linestyle"], label=f"$n = {n}$")
            ax.fill_between(x, band["min"], band["max"], color=color, alpha=0.22, lw=0)
        ax.set_xscale("log")
        ax.set_yscale("log")
        plain_log_ticks(ax.xaxis)
        ax.set_title(style["label"], fontsize=8)
        ax.set_xlabel("iteration + 1", fontsize=7)
        ax.legend(fontsize=6, loc="best", handlelength=1.6)
    for ax in axes[:, 0]:
        ax.set_ylabel("mean training loss")
        if methods:
            plain_log_ticks(ax.yaxis)  # shared: after every panel is drawn
    for ax in list(axes.flat)[len(methods):]:
        ax.set_visible(False)
    if not methods:
        axes[0, 0].text(0.5, 0.5, "no loss histories recorded", ha="center", va="center",
                        transform=axes[0, 0].transAxes, fontsize=8)
        axes[0, 0].set_visible(True)
    handles = [Line2D([], [], color="0.3", lw=1.1, label="mean over seeds"),
               Patch(color="0.3", alpha=0.22, lw=0, label="min–max over seeds")]
    fig.legend(handles=handles, loc="outside lower center", ncol=2, fontsize=7)
    note = f"\nno loss history: {', '.join(without)}" if without else ""
    fig.suptitle(f"{inputs.labels[experiment]}: training and optimisation curves per n "
                 f"(lighter = smaller n){note}", fontsize=8)
    return save_figure(fig, pdf, png)


FIGURE = FigureSpec(
    name="training_curves",
    doc="mean training loss against iteration per method and n, mean and min-max over seeds",
    plot=plot,
    reads=("history",),
    caption=(
        "Training and optimisation curves: for each method (panel) and n (shade), the mean loss over the "
        "training problems against the method's own iterations, averaged over seeds with the min–max "
        "band over seeds; log–log, one loss scale for all panels."
    ),
)
