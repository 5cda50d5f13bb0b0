"""Panels several figures share: the fraction of problems beating BFGS against n, and the
figure-wide legend that goes with it."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from ..analysis import BASELINE, ordered_solvers, seed_spread, solver_label
from .style import fraction_vs_n_axis, solver_style


def fractions_panel(
    ax, fractions: pd.DataFrame, experiment: str, lose_solvers: Sequence[str] = ("jpo", "gd"),
    title: str = "(d) comparison with BFGS",
) -> dict[str, object]:
    """Solid: fraction of problems on which each solver beats BFGS against n (mean ± std over
    seeds); dashed, for ``lose_solvers``: fraction on which BFGS is better. Returns the handles."""
    frac = fractions[(fractions["experiment"] == experiment) & (fractions["solver"] != BASELINE)]
    sizes = sorted(int(n) for n in frac["n"].unique())
    handles = {}
    for solver in ordered_solvers(frac["solver"].unique()):
        style = solver_style(solver)
        for outcome in ("beat", "lose"):
            if outcome == "lose" and solver not in lose_solvers:
                continue
            stats = [seed_spread(frac[(frac["solver"] == solver) & (frac["n"] == n)][outcome])
                     for n in sizes]
            mean = np.array([s["mean"] for s in stats])
            std = np.nan_to_num(np.array([s["std"] for s in stats]))
            h = ax.errorbar(
                sizes, mean, yerr=std, color=style["color"], marker=style["marker"],
                ls="-" if outcome == "beat" else "--", lw=1.1 if outcome == "beat" else 0.8,
                mfc=style["color"] if outcome == "beat" else "white", label=style["label"],
            )
            if outcome == "beat":
                handles[solver] = h
    fraction_vs_n_axis(ax, sizes)
    ax.set_ylabel("fraction of problems")
    ax.set_title(title)
    return handles


def fractions_legend(fig, handles: dict[str, object], ncol: int = 6, panel: str = "(d)") -> None:
    """One legend below the figure: every solver, plus the line styles of the fractions panel."""
    from matplotlib.lines import Line2D

    solvers = ordered_solvers(handles)
    items = [handles[s] for s in solvers]
    labels = [solver_label(s) for s in solvers]
    items += [Line2D([], [], color="0.3", ls="-", marker="o"),
              Line2D([], [], color="0.3", ls="--", lw=0.8, marker="o", mfc="white")]
    labels += [f"{panel} beats BFGS", f"{panel} BFGS better"]
    fig.legend(items, labels, loc="outside lower center", ncol=min(len(items), ncol),
               handlelength=2.0, columnspacing=1.2)
