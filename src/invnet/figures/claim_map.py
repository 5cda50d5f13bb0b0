"""Claim map of an experiment: where the primary method beats the classical side, against every
swept quantity (the robustness sweeps, docs/experiments.md §2.6).

One column per sweep of the experiment (frames ``sweep`` and ``sweep_summary``, written by the
sweep job). Top: the fraction of problems on which the primary method (JPO) beats the baseline
(BFGS) and the baseline's multi-start at matched evaluations, against the swept value: the
fraction pooled over seeds (line), its 95 % Wilson interval (band) and each seed's fraction
(dots); the marker is filled where the sign test finds the primary method better on significantly
more problems than it is worse ("holds"), open where not significant, crossed where significantly
fewer ("fails"). Bottom: evaluations per problem each side spent (log scale): the primary
method's (filled where its training loss had flattened by then, by its convergence rule; open
where not), the matched multi-start's and the baseline's. A grey band marks the steps at which the
primary method's loss flattened (min–max over seeds) on a training-length axis; a sweep of a family
parameter names, on a top axis, the local minima of the loss along the first unknown at each value
(median over 8 problems: the landscape's roughness, e.g. against the KS horizon).
Solvers: the frame's ``method`` and ``classical`` columns, drawn with their declared styles.
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd

from .base import FigureInputs, FigureSpec, with_baseline
from .style import DOUBLE_COLUMN, apply_style, save_figure, solver_style

AXIS_LABELS = {"steps": "training steps of {method}", "n": "problems n"}


def _axis_label(over: str, method: str) -> str:
    return AXIS_LABELS.get(over, over).format(method=method)


def _x_scale(ax, values: list[float]) -> None:
    """Log axis where the values are positive and span a factor >= 4, ticks at the values."""
    from matplotlib.ticker import FixedLocator, NullLocator

    values = sorted(float(v) for v in values)
    if values and values[0] > 0 and values[-1] / values[0] >= 4:
        ax.set_xscale("log")
    ax.xaxis.set_major_locator(FixedLocator(values))
    ax.xaxis.set_minor_locator(NullLocator())
    ax.set_xticklabels([f"{v:g}" for v in values])


def _plain_log_y(ax) -> None:
    """Log y axis labelled with plain numbers (10, 100, 1,000; also 20, 50 over < 2 decades)."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    ax.set_yscale("log")
    lo, hi = ax.get_ylim()
    few = lo > 0 and hi / lo < 100  # under two decades: 1, 2, 5 of each decade
    ax.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0) if few else (1.0,)))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}" if v >= 1 else f"{v:g}"))
    ax.yaxis.set_minor_formatter(NullFormatter())


def _roughness_axis(ax, x, own: pd.DataFrame) -> None:
    """A top axis naming the local minima along the first unknown at each swept value."""
    from matplotlib.ticker import FixedFormatter, FixedLocator, NullLocator

    top = ax.secondary_xaxis("top")
    top.xaxis.set_major_locator(FixedLocator(list(x)))
    top.xaxis.set_major_formatter(FixedFormatter([f"{m:g}" for m in own["minima_median"]]))
    top.xaxis.set_minor_locator(NullLocator())
    top.tick_params(length=2, pad=1, labelsize=6)
    top.set_xlabel(f"local minima along {own['along'].iloc[0]} (median of {int(own['problems'].iloc[0])})",
                   fontsize=6, labelpad=2)


def _verdict_markers(ax, x, y, verdicts, color, marker) -> None:
    for xi, yi, v in zip(x, y, verdicts):
        face = color if v == "holds" else "white"
        ax.plot([xi], [yi], ls="none", marker=marker, ms=5, mfc=face, mec=color, zorder=4)
        if v == "fails":
            ax.plot([xi], [yi], ls="none", marker="x", ms=4, color="black", zorder=5)


def _flat_band(axes, summ: pd.DataFrame) -> str | None:
    """Shade, on a training-length axis, the steps at which the loss had flattened; a note."""
    lo, hi = summ["converged_at_min"].min(), summ["converged_at_max"].max()
    if not np.isfinite(lo):
        return f"loss not flat by step {int(summ['step_max'].max()):,}"
    for ax in axes:
        ax.axvspan(lo * 0.97, hi * 1.03, color="0.85", lw=0, zorder=0)
    return f"loss flat from step {int(lo):,}" + (f"–{int(hi):,}" if hi > lo else "")


