"""Figure 2, gradient alignment at initialisation (docs/theory.md): measurement (mean over seeds,
band ±2 standard errors) against theory (lines), from the alignment study's table
``results/tables/fig2_alignment.csv``.

(a) shared ground truth, independent noise, against n (with the constant-kernel closed form
    Φ(√n·SNR) dashed); (b) noise-free, x*_i = 10·γ_i, against n; (c) x*_i = sin(2γ_i) under
    noise, sum of losses / voting / noise only / single problem, against the noise amplitude;
(d) the same against n.
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd

from .base import FigureInputs, FigureSpec
from .style import DOUBLE_COLUMN, apply_style, save_figure

STUDY = "alignment"
CURVES = {  # curve -> (label, palette index, marker)
    "sum": ("sum of losses (JPO)", 0, "o"),
    "vote": ("voting (sign of dL/dx)", 1, "s"),
    "single": ("single problem alone", 2, "^"),
    "noise": ("noise only (no signal)", 7, "x"),
}


def _draw(ax, frame: pd.DataFrame, curve: str, color, marker: str, label: str | None) -> None:
    d = frame[frame["curve"] == curve].sort_values("x")
    if d.empty:
        return
    x, m, se = d["x"].to_numpy(), d["measured"].to_numpy(), np.nan_to_num(d["stderr"].to_numpy())
    ax.fill_between(x, m - 2 * se, m + 2 * se, color=color, alpha=0.2, lw=0)
    ax.plot(x, m, ls="none", marker=marker, color=color, ms=3.5, label=label)
    ax.plot(x, d["theory"].to_numpy(), ls="-", color=color, lw=1.1)


def plot(inputs: FigureInputs, pdf: str | os.PathLike, png: str | os.PathLike):
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    apply_style()
    import seaborn as sns

    palette = sns.color_palette("colorblind", 10)
    table = inputs.tables[STUDY]
    seeds = int(table["seeds"].max()) if not table.empty else 0
    fig, axes = plt.subplots(2, 2, figsize=(DOUBLE_COLUMN, 4.6), layout="constrained")
    (ax_a, ax_b), (ax_c, ax_d) = axes

    a = table[table["panel"] == "a"]
    _draw(ax_a, a, "sum", palette[0], "o", "measured")
    d = a.sort_values("x")
    ax_a.plot(d["x"], d["theory_constant_kernel"], ls="--", color="0.35", lw=1.0)
    ax_a.set_title("(a) shared ground truth, noisy")
    ax_a.legend(
        handles=[
            Line2D([], [], ls="none", marker="o", color=palette[0], ms=3.5, label="measured (±2 s.e.)"),
            Line2D([], [], color=palette[0], lw=1.1, label="theory (network kernel)"),
            Line2D([], [], ls="--", color="0.35", lw=1.0, label=r"$\Phi(\sqrt{n}\,\mathrm{SNR})$"),
        ],
        loc="lower right",
    )

    b = table[table["panel"] == "b"]
    _draw(ax_b, b, "sum", palette[0], "o", None)
    ax_b.set_title(r"(b) noise-free, $x^*_i = 10\,\gamma_i$")

    for ax, panel in ((ax_c, "c"), (ax_d, "d")):
        frame = table[table["panel"] == panel]
        for curve, (label, color, marker) in CURVES.items():
            _draw(ax, frame, curve, palette[color], marker, label if panel == "c" else None)
    ax_c.set_title(r"(c) $x^*_i = \sin(2\gamma_i)$ against noise")
    ax_d.set_title(r"(d) $x^*_i = \sin(2\gamma_i)$ against $n$")
    ax_c.set_xscale("log")
    ax_c.set_xlabel("noise amplitude $a$")
    handles, labels = ax_c.get_legend_handles_labels()
    fig.legend(
        handles, labels, loc="outside lower center", ncols=4, title="markers: measured (band ±2 s.e.); lines: theory",
        title_fontsize=7,
    )

    for ax in (ax_a, ax_b, ax_d):
        ax.set_xscale("log", base=2)
        ax.set_xlabel("number of problems $n$")
    for ax in axes.flat:
        ax.set_ylabel("alignment")
        ax.set_ylim(0.4, 1.02)
        ax.axhline(0.5, color="0.7", lw=0.6, zorder=0)
    fig.suptitle(f"Gradient alignment at initialisation ({seeds} seeds per point)", fontsize=9)
    return save_figure(fig, pdf, png)


FIGURE = FigureSpec(
    name="fig2",
    doc="gradient alignment at initialisation: measurement over seeds against theory (4 panels)",
    plot=plot,
    families=(),
    per_experiment=False,
    reads=(),
    studies=(STUDY,),
)
