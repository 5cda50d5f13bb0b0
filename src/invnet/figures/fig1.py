"""Figure 1, the method (docs/experiments.md §1), drawn by code from nothing: parameterised
optimisation (JPO) above, the classical per-problem loop below.

JPO: the targets y*_i and identifiers γ_i of all n problems enter one network N_θ, which predicts
x_i; the forward process F maps x_i to y_i = F(x_i | γ_i); the loss L(y_i, y*_i) lives in F's
output space; the sum over i is backpropagated through F into θ. Classical: each problem i has its
own x_i, updated by its own optimiser (BFGS, GD) from the shared x0 using only its own gradient.
"""

from __future__ import annotations

import os

from .base import FigureInputs, FigureSpec
from .style import SINGLE_COLUMN, apply_style, save_figure

FONT = 7


def _box(ax, x, y, w, h, text, color, fontsize=FONT, weight="normal"):
    from matplotlib.patches import FancyBboxPatch

    ax.add_patch(
        FancyBboxPatch(
            (x - w / 2, y - h / 2), w, h, boxstyle="round,pad=0.02,rounding_size=0.06",
            facecolor=color, edgecolor="0.25", lw=0.8,
        )
    )
    ax.text(x, y, text, ha="center", va="center", fontsize=fontsize, weight=weight)


def _arrow(ax, start, end, color="0.15", style="-|>", ls="-", rad=0.0, lw=0.9):
    from matplotlib.patches import FancyArrowPatch

    ax.add_patch(
        FancyArrowPatch(
            start, end, arrowstyle=style, mutation_scale=8, color=color, lw=lw, linestyle=ls,
            connectionstyle=f"arc3,rad={rad}", shrinkA=0, shrinkB=0,
        )
    )


def plot(inputs: FigureInputs, pdf: str | os.PathLike, png: str | os.PathLike):
    import matplotlib.pyplot as plt
    import seaborn as sns

    apply_style()
    pal = sns.color_palette("pastel", 10)
    strong = sns.color_palette("colorblind", 10)
    fig = plt.figure(figsize=(SINGLE_COLUMN, 3.3))
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, 10)
    ax.set_ylim(0, 9.6)
    ax.axis("off")

    # ---------------------------------------------------------------- (a) JPO
    ax.text(0.15, 9.25, "(a) parameterised optimisation (JPO)", fontsize=8, weight="bold", va="center")
    y = 7.45
    _box(ax, 1.05, y + 0.55, 1.7, 0.8, "target $y^*_i$", pal[0])
    _box(ax, 1.05, y - 0.55, 1.7, 0.8, r"identifier $\gamma_i$", pal[0])
    _box(ax, 3.35, y, 1.55, 1.4, "network\n" + r"$\mathcal{N}_\theta$", pal[1], fontsize=8)
    _box(ax, 5.15, y, 0.95, 0.8, "$x_i$", pal[2], fontsize=8)
    _box(ax, 6.95, y, 1.5, 1.1, "forward\nprocess $F$", pal[3])
    _box(ax, 8.95, y, 1.5, 1.1, "loss\n" + r"$L(y_i, y^*_i)$", pal[4])
    _arrow(ax, (1.9, y + 0.55), (2.57, y + 0.2))
    _arrow(ax, (1.9, y - 0.55), (2.57, y - 0.2))
    _arrow(ax, (4.13, y), (4.67, y))
    _arrow(ax, (5.63, y), (6.2, y))
    _arrow(ax, (7.7, y), (8.2, y))
    ax.text(7.95, y + 0.22, "$y_i$", fontsize=FONT, ha="center", va="bottom")
    ax.text(6.95, y - 0.75, r"$\gamma_i$", fontsize=FONT, ha="center", va="top")
    _arrow(ax, (6.95, y - 0.78), (6.95, y - 0.55), lw=0.7)
    # backpropagation of the summed loss into theta
    _arrow(ax, (8.95, y - 0.55), (3.35, y - 0.7), color=strong[3], ls="--", rad=-0.32, lw=1.0)
    ax.text(
        6.1, 5.45, r"$\nabla_\theta\, \Sigma_i\, L_i$: one update of $\theta$ for all $n$ problems",
        fontsize=FONT, ha="center", va="center", color=strong[3],
    )

    # ---------------------------------------------------------------- (b) classical
    ax.axhline(4.75, xmin=0.02, xmax=0.98, color="0.75", lw=0.6)
    ax.text(0.15, 4.35, "(b) classical: each problem on its own", fontsize=8, weight="bold", va="center")
    y = 2.55
    _box(ax, 1.05, y, 1.7, 0.9, "start $x_0$\n(shared)", pal[7])
    _box(ax, 3.35, y, 1.55, 1.1, "optimiser\nBFGS / GD", pal[1], fontsize=6.5)
    _box(ax, 5.15, y, 0.95, 0.8, "$x_i$", pal[2], fontsize=8)
    _box(ax, 6.95, y, 1.5, 1.1, "forward\nprocess $F$", pal[3])
    _box(ax, 8.95, y, 1.5, 1.1, "loss\n" + r"$L(y_i, y^*_i)$", pal[4])
    _arrow(ax, (1.9, y), (2.57, y))
    _arrow(ax, (4.13, y), (4.67, y))
    _arrow(ax, (5.63, y), (6.2, y))
    _arrow(ax, (7.7, y), (8.2, y))
    ax.text(7.95, y + 0.22, "$y_i$", fontsize=FONT, ha="center", va="bottom")
    _arrow(ax, (8.95, y - 0.55), (3.35, y - 0.55), color=strong[3], ls="--", rad=-0.32, lw=1.0)
    ax.text(
        6.1, 0.55, r"$\nabla_{x_i} L_i$ only: problem $i$ never sees the others",
        fontsize=FONT, ha="center", va="center", color=strong[3],
    )
    ax.text(9.85, 3.55, r"$\times\, n$ separate loops", fontsize=FONT, ha="right", va="center", style="italic")
    return save_figure(fig, pdf, png)


FIGURE = FigureSpec(
    name="fig1",
    doc="schematic of parameterised optimisation (JPO) beside the classical per-problem loop",
    plot=plot,
    families=(),
    per_experiment=False,
    reads=(),
)
