"""Figure 5, Kuramoto–Sivashinsky initial-state inference (docs/experiments.md §4.3).

(a) space–time plot u(z, t) of one example problem's true trajectory, the observation time T
    marked (y* is the state there);
(b) the loss L along β1 (β2 at its true value) for several horizons T (each curve normalised by
    its maximum and offset), with the number of local minima on the 801-point grid: smooth for
    short horizons, rugged for long ones;
(c) mean loss against iteration on the representative problem set (largest n, first seed) of
    every per-problem solver that starts from x0 (BFGS, L-BFGS-B, GD, ...) and of the primary
    method's training (:func:`invnet.figures.roles.loss_curves`). BFGS is unbounded; where a
    solver ran into a numerically diverged forward (loss NaN) its mean is undefined from that
    round on and the curve ends, which is said;
(d) fraction of problems on which each solver but the baseline beats it against n (mean ± std
    over seeds), dashed: fraction on which the baseline is better than the primary method.

The example problem is the one where the primary method improves most on the baseline (largest
finite L_BFGS / L_JPO; :mod:`invnet.figures.example_problem`).
:func:`compute_panels` (the figure's panel step) writes the panel data of (a–c) into
``results/aggregate/{experiment}/panels/fig5.h5``; :func:`plot` only reads artifacts. For a
horizon T other than the experiment's, the target is the noise-free u(T) of the true β (the same
γ). The landscape helpers are shared with ``ks_roughness`` through :mod:`invnet.figures.landscape`.
With several KS experiments the figure draws the first in config order (``max_experiments=1``).
"""

from __future__ import annotations

import logging
import os

import numpy as np
import pandas as pd

from ..artifacts import read_h5, write_h5
from ..solver_info import SolverSet
from .base import FigureInputs, FigureSpec, PanelInputs, with_baseline
from .example_problem import select_example
from .failures import add_note, failed_note
from .fractions_vs_n import fractions_legend, fractions_panel
from .landscape import KS_GRID_POINTS, count_local_minima, horizons_with, landscape_along, with_horizon
from .problem_runs import load_problem_runs
from .roles import loss_curves
from .style import DOUBLE_COLUMN, apply_style, save_figure, solver_style

log = logging.getLogger("invnet.figures.fig5")

FAMILY = "ks"


# ------------------------------------------------------------------------------ panel data


def compute_panels(inputs: PanelInputs, out: str | os.PathLike) -> int:
    """Write the panel data of Figure 5 (a–c) for one example problem; return its index."""
    # torch and the families only where panels are computed: a plot job imports neither
    import torch

    pr = load_problem_runs(inputs.data, inputs.runs, (FAMILY,))
    arrays, attrs, problem, family = pr.arrays, pr.attrs, pr.problem, pr.family
    solutions, losses = pr.solutions, pr.losses
    n, seed = int(attrs["n"]), int(attrs["seed"])
    idx, why = select_example(losses, with_baseline(inputs.solvers, "fig5"))
    x_true = arrays["x_true"][idx]
    gamma = arrays["gamma"][idx] if "gamma" in arrays else None
    own = float(family.params["horizon"])
    horizons = horizons_with(own)

    # (a) the true trajectory to the longest horizon shown in (b)
    longest = with_horizon(problem, horizons[-1])
    with torch.no_grad():
        traj = longest.trajectory(
            torch.as_tensor(x_true[None]), None if gamma is None else torch.as_tensor(gamma[None])
        )[0].numpy()
    datasets: dict[str, np.ndarray] = {
        "z": family.grid,
        "t": np.arange(traj.shape[0]) * float(family.params["dt"]),
        "u": traj,
        "x_true": x_true,
        "x0": family.x0,
        "horizons": np.asarray(horizons),
    }
    # (b) L along β1 at the true β2, for every horizon; the experiment's own T uses y*
    lo, hi = (float(v) for v in family.bounds[0])
    beta1 = np.linspace(lo, hi, KS_GRID_POINTS)
    datasets["beta1"] = beta1
    minima = []
    for k, horizon in enumerate(horizons):
        fam = family if horizon == own else with_horizon(problem, horizon)
        target = arrays["y_target"][idx] if horizon == own else None
        loss = landscape_along(fam, x_true, gamma, target, beta1)
        datasets[f"loss_T{k}"] = loss
        minima.append(int(count_local_minima(loss)))
    datasets["minima"] = np.asarray(minima)
    for solver, x in solutions.items():
        datasets[f"x_{solver}"] = x[idx]
        datasets[f"loss_{solver}"] = np.asarray(losses[solver][idx])
        datasets[f"nonfinite_{solver}"] = np.asarray(int((~np.isfinite(losses[solver])).sum()))

    write_h5(
        out,
        datasets,
        {
            "kind": "ks_panels",
            "experiment": attrs["experiment"],
            "n": n,
            "seed": seed,
            "horizon": own,
            "problem_index": idx,
            "selection": why,
            "solvers": ",".join(solutions),
            "problem": problem,
        },
    )
    log.info("example problem %d of n=%d seed=%d (%s); local minima along beta1 %s",
             idx, n, seed, why, dict(zip(horizons, minima)))
    return idx


