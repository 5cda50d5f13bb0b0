"""A figure outside the package: the mean final loss of every method at the largest n, a bar per
method in table order (every configured solver, with its own label and colour)."""

from __future__ import annotations

import os

import numpy as np

from invnet.figures import FigureInputs, FigureSpec
from invnet.figures.style import SINGLE_COLUMN, apply_style, save_figure, solver_style


def plot(inputs: FigureInputs, pdf: str | os.PathLike, png: str | os.PathLike):
    import matplotlib.pyplot as plt

    apply_style()
    experiment = inputs.experiments[0]
    frac = inputs.tables["fractions"]
    frac = frac[(frac["experiment"] == experiment) & (frac["n"] == frac["n"].max())]
    methods = inputs.solvers.order(frac["solver"])
    means = [float(np.nanmean(frac.loc[frac["solver"] == m, "mean_loss"])) for m in methods]
    fig, ax = plt.subplots(figsize=(SINGLE_COLUMN, 2.4), layout="constrained")
    styles = [solver_style(inputs.solvers, m) for m in methods]
    ax.bar(range(len(methods)), means, color=[s["color"] for s in styles])
    ax.set_xticks(range(len(methods)), [s["label"] for s in styles], rotation=45, ha="right")
    ax.set_yscale("log")
    ax.set_ylabel("mean final loss")
    ax.set_title(f"{inputs.labels[experiment]}: mean final loss per method")
    return save_figure(fig, pdf, png)


FIGURE = FigureSpec(
    name="lab_loss_ranking",
    doc="mean final loss of every method at the largest n",
    plot=plot,
    reads=("fractions",),
)
