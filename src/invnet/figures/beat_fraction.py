"""Appendix figure for every experiment: fraction of problems on which each method beats the
baseline (BFGS; left) and on which the baseline is better (right) against n, mean ± std over
seeds. Methods: every configured solver but the baseline, in table order (a solver the package
does not know included)."""

from __future__ import annotations

import os

from .base import FigureInputs, FigureSpec, with_baseline
from .failures import add_note, failed_note
from .fractions_vs_n import compared, draw_fraction, fraction_vs_n_axis, sizes_of
from .style import SINGLE_COLUMN, apply_style, save_figure, solver_style


def plot(inputs: FigureInputs, pdf: str | os.PathLike, png: str | os.PathLike):
    import matplotlib.pyplot as plt

    apply_style()
    experiment = inputs.experiments[0]
    solvers = with_baseline(inputs.solvers, "beat_fraction")
    base = solvers.label(solvers.baseline)
    note = failed_note(inputs.tables["fractions"], experiment, solvers)
    frac = compared(inputs.tables["fractions"], experiment, solvers)
    sizes = sizes_of(frac)
    fig, axes = plt.subplots(1, 2, figsize=(2 * SINGLE_COLUMN, 2.6), layout="constrained", sharey=True)
    methods = solvers.order(frac["solver"])
    for ax, outcome, title in ((axes[0], "beat", f"method beats {base}"), (axes[1], "lose", f"{base} better")):
        for solver in methods:
            draw_fraction(ax, frac, solver, outcome, solvers, sizes, ls=solver_style(solvers, solver)["linestyle"])
        fraction_vs_n_axis(ax, sizes)
        ax.set_title(f"fraction of problems: {title}" if outcome == "beat" else f"fraction: {title}")
    axes[0].set_ylabel("fraction of problems")
    fig.legend(*axes[0].get_legend_handles_labels(), loc="outside lower center", ncol=min(len(methods), 4))
    add_note(fig, note, f"{inputs.labels[experiment]}: comparison with {base} (mean ± std over seeds)")
    return save_figure(fig, pdf, png)


FIGURE = FigureSpec(
    name="beat_fraction",
    doc="fraction of problems on which each method beats the baseline (and loses) against n",
    plot=plot,
    reads=("fractions",),
)