def plot(inputs: FigureInputs, pdf: str | os.PathLike, png: str | os.PathLike):
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    apply_style()
    experiment = inputs.experiments[0]
    solvers = with_baseline(inputs.solvers, "claim_map")
    rows = inputs.tables["sweep"]
    summary = inputs.tables["sweep_summary"]
    rows = rows[rows["experiment"] == experiment]
    summary = summary[summary["experiment"] == experiment]
    sweeps = list(dict.fromkeys(summary["sweep"]))
    fig, axes = plt.subplots(2, max(len(sweeps), 1), figsize=(DOUBLE_COLUMN, 4.6), squeeze=False,
                             sharex="col", layout="constrained", height_ratios=(1.6, 1))
    method = summary["method"].iloc[0] if not summary.empty else solvers.primary
    m_style = solver_style(solvers, method)
    for col, sweep in enumerate(sweeps):
        ax, ax_e = axes[0, col], axes[1, col]
        summ = summary[summary["sweep"] == sweep].sort_values("value")
        over = summ["over"].iloc[0]
        note = _flat_band((ax, ax_e), summ) if over == "steps" else None
        for against, grp in summ.groupby("against", sort=False):
            classical = grp["classical"].iloc[0]
            style = solver_style(solvers, classical)
            x = grp["value"].to_numpy(dtype=float)
            if against == "baseline":
                ax.fill_between(x, grp["beat_ci_low"], grp["beat_ci_high"], color=style["color"], alpha=0.15, lw=0)
            else:  # hatched, so that the two intervals stay apart where they overlap
                ax.fill_between(x, grp["beat_ci_low"], grp["beat_ci_high"], facecolor="none", hatch="////",
                                edgecolor=(*style["color"], 0.45), lw=0)
            ax.plot(x, grp["beat_pooled"], color=style["color"], ls="-" if against == "baseline" else "--")
            _verdict_markers(ax, x, grp["beat_pooled"], grp["verdict"], style["color"], style["marker"])
            seeds = rows[(rows["sweep"] == sweep) & (rows["against"] == against)]
            ax.plot(seeds["value"].astype(float), seeds["beat"], ls="none", marker=".", ms=3,
                    color=style["color"], alpha=0.6, zorder=3)
            ax_e.plot(x, grp["evaluations_classical_mean"], color=style["color"], marker=style["marker"], ms=3.5,
                      ls="-" if against == "baseline" else "--", label=style["label"])
        own = summ.drop_duplicates("value")
        x = own["value"].to_numpy(dtype=float)
        ax_e.plot(x, own["evaluations_method_mean"], color=m_style["color"], lw=1.2)
        for xi, yi, flat in zip(x, own["evaluations_method_mean"], own["flat_fraction"]):
            ax_e.plot([xi], [yi], ls="none", marker=m_style["marker"], ms=4.5, mec=m_style["color"],
                      mfc=m_style["color"] if flat == 1 else "white", zorder=4)
        ax.axhline(0.5, color="0.5", lw=0.6, ls=":")
        ax.set_ylim(-0.03, 1.03)
        _plain_log_y(ax_e)
        _x_scale(ax_e, list(x))
        if "minima_median" in own and own["minima_median"].notna().all():  # the roughness at each value
            _roughness_axis(ax, x, own)
        ax_e.set_xlabel(_axis_label(over, m_style["label"]) + (f"\n({note})" if note else ""))
        n = int(summ["n"].iloc[0])
        at = "" if over == "n" else f", $n = {n}$"
        ax.set_title(f"({chr(97 + col)}) {sweep}{at}", fontsize=8)
        if col == 0:
            ax.set_ylabel(f"fraction {m_style['label']} beats")
            ax_e.set_ylabel("evaluations / problem")
    if not sweeps:
        axes[0, 0].text(0.5, 0.5, "no sweeps", ha="center", transform=axes[0, 0].transAxes)
    classical = list(dict.fromkeys(summary["classical"])) if not summary.empty else []
    handles = [Line2D([], [], color=solver_style(solvers, c)["color"], marker=solver_style(solvers, c)["marker"],
                      ls="-" if i == 0 else "--", label=f"vs {solvers.label(c)}" + (" (matched evaluations)" if i else ""))
               for i, c in enumerate(classical)]
    handles += [Line2D([], [], color="0.3", marker="o", ls="none", label="significantly more wins (p < 0.05)"),
                Line2D([], [], color="0.3", marker="o", mfc="white", ls="none", label="not significant"),
                Line2D([], [], color="black", marker="x", ls="none", label="significantly fewer"),
                Patch(color="0.7", alpha=0.5, label="95 % Wilson interval (pooled seeds)"),
                Patch(facecolor="none", hatch="////", edgecolor="0.5", label="95 % interval, matched multi-start"),
                Line2D([], [], color=m_style["color"], marker=m_style["marker"], label=f"{m_style['label']} evaluations "
                       "(open: loss not yet flat)")]
    fig.legend(handles=handles, loc="outside lower center", ncol=3, fontsize=6)
    fig.suptitle(f"{inputs.labels[experiment]}: where {m_style['label']} beats the classical side", fontsize=9)
    return save_figure(fig, pdf, png)


FIGURE = FigureSpec(
    name="claim_map",
    doc="the primary method's beat fractions against every swept quantity (robustness sweeps)",
    plot=plot,
    reads=("sweep", "sweep_summary"),
)
