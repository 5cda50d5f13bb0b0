"""Appendix figure for every experiment: how each method fares against the baseline (BFGS), problem
by problem, per n. One panel per n; one horizontal bar per method (every configured solver but the
baseline, in table order; a solver the package does not know included), split into the fractions of
all problems of that n (all seeds pooled) on which it beats the baseline, ties, loses
(docs/experiments.md §2.2, :func:`invnet.analysis.compare`), failed itself (NaN / inf loss or
optimiser failure) and, its loss finite, the baseline failed. The segments add up to 1, so failures
are shown, not dropped. The whisker on the beat segment is the range over seeds of each seed's
beat fraction (of all its problems).
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd

from .base import FigureInputs, FigureSpec, with_baseline
from .style import DOUBLE_COLUMN, apply_style, save_figure, solver_style

# outcome (as in the aggregate), legend text, (palette index or grey), hatch
SEGMENTS = (
    ("beat", "method beats {base}", 2, ""),
    ("tie", "tie", "0.82", ""),
    ("lose", "{base} better", 3, ""),
    ("failed", "method failed", "0.3", ""),
    ("bfgs_failed", "only {base} failed", "white", "////"),
)
COLUMNS = 4  # panels per row
WHISKER = 0.2  # the whisker above a bar's centre line (the y axis points down), its percentages below


def outcome_shares(outcomes: pd.DataFrame) -> pd.DataFrame:
    """Per (solver, n): the fraction of all problems (seeds pooled) of every outcome of
    :data:`SEGMENTS`, the problem count and the min and max over seeds of each seed's beat fraction."""
    rows = []
    for (solver, n), grp in outcomes.groupby(["solver", "n"], sort=False):
        row = {"solver": solver, "n": int(n), "problems": len(grp)}
        for outcome, *_ in SEGMENTS:
            row[outcome] = float((grp["outcome"] == outcome).sum()) / len(grp)
        per_seed = grp.groupby("seed")["outcome"].apply(lambda o: float((o == "beat").mean()))
        row["beat_min"], row["beat_max"] = float(per_seed.min()), float(per_seed.max())
        rows.append(row)
    return pd.DataFrame(rows)


def plot(inputs: FigureInputs, pdf: str | os.PathLike, png: str | os.PathLike):
    """Render the outcome bars of one experiment; return the figure."""
    import matplotlib.pyplot as plt
    import seaborn as sns
    from matplotlib.colors import to_rgb
    from matplotlib.patches import Patch
    from matplotlib.transforms import ScaledTranslation

    apply_style()
    experiment = inputs.experiments[0]
    solvers = with_baseline(inputs.solvers, "outcome_bars")
    base = solvers.label(solvers.baseline)
    out = inputs.tables["outcomes"]
    out = out[(out["experiment"] == experiment) & (out["solver"] != solvers.baseline)]
    shares = outcome_shares(out)
    sizes = sorted(int(n) for n in out["n"].unique())
    methods = solvers.order(out["solver"])
    palette = sns.color_palette("colorblind", 10)
    colors = {o: tuple(palette[c]) if isinstance(c, int) else to_rgb(c) for o, _, c, _ in SEGMENTS}
    cols = min(len(sizes), COLUMNS) or 1
    rows = -(-len(sizes) // cols) or 1
    height = 0.9 + rows * (0.32 * max(len(methods), 1) + 0.8)
    fig, axes = plt.subplots(rows, cols, figsize=(DOUBLE_COLUMN, height), layout="constrained",
                             squeeze=False, sharey=True)
    ypos = np.arange(len(methods))
    for ax, n in zip(axes.flat, sizes):
        at_n = shares[shares["n"] == n].set_index("solver")
        left = np.zeros(len(methods))
        for outcome, _, _, hatch in SEGMENTS:
            width = np.array([at_n.loc[s, outcome] if s in at_n.index else 0.0 for s in methods])
            ax.barh(ypos, width, left=left, height=0.7, color=colors[outcome], edgecolor="0.35", lw=0.4,
                    hatch=hatch, label=outcome)
            for y, x0, w in zip(ypos, left, width):
                if w >= 0.13 and outcome != "bfgs_failed":
                    dark = sum(colors[outcome]) < 1.2  # white text on dark segments
                    ax.text(x0 + w / 2, y + 0.1, f"{w:.0%}", ha="center", va="center", fontsize=5.5,
                            color="white" if dark else "black")
            left += width
        for y, s in zip(ypos, methods):
            if s in at_n.index and at_n.loc[s, "beat_max"] > at_n.loc[s, "beat_min"]:
                beat = at_n.loc[s, "beat"]
                ax.errorbar([beat], [y - WHISKER], xerr=[[beat - at_n.loc[s, "beat_min"]], [at_n.loc[s, "beat_max"] - beat]],
                            fmt="none", ecolor="black", elinewidth=0.8, capsize=2.5, zorder=5)
        problems = int(at_n["problems"].max()) if not at_n.empty else 0
        ax.set_title(f"$n = {n}$ ({problems} problems)", fontsize=8)
        ax.set_xlim(0, 1)
        ax.set_xlabel("fraction of problems")
        ax.tick_params(axis="y", length=0)
    axes[0, 0].set_yticks(ypos, [solvers.label(s) for s in methods])
    axes[0, 0].invert_yaxis()  # shared: the first method on top in every panel
    for ax in axes[:, 0]:  # each method's marker in its colour by its name, as in the other figures
        ax.tick_params(axis="y", pad=12, length=0)
        mark = ax.get_yaxis_transform() + ScaledTranslation(-6 / 72, 0, fig.dpi_scale_trans)  # 6 pt left
        for y, s in zip(ypos, methods):
            st = solver_style(solvers, s)
            ax.plot([0.0], [y], transform=mark, marker=st["marker"], color=st["color"], ms=4.5, ls="none",
                    clip_on=False)
    for ax in list(axes.flat)[len(sizes):]:
        ax.set_visible(False)
    handles = [Patch(facecolor=colors[o], edgecolor="0.35", lw=0.4, hatch=h, label=text.format(base=base))
               for o, text, _, h in SEGMENTS]
    handles.append(plt.Line2D([], [], color="black", lw=0.8, marker="|", ms=5,
                              label="beat fraction: min–max over seeds"))
    fig.legend(handles=handles, loc="outside lower center", ncol=3, fontsize=7)
    fig.suptitle(f"{inputs.labels[experiment]}: outcome per problem against {base}, seeds pooled "
                 "(comparison rule: docs/experiments.md §2.2)", fontsize=8)
    return save_figure(fig, pdf, png)


FIGURE = FigureSpec(
    name="outcome_bars",
    doc="stacked bars of beat / tie / lose / failed against the baseline per method and n",
    plot=plot,
    reads=("outcomes",),
    caption=(
        "Outcome of every method against the baseline on each problem, per n (all seeds pooled): the "
        "fractions of problems on which it beats the baseline, ties, loses, fails, or on which only the "
        "baseline failed; the whisker is the range over seeds of the beat fraction."
    ),
)
