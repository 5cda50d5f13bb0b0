"""Drawing the fraction of problems on which a method beats the baseline (or the baseline is
better) against the number of problems n, mean ± std over seeds: the axis, one curve, the panel
that Figures 3 and 5 and ``fig_fluid`` share, and its figure-wide legend. ``beat_fraction`` and
Figure 4 draw their own layouts from the same curves. Not a figure (no ``FIGURE``)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from ..analysis import seed_spread
from ..solver_info import SolverSet
from .style import solver_style


def fraction_vs_n_axis(ax, sizes: Sequence[int]) -> None:
    """An axis of fractions (0..1) against the number of problems n (log2, one tick per n)."""
    ax.set_xscale("log", base=2)
    if sizes:
        ax.set_xticks(list(sizes))
        ax.set_xticklabels([str(n) for n in sizes])
        ax.minorticks_off()
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("number of problems $n$")


def compared(fractions: pd.DataFrame, experiment: str, solvers: SolverSet) -> pd.DataFrame:
    """The ``fractions`` rows of ``experiment`` for every solver but the baseline."""
    if fractions.empty:
        return fractions
    return fractions[(fractions["experiment"] == experiment) & (fractions["solver"] != solvers.baseline)]


def sizes_of(frame: pd.DataFrame) -> list[int]:
    """The distinct n of a frame, ascending."""
    return sorted(int(n) for n in frame["n"].unique()) if not frame.empty else []


def draw_fraction(
    ax, frac: pd.DataFrame, solver: str, outcome: str, solvers: SolverSet,
    sizes: Sequence[int] | None = None, **kwargs,
):
    """One curve: the fraction ``outcome`` ("beat", "lose") of ``solver`` in ``frac`` (one
    experiment's fractions rows) at each n, mean over seeds with the std as error bar; the
    solver's colour and marker, line style and other ``kwargs`` as given. Returns the handle."""
    sizes = sizes_of(frac) if sizes is None else list(sizes)
    rows = frac[frac["solver"] == solver]
    stats = [seed_spread(rows[rows["n"] == n][outcome]) for n in sizes]
    style = solver_style(solvers, solver)
    kwargs = {"color": style["color"], "marker": style["marker"], "label": style["label"], **kwargs}
    return ax.errorbar(sizes, [s["mean"] for s in stats], yerr=np.nan_to_num([s["std"] for s in stats]),
                       **kwargs)


def fractions_panel(
    ax, fractions: pd.DataFrame, experiment: str, solvers: SolverSet, lose: Iterable[str] | None = None,
    title: str | None = None, title_size: float | None = None,
) -> dict[str, object]:
    """Solid: the fraction of problems on which each solver but the baseline beats it, against n,
    in table order; dashed, for the solvers ``lose`` (default: the primary method): the fraction
    on which the baseline is better. Returns the solid handles by solver."""
    frac = compared(fractions, experiment, solvers)
    lose = {solvers.primary} if lose is None else set(lose)
    sizes = sizes_of(frac)
    handles = {}
    for solver in solvers.order(frac["solver"]):
        color = solver_style(solvers, solver)["color"]
        handles[solver] = draw_fraction(ax, frac, solver, "beat", solvers, sizes, ls="-", lw=1.1, mfc=color)
        if solver in lose:
            draw_fraction(ax, frac, solver, "lose", solvers, sizes, ls="--", lw=0.8, mfc="white")
    fraction_vs_n_axis(ax, sizes)
    ax.set_ylabel("fraction of problems")
    ax.set_title(title if title is not None else f"(d) comparison with {solvers.label(solvers.baseline)}",
                 fontsize=title_size)
    return handles


def fractions_legend(
    fig, handles: Mapping[str, object], solvers: SolverSet, ncol: int = 6, panel: str = "(d)",
    lose: Iterable[str] | None = None,
) -> None:
    """One legend below the figure: every solver of ``handles`` (table order), plus the line
    styles of the fractions panel (the dashed one named after the solvers ``lose``, default the
    primary method)."""
    from matplotlib.lines import Line2D

    names = solvers.order(handles)
    items = [handles[s] for s in names]
    labels = [solvers.label(s) for s in names]
    base = solvers.label(solvers.baseline)
    lose = [solvers.primary] if lose is None else list(lose)
    lose = [s for s in lose if s is not None and s in handles]
    items.append(Line2D([], [], color="0.3", ls="-", marker="o"))
    labels.append(f"{panel} beats {base}")
    if lose:
        items.append(Line2D([], [], color="0.3", ls="--", lw=0.8, marker="o", mfc="white"))
        labels.append(f"{panel} {base} better than {', '.join(solvers.label(s) for s in lose)}")
    rows = -(-len(items) // max(min(ncol, len(items)), 1))
    fig.legend(items, labels, loc="outside lower center", ncol=-(-len(items) // rows),  # balanced columns
               handlelength=2.0, columnspacing=1.2)
