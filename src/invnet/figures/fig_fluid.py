"""Appendix figure of the fluid experiment (docs/experiments.md §4.4), named target ``fig_fluid``.

(a) one example problem: vorticity ω and marker c at t = 0 and at T, the true vortices (circles,
    filled for Γ > 0) and the ones the primary method (JPO) recovered (crosses) marked;
(b) the loss along the first vortex's x-coordinate a1, the other five unknowns at the truth
    (periodic: a1 and a1 + L are the same flow), with the truth, x0 and the a1 of the baseline
    (BFGS) and the primary method;
(c) fraction of problems on which each solver but the baseline beats it against n, mean ± std
    over seeds, dashed: the baseline better than the primary method;
(d) per-problem L of the primary method against the baseline's, largest n, all seeds (log–log,
    diagonal dashed).

The example problem is the one where the primary method improves most on the baseline (largest
finite L_BFGS / L_JPO; :mod:`invnet.figures.example_problem`). :func:`compute_panels` writes
(a, b) for the representative problem set (largest n, first seed) into
``results/aggregate/{experiment}/panels/fig_fluid.h5``; :func:`plot` reads only artifacts. With
several fluid experiments the figure draws the first in config order (``max_experiments=1``).
"""

from __future__ import annotations

import logging
import os
import numpy as np

from ..artifacts import read_h5, write_h5
from ..solver_info import SolverSet
from .base import FigureInputs, FigureSpec, PanelInputs, with_baseline
from .example_problem import select_example
from .fractions_vs_n import fractions_legend, fractions_panel
from .landscape import count_local_minima, landscape_along
from .problem_runs import load_problem_runs
from .roles import baseline_and_primary
from .style import DOUBLE_COLUMN, apply_style, loss_label, save_figure, solver_style

log = logging.getLogger("invnet.figures.fig_fluid")

FAMILY = "fluid"
GRID_POINTS = 241  # a1 grid of panel (b)
COORDINATE = 0  # panel (b) varies a1
CHUNK = 256  # forward batch of the landscape (a 32² flow per problem)
RECOVERED_COLOR = "crimson"  # the primary method's vortices in (a): visible on both colour maps


def compute_panels(inputs: PanelInputs, out: str | os.PathLike) -> int:
    """Write the panel data of (a, b) for one example problem; return its index."""
    # torch and the families only where panels are computed: a plot job imports neither
    import torch

    pr = load_problem_runs(inputs.data, inputs.runs, (FAMILY,))
    arrays, attrs, problem, family = pr.arrays, pr.attrs, pr.problem, pr.family
    solutions, losses = pr.solutions, pr.losses
    n, seed = int(attrs["n"]), int(attrs["seed"])
    idx, why = select_example(losses, with_baseline(inputs.solvers, "fig_fluid"))
    x_true, gamma, y_target = arrays["x_true"][idx], arrays["gamma"][idx], arrays["y_target"][idx]

    with torch.no_grad():
        w, c = family.simulate(torch.as_tensor(x_true[None]), torch.as_tensor(gamma[None]), every=family.steps)
    lo, hi = (float(v) for v in family.bounds[COORDINATE])
    values = np.linspace(lo, hi, GRID_POINTS)
    loss = landscape_along(family, x_true, gamma, y_target, values, COORDINATE, CHUNK)
    datasets: dict[str, np.ndarray] = {
        "grid": family.grid,
        "vorticity": w[0].numpy(),  # (2, N, N): t = 0, T
        "marker": c[0].numpy(),
        "x_true": x_true,
        "x0": family.x0,
        "values": values,
        "loss": loss,
    }
    for solver, x in solutions.items():
        datasets[f"x_{solver}"] = x[idx]
        datasets[f"loss_{solver}"] = np.asarray(losses[solver][idx])
    minima = int(count_local_minima(loss))
    write_h5(
        out,
        datasets,
        {
            "kind": "fluid_panels",
            "experiment": attrs["experiment"],
            "n": n,
            "seed": seed,
            "horizon": float(family.params["horizon"]),
            "length": float(family.params["length"]),
            "problem_index": idx,
            "selection": why,
            "coordinate": family.param_names[COORDINATE],
            "local_minima": minima,
            "solvers": ",".join(solutions),
            "problem": problem,
        },
    )
    log.info("example problem %d of n=%d seed=%d (%s); %d local minima along %s",
             idx, n, seed, why, minima, family.param_names[COORDINATE])
    return idx