# ------------------------------------------------------------------------------ plotting


def _fmt_t(t: float) -> str:
    return f"{t:g}"


def _panel_spacetime(fig, ax, pan: dict[str, np.ndarray], horizon: float) -> None:
    z, t, u = pan["z"], pan["t"], pan["u"]
    lim = float(np.abs(u).max()) or 1.0
    mesh = ax.pcolormesh(t, z, u.T, cmap="RdBu_r", vmin=-lim, vmax=lim, shading="nearest",
                         rasterized=True)
    ax.axvline(horizon, color="black", ls="--", lw=1.0)
    ax.annotate(f"$T = {_fmt_t(horizon)}$: $y^*$", (horizon, 1.0), xycoords=("data", "axes fraction"),
                xytext=(3, -3), textcoords="offset points", ha="left", va="top", fontsize=7,
                bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.8})
    ax.set_xlabel("time $t$")
    ax.set_ylabel("space $z$")
    b = pan["x_true"]
    ax.set_title(rf"(a) example trajectory, $\beta = ({b[0]:.2f}, {b[1]:.2f})$")
    cb = fig.colorbar(mesh, ax=ax, pad=0.01, fraction=0.05)
    cb.set_label("$u(z, t)$")


def _panel_landscape(ax, pan: dict[str, np.ndarray], horizon: float) -> None:
    beta1, horizons, minima = pan["beta1"], pan["horizons"], pan["minima"]
    colors = [plt_cmap(i, len(horizons)) for i in range(len(horizons))]
    ticks, labels = [], []
    for k, (t, count) in enumerate(zip(horizons, minima)):
        loss = pan[f"loss_T{k}"]
        scale = float(np.max(loss)) or 1.0
        ax.plot(beta1, loss / scale + 1.15 * k, color=colors[k], lw=1.5 if t == horizon else 0.9)
        ticks.append(1.15 * k + 0.5)
        word = "minimum" if int(count) == 1 else "minima"
        labels.append(f"$T = {_fmt_t(t)}$" + (" (data)" if t == horizon else "")
                      + f"\n{int(count)} {word}")
    ax.axvline(pan["x_true"][0], color="black", ls=":", lw=1.0)
    ax.axvline(pan["x0"][0], color="0.5", ls="-.", lw=0.8)
    ax.set_xlim(beta1[0], beta1[-1])
    ax.set_ylim(-0.1, 1.15 * (len(horizons) - 1) + 1.1)
    ax.set_yticks(ticks)
    ax.set_yticklabels(labels, fontsize=6.5)
    for tick, color in zip(ax.get_yticklabels(), colors):
        tick.set_color(color if sum(color[:3]) < 2.2 else "0.2")
    ax.tick_params(axis="y", length=0)
    ax.set_xlabel(r"$\beta_1$ ($\beta_2$ at its true value)")
    ax.set_title(r"(b) $L/\max L$ along $\beta_1$; truth dotted, $x_0$ dash-dot", fontsize=8.5)


