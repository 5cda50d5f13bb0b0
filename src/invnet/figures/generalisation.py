"""Appendix figure for every experiment: known problems against new problems, and at what cost
(docs/experiments.md §2.5). The network methods answer a seed's held-out test set with their
trained network; the baseline (BFGS) solves those new problems one by one (a test run).

(a) fraction of problems on which each network method beats the baseline against n, mean ± std
    over seeds: on its training problems (known, solid) and on the new problems (dashed);
(b) distribution (ECDF, log axis) of the final losses on the new problems at the largest n, all
    seeds: each network method's predictions and every per-problem method run on the test set;
(c) mean loss on the new problems against forward evaluations per problem: each per-problem
    method at what it spent per new problem; each network method at each n (marker size grows
    with n) at its training evaluations amortised over every problem it answers (n training +
    n_test new), with the network passes one new problem costs in the legend (one forward pass,
    no evaluation of F).

Methods: every network solver (role ``network``) with test predictions, against the baseline in
(a) and every per-problem method with a test run (``test_solvers``) in (b) and (c).
"""

from __future__ import annotations

import os

import numpy as np

from ..analysis import seed_spread
from .base import FigureInputs, FigureSpec, with_baseline
from .fractions_vs_n import fraction_vs_n_axis
from .style import DOUBLE_COLUMN, apply_style, save_figure, solver_style

REFERENCE_LS = (0, (3, 1.5))  # per-problem methods run on the new problems, in (b)


def _no_data(ax, text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, fontsize=7, wrap=True)
    ax.set_axis_off()


def _ecdf(ax, values, **kwargs) -> None:
    v = np.sort(np.asarray(values, dtype=np.float64))
    v = v[np.isfinite(v) & (v > 0)]
    if v.size:
        ax.step(np.concatenate([[v[0]], v]), np.arange(v.size + 1) / v.size, where="post", **kwargs)


def _failed(values) -> int:
    return int((~np.isfinite(np.asarray(values, dtype=np.float64))).sum())