# ------------------------------------------------------------------------------ plotting


def _mark_vortices(ax, x: np.ndarray, marker: str, color: str, label: str | None) -> None:
    for v in range(2):
        a, b, g = x[3 * v: 3 * v + 3]
        filled = marker == "o" and g > 0
        ax.plot(a, b, marker=marker, ms=6, mew=1.3, color=color, mfc=color if filled else "none",
                ls="none", label=label if v == 0 else None)
        ax.annotate(str(v + 1), (a, b), xytext=(4, 3), textcoords="offset points", fontsize=6, color=color)


def _panel_flow(fig, axes, pan: dict[str, np.ndarray], horizon: float, length: float, solvers: SolverSet) -> None:
    extent = (0.0, length, 0.0, length)
    lim_w = float(np.abs(pan["vorticity"]).max()) or 1.0
    lim_c = float(np.abs(pan["marker"]).max()) or 1.0
    titles = [r"$\omega$, $t = 0$", rf"$\omega$, $t = T = {horizon:g}$",
              r"marker $c = \gamma$, $t = 0$", rf"marker $c = y^*$, $t = T$"]
    fields = [pan["vorticity"][0], pan["vorticity"][-1], pan["marker"][0], pan["marker"][-1]]
    for k, (ax, f, title) in enumerate(zip(axes, fields, titles)):
        is_w = k < 2
        im = ax.imshow(f.T, origin="lower", extent=extent, cmap="RdBu_r" if is_w else "viridis",
                       vmin=-lim_w if is_w else min(0.0, float(f.min())), vmax=lim_w if is_w else lim_c,
                       interpolation="nearest", rasterized=True)
        if k in (0, 2):
            _mark_vortices(ax, pan["x_true"], "o", "black", "truth")
            if solvers.primary is not None and f"x_{solvers.primary}" in pan:
                _mark_vortices(ax, np.mod(pan[f"x_{solvers.primary}"], [length, length, np.inf] * 2), "x",
                               RECOVERED_COLOR, solvers.label(solvers.primary))
        ax.set_xlim(0, length)
        ax.set_ylim(0, length)
        ax.set_xticks([0, length / 2, length], ["0", "L/2", "L"])
        ax.set_yticks([0, length / 2, length], ["0", "L/2", "L"] if k == 0 else [])
        ax.set_title(title, fontsize=7.5)
        if k in (1, 3):
            fig.colorbar(im, ax=ax, fraction=0.046, pad=0.02).ax.tick_params(labelsize=6)
    axes[0].set_ylabel("$y$")
    axes[0].legend(loc="lower left", fontsize=6, handletextpad=0.2, borderpad=0.2, framealpha=0.7)
    axes[0].text(0.0, 1.18, "(a) example flow", transform=axes[0].transAxes, fontsize=8.5, fontweight="bold")


def _panel_landscape(ax, pan: dict[str, np.ndarray], attrs: dict, solvers: SolverSet) -> dict[str, object]:
    values, loss = pan["values"], pan["loss"]
    ax.plot(values, loss, color="0.2", lw=1.0)
    ax.axvline(pan["x_true"][COORDINATE], color="black", ls=":", lw=1.0, label="truth")
    ax.axvline(pan["x0"][COORDINATE], color="0.5", ls="-.", lw=0.8, label="$x_0$")
    handles = {}
    for solver in baseline_and_primary(solvers):
        if f"x_{solver}" in pan:
            style = solver_style(solvers, solver)
            a = float(np.mod(pan[f"x_{solver}"][COORDINATE], attrs.get("length", 2 * np.pi)))
            handles[solver] = ax.axvline(a, color=style["color"], ls="--", lw=1.0)
    ax.set_yscale("log")
    ax.set_xlim(values[0], values[-1])
    ax.set_xlabel(f"${attrs['coordinate'][0]}_{attrs['coordinate'][1:]}$ (others at the truth)")
    ax.set_ylabel("$L$")
    _log_ticks(ax, "y")
    count = int(attrs["local_minima"])
    ax.set_title(f"(b) $L$ along one unknown\n({count} local minim{'um' if count == 1 else 'a'})", fontsize=7.5)
    ax.legend(loc="upper right", fontsize=6)
    return handles