def plt_cmap(i: int, count: int):
    import matplotlib

    return matplotlib.colormaps["viridis"](0.1 + 0.75 * i / max(count - 1, 1))


def _panel_curves(ax, history: pd.DataFrame, experiment: str, n: int, seed: int,
                  pan: dict[str, np.ndarray], solvers: SolverSet) -> dict[str, object]:
    sel = history[(history["experiment"] == experiment) & (history["n"] == n) & (history["seed"] == seed)]
    handles, notes = {}, []
    for solver in [s for s in loss_curves(solvers) if s in set(sel["solver"])]:
        h = sel[sel["solver"] == solver].sort_values("step")
        style = solver_style(solvers, solver)
        step, loss = h["step"].to_numpy() + 1, h["loss"].to_numpy(dtype=np.float64)
        ok = np.isfinite(loss)
        (handles[solver],) = ax.plot(step[ok], loss[ok], color=style["color"], ls=style["linestyle"],
                                     label=style["label"])
        bad = int(pan.get(f"nonfinite_{solver}", 0))
        if bad and not ok.all():
            last = np.flatnonzero(ok)[-1] if ok.any() else None
            if last is not None:
                ax.plot(step[last], loss[last], marker="x", color=style["color"], ms=6, mew=1.2)
            notes.append(f"{style['label']}: {bad} of {n} runs diverged (loss NaN);\nits mean is undefined after ×")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(f"iteration ({solvers.label(solvers.baseline)}: batched round) + 1")
    ax.set_ylabel(f"mean loss over the {n} problems")
    ax.set_title(f"(c) optimisation, $n = {n}$, seed {seed}")
    if notes:
        ax.text(0.98, 0.97, "\n".join(notes), transform=ax.transAxes, fontsize=6.5, va="top",
                ha="right")
    from matplotlib.ticker import FormatStrFormatter, NullFormatter

    ax.yaxis.set_major_formatter(FormatStrFormatter("%g"))
    lo, hi = ax.get_ylim()  # minor labels only where a decade or less is shown (they would overlap)
    ax.yaxis.set_minor_formatter(FormatStrFormatter("%g") if 0 < lo and hi / lo <= 10 else NullFormatter())
    ax.tick_params(axis="y", which="minor", labelsize=6)
    return handles


def plot(inputs: FigureInputs, pdf: str | os.PathLike, png: str | os.PathLike):
    """Render Figure 5 from the panel artifact and the aggregated frames; return the figure."""
    import matplotlib.pyplot as plt

    apply_style()
    experiment = inputs.experiments[0]
    pan, attrs = read_h5(inputs.panels[experiment])
    frac, hist = inputs.tables["fractions"], inputs.tables["history"]
    horizon = float(attrs["horizon"])

    fig, axes = plt.subplots(2, 2, figsize=(DOUBLE_COLUMN, 5.8), layout="constrained")
    _panel_spacetime(fig, axes[0, 0], pan, horizon)
    _panel_landscape(axes[0, 1], pan, horizon)
    solvers = with_baseline(inputs.solvers, "fig5")
    handles = _panel_curves(axes[1, 0], hist, experiment, int(attrs["n"]), int(attrs["seed"]), pan, solvers)
    handles.update(fractions_panel(axes[1, 1], frac, experiment, solvers))
    fractions_legend(fig, handles, solvers, ncol=5)
    add_note(fig, failed_note(frac, experiment, solvers))
    return save_figure(fig, pdf, png)


FIGURE = FigureSpec(
    name="fig5",
    doc="Figure 5, Kuramoto-Sivashinsky: (a) space-time, (b) L along beta1 for several T, "
    "(c) curves, (d) beat the baseline vs n",
    plot=plot,
    families=(FAMILY,),
    per_experiment=False,
    reads=("fractions", "history"),
    panels=compute_panels,
    max_experiments=1,
)