def plot(inputs: FigureInputs, pdf: str | os.PathLike, png: str | os.PathLike):
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    apply_style()
    experiment = inputs.experiments[0]
    solvers = with_baseline(inputs.solvers, "generalisation")
    base = solvers.baseline
    gen = inputs.tables["generalisation"]
    new = inputs.tables["test_outcomes"]
    gen = gen[gen["experiment"] == experiment] if not gen.empty else gen
    new = new[new["experiment"] == experiment] if not new.empty else new
    fig, (ax_a, ax_b, ax_c) = plt.subplots(1, 3, figsize=(DOUBLE_COLUMN, 3.2), layout="constrained")
    networks = solvers.order(gen["solver"]) if not gen.empty else []
    references = solvers.order(new["reference"]) if not new.empty else []
    if not networks:
        for ax in (ax_a, ax_b, ax_c):
            _no_data(ax, "no network method with test predictions and no per-problem\n"
                         "method run on the test set (test_solvers)")
        fig.suptitle(f"{inputs.labels[experiment]}: known and new problems", fontsize=9)
        return save_figure(fig, pdf, png)

    # (a) beat fraction against n: known (training) problems and new (test) problems
    vs_base = gen[gen["reference"] == base]
    sizes = sorted(int(n) for n in gen["n"].unique())
    if vs_base.empty:
        _no_data(ax_a, f"{solvers.label(base)} was not run on the test set\n(add it to test_solvers)")
    else:
        for solver in networks:
            rows = vs_base[vs_base["solver"] == solver]
            style = solver_style(solvers, solver)
            for column, ls, mfc in (("beat_known", "-", style["color"]), ("beat_new", "--", "white")):
                stats = [seed_spread(rows.loc[rows["n"] == n, column]) for n in sizes]
                ax_a.errorbar(sizes, [s["mean"] for s in stats], yerr=np.nan_to_num([s["std"] for s in stats]),
                              color=style["color"], marker=style["marker"], ls=ls, mfc=mfc, lw=1.0)
        fraction_vs_n_axis(ax_a, sizes)
        ax_a.set_ylabel(f"fraction of problems: beats {solvers.label(base)}")
    ax_a.set_title(f"(a) beats {solvers.label(base)}: known, new", fontsize=8)

    # (b) loss distributions on the new problems, largest n
    n_max = int(new["n"].max())
    failures: dict[str, int] = {}
    at_n = new[new["n"] == n_max]
    for solver in networks:
        loss = at_n.loc[at_n["solver"] == solver].drop_duplicates(["seed", "problem"])["test_loss"]
        style = solver_style(solvers, solver)
        failed = _failed(loss)
        _ecdf(ax_b, loss, color=style["color"], ls="-")
        failures[solver] = failed
    for reference in references:
        rows = new[new["reference"] == reference].drop_duplicates(["seed", "problem"])
        style = solver_style(solvers, reference)
        failures[reference] = _failed(rows["reference_loss"])
        _ecdf(ax_b, rows["reference_loss"], color=style["color"], ls=REFERENCE_LS)
    ax_b.set_xscale("log")
    ax_b.set_ylim(0, 1.02)
    ax_b.set_xlabel("final loss on a new problem")
    ax_b.set_ylabel("fraction of new problems")
    ax_b.set_title(f"(b) new problems, $n = {n_max}$", fontsize=8)

    # (c) mean loss on the new problems against evaluations per problem
    passes: dict[str, float] = {}
    for reference in references:
        rows = new[new["reference"] == reference].drop_duplicates(["seed", "problem"])
        style = solver_style(solvers, reference)
        loss = rows["reference_loss"].to_numpy(dtype=np.float64)
        ax_c.plot([rows["reference_evaluations"].mean()], [np.nanmean(np.where(np.isfinite(loss), loss, np.nan))],
                  ls="none", marker=style["marker"], color=style["color"], ms=6)
    for solver in networks:
        rows = gen[gen["solver"] == solver].drop_duplicates(["n", "seed"])
        style = solver_style(solvers, solver)
        cost = [rows.loc[rows["n"] == n, "amortised_evaluations"].mean() for n in sizes]
        loss = [rows.loc[rows["n"] == n, "mean_loss_new"].mean() for n in sizes]
        passes[solver] = float(rows["inference_passes"].max())
        ax_c.plot(cost, loss, color=style["color"], ls="-")
        for size, x, y in zip(_marker_sizes(len(sizes)), cost, loss):  # marker size grows with n: no labels to collide
            ax_c.plot([x], [y], color=style["color"], marker=style["marker"], ms=size, ls="none")
    ax_c.set_xscale("log")
    ax_c.set_xlabel("evaluations of F per problem\n(networks: training, amortised over $n + n_{test}$)")
    ax_c.set_ylabel("mean final loss on new problems")
    ax_c.set_title("(c) loss on new problems, cost", fontsize=8)

    def failed(name: str) -> str:
        return f", {failures[name]} failed at (b)" if failures.get(name) else ""

    handles = []
    for solver in networks:
        style, p = solver_style(solvers, solver), passes[solver]
        handles.append(Line2D([], [], color=style["color"], marker=style["marker"], ls="-",
                              label=f"{style['label']} ({p:,.0f} network pass{'es' if p != 1 else ''} "
                                    f"per new problem{failed(solver)})"))
    for reference in references:
        style = solver_style(solvers, reference)
        handles.append(Line2D([], [], color=style["color"], marker=style["marker"], ls=REFERENCE_LS,
                              label=f"{style['label']} (solves each new problem{failed(reference)})"))
    if len(sizes) > 1:
        small, large = _marker_sizes(len(sizes))[[0, -1]]
        handles += [Line2D([], [], color="0.3", marker="o", ms=small, ls="none", label=f"(c) n = {sizes[0]}"),
                    Line2D([], [], color="0.3", marker="o", ms=large, ls="none", label=f"(c) n = {sizes[-1]}")]
    handles += [Line2D([], [], color="0.3", marker="o", ls="-", label="(a) known (training) problems"),
                Line2D([], [], color="0.3", marker="o", ls="--", mfc="white", label="(a) new (test) problems")]
    fig.legend(handles=handles, loc="outside lower center", ncol=2, fontsize=6)
    fig.suptitle(f"{inputs.labels[experiment]}: known and new problems (mean ± std over seeds)", fontsize=9)
    return save_figure(fig, pdf, png)


def _marker_sizes(count: int) -> np.ndarray:
    """Marker sizes (points) of panel (c)'s network curves, smallest n first: 3 growing to 8."""
    return np.linspace(3.0, 8.0, count) if count > 1 else np.array([6.0])


FIGURE = FigureSpec(
    name="generalisation",
    doc="network methods on known and new problems against per-problem methods, and what each spent",
    plot=plot,
    reads=("generalisation", "test_outcomes"),
    caption=(
        "Known against new problems. (a) Fraction of problems on which each network method beats the baseline, on "
        "its training problems (solid) and on held-out new problems (dashed), against n. (b) Final losses on "
        "the new problems at the largest n: network predictions against per-problem methods run on each new "
        "problem. (c) Mean loss on new problems against forward evaluations per problem; a network's training "
        "cost is amortised over every problem it answers, and one new problem costs it one forward pass."
    ),
)
