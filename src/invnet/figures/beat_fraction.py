"""Appendix figure for every experiment: fraction of problems on which each method beats BFGS
(solid) and on which BFGS is better (dashed) against n, mean ± std over seeds."""

from __future__ import annotations

import os

import numpy as np

from ..analysis import BASELINE, ordered_solvers, seed_spread
from .base import FigureInputs, FigureSpec
from .notes import add_note, failed_note
from .style import SINGLE_COLUMN, apply_style, fraction_vs_n_axis, save_figure, solver_style


def plot(inputs: FigureInputs, pdf: str | os.PathLike, png: str | os.PathLike) -> None:
    import matplotlib.pyplot as plt

    apply_style()
    experiment = inputs.experiments[0]
    frac = inputs.tables["fractions"]
    note = failed_note(frac, experiment)
    frac = frac[(frac["experiment"] == experiment) & (frac["solver"] != BASELINE)]
    sizes = sorted(int(n) for n in frac["n"].unique())
    fig, axes = plt.subplots(1, 2, figsize=(2 * SINGLE_COLUMN, 2.6), layout="constrained", sharey=True)
    methods = ordered_solvers(frac["solver"])
    for ax, outcome, title in ((axes[0], "beat", "beats BFGS"), (axes[1], "lose", "BFGS better")):
        for solver in methods:
            stats = [seed_spread(frac[(frac["solver"] == solver) & (frac["n"] == n)][outcome]) for n in sizes]
            style = solver_style(solver)
            ax.errorbar(
                sizes,
                [s["mean"] for s in stats],
                yerr=np.nan_to_num([s["std"] for s in stats]),
                color=style["color"], marker=style["marker"], ls=style["linestyle"], label=style["label"],
            )
        fraction_vs_n_axis(ax, sizes)
        ax.set_title(f"fraction of problems: method {title}" if outcome == "beat" else f"fraction: {title}")
    axes[0].set_ylabel("fraction of problems")
    fig.legend(*axes[0].get_legend_handles_labels(), loc="outside lower center", ncol=min(len(methods), 4))
    add_note(fig, note, f"{inputs.labels[experiment]}: comparison with BFGS (mean ± std over seeds)")
    save_figure(fig, pdf, png)


FIGURE = FigureSpec(
    name="beat_fraction",
    doc="fraction of problems on which each method beats BFGS (and loses) against n",
    plot=plot,
    reads=("fractions",),
)