def _log_ticks(ax, which: str) -> None:
    """No minor labels on a log axis that spans a decade or more (they crowd short ranges)."""
    from matplotlib.ticker import NullFormatter

    lo, hi = ax.get_xlim() if which == "x" else ax.get_ylim()
    if lo > 0 and hi / lo >= 10:
        (ax.xaxis if which == "x" else ax.yaxis).set_minor_formatter(NullFormatter())


def _panel_scatter(ax, outcomes, experiment: str, solvers: SolverSet) -> None:
    primary = solvers.primary
    out = outcomes[(outcomes["experiment"] == experiment) & (outcomes["solver"] == primary)]
    if out.empty:
        ax.text(0.5, 0.5, f"no {solvers.label(primary) if primary else 'primary method'} runs",
                ha="center", va="center", transform=ax.transAxes, fontsize=7)
        ax.set_axis_off()
        ax.set_title("(d) per problem", fontsize=7.5)
        return
    n = int(out["n"].max())
    sel = out[out["n"] == n]
    ok = np.isfinite(sel["loss"]) & np.isfinite(sel["loss_bfgs"])
    tiny = np.finfo(np.float64).tiny
    x = np.maximum(sel.loc[ok, "loss_bfgs"].to_numpy(), tiny)
    y = np.maximum(sel.loc[ok, "loss"].to_numpy(), tiny)
    style = solver_style(solvers, primary)
    ax.scatter(x, y, s=7, color=style["color"], marker=style["marker"], alpha=0.6, lw=0)
    if x.size:
        lo, hi = min(x.min(), y.min()), max(x.max(), y.max())
        ax.plot([lo, hi], [lo, hi], color="0.4", lw=0.7, ls="--")
    ax.set_xscale("log")
    ax.set_yscale("log")
    _log_ticks(ax, "x")
    _log_ticks(ax, "y")
    ax.set_xlabel(loss_label(solvers, solvers.baseline))
    ax.set_ylabel(loss_label(solvers, primary))
    beat = float((sel["outcome"] == "beat").mean())
    dropped = int((~ok).sum())
    note = f"; {dropped} {solvers.label(solvers.baseline)} non-finite left out" if dropped else ""
    ax.set_title(f"(d) per problem, $n = {n}$, all seeds\n{style['label']} beats on {beat:.2f}{note}", fontsize=7.5)


def plot(inputs: FigureInputs, pdf: str | os.PathLike, png: str | os.PathLike):
    import matplotlib.pyplot as plt

    apply_style()
    experiment = inputs.experiments[0]
    pan, attrs = read_h5(inputs.panels[experiment])
    fig = plt.figure(figsize=(DOUBLE_COLUMN, 5.4), layout="constrained")
    top, bottom = fig.subfigures(2, 1, height_ratios=[1.0, 1.15])
    solvers = with_baseline(inputs.solvers, "fig_fluid")
    _panel_flow(top, top.subplots(1, 4), pan, float(attrs["horizon"]), float(attrs["length"]), solvers)
    axes = bottom.subplots(1, 3)
    handles = _panel_landscape(axes[0], pan, attrs, solvers)  # baseline and primary: dashed lines in (b)
    handles.update(fractions_panel(axes[1], inputs.tables["fractions"], experiment, solvers,
                                   title=f"(c) comparison with {solvers.label(solvers.baseline)}", title_size=7.5))
    _panel_scatter(axes[2], inputs.tables["outcomes"], experiment, solvers)
    fractions_legend(bottom, handles, solvers, ncol=6, panel="(c)")
    return save_figure(fig, pdf, png)


FIGURE = FigureSpec(
    name="fig_fluid",
    doc="fluid appendix figure: (a) example flow with true and recovered vortices, (b) L along a1, "
    "(c) beat the baseline vs n, (d) per-problem L of the primary method vs the baseline",
    plot=plot,
    families=(FAMILY,),
    per_experiment=False,
    reads=("fractions", "outcomes"),
    panels=compute_panels,
    max_experiments=1,
)
