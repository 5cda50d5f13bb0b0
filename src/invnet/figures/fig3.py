"""Figure 3, wave-packet localisation (docs/experiments.md §4.1).

(a) clean, noisy and fitted waveforms of one example problem: the baseline's (BFGS, dashed) and
    the primary method's (JPO) fits;
(b) loss L and dL/dt0 over t0 at that problem's true amplitude A, the true t0, x0 and the
    baseline's and primary method's t0 marked;
(c) mean training loss against iteration, mean over seeds with a min–max band, for the largest
    n: every per-problem solver that starts from x0 (BFGS, L-BFGS-B, GD, Adam, ...) and the
    primary method's training (:func:`invnet.figures.roles.loss_curves`);
(d) fraction of problems on which each solver but the baseline beats it against n (mean ± std
    over seeds), dashed: fraction on which the baseline is better than the primary method.

The example problem is the one where the primary method improves most on the baseline (largest
finite L_BFGS / L_JPO; :mod:`invnet.figures.example_problem`).
:func:`compute_landscape` (the figure's panel step) computes the panel data of (a, b) into
``results/aggregate/{experiment}/panels/fig3.h5``; :func:`plot` only reads artifacts. With several
experiments of the wave-packet family, the figure draws the first one in config order
(``max_experiments=1``: only that one gets panel data).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from ..analysis import history_band
from ..artifacts import read_h5, write_h5
from ..errors import ArtifactError
from ..solver_info import SolverSet
from .base import FigureInputs, FigureSpec, PanelInputs, with_baseline
from .example_problem import select_example
from .failures import add_note, failed_note
from .fractions_vs_n import fractions_legend, fractions_panel
from .problem_runs import load_problem_runs
from .roles import baseline_and_primary, loss_curves
from .style import DOUBLE_COLUMN, apply_style, save_figure, solver_style

log = logging.getLogger("invnet.figures.fig3")

FAMILY = "wavepacket"


def finite_limits(*arrays, default: tuple[float, float] = (0.0, 1.0)) -> tuple[float, float]:
    """(min, max) of the finite values of ``arrays``; ``default`` if there is none."""
    values = np.concatenate([np.ravel(np.asarray(a, dtype=np.float64)) for a in arrays]) if arrays else np.array([])
    values = values[np.isfinite(values)]
    return (float(values.min()), float(values.max())) if values.size else default


# ------------------------------------------------------------------------------ panel data


def t0_range(bounds: Sequence[float], solutions: Iterable[float]) -> tuple[float, float]:
    """The t0 interval of panel (b): the bounds, widened to show solutions that left them
    (BFGS is unbounded and drifts into the flat region), by at most one bounds width per side."""
    lo, hi = float(bounds[0]), float(bounds[1])
    width = hi - lo
    finite = [float(v) for v in solutions if np.isfinite(v)]
    if finite:
        pad = 0.03 * width
        if min(finite) < lo:
            lo = max(min(finite) - pad, lo - width)
        if max(finite) > hi:
            hi = min(max(finite) + pad, hi + width)
    return lo, hi


def compute_landscape(inputs: PanelInputs, out: str | os.PathLike, n_grid: int = 501) -> int:
    """Write the panel data of Figure 3 (a, b) for one example problem; return its index."""
    # torch and the families only where panels are computed: a plot job imports neither
    import torch

    from ..problems import Objective

    pr = load_problem_runs(inputs.data, inputs.runs, (FAMILY,))
    arrays, attrs, family = pr.arrays, pr.attrs, pr.family
    solutions, losses = pr.solutions, pr.losses
    n, seed = int(attrs["n"]), int(attrs["seed"])
    idx, why = select_example(losses, with_baseline(inputs.solvers, "fig3"))

    dtype = torch.float64
    x_true = torch.as_tensor(arrays["x_true"][idx], dtype=dtype)
    y_noisy = torch.as_tensor(arrays["y_target"][idx], dtype=dtype)
    datasets: dict[str, np.ndarray] = {
        "t": family.t(dtype).numpy(),
        "y_clean": family.forward(x_true[None, :])[0].numpy(),
        "y_noisy": y_noisy.numpy(),
        "x_true": x_true.numpy(),
        "x0": family.x0,
    }
    for solver, x in solutions.items():
        xs = torch.as_tensor(x[idx], dtype=dtype)
        datasets[f"x_{solver}"] = xs.numpy()
        datasets[f"fit_{solver}"] = family.forward(xs[None, :])[0].numpy()
        datasets[f"loss_{solver}"] = np.asarray(losses[solver][idx])

    lo, hi = t0_range(family.bounds[0], [x[idx, 0] for x in solutions.values()])
    t0 = torch.linspace(lo, hi, n_grid, dtype=dtype)
    grid = torch.stack([t0, torch.full_like(t0, float(x_true[1]))], dim=1)
    loss, grad = Objective(family, y_noisy.expand(n_grid, -1)).value_and_grad(grid)
    datasets["t0_grid"] = t0.numpy()
    datasets["loss_grid"] = loss.numpy()
    datasets["grad_grid"] = grad[:, 0].numpy()

    write_h5(
        out,
        datasets,
        {
            "kind": "landscape",
            "experiment": attrs["experiment"],
            "n": n,
            "seed": seed,
            "problem_index": idx,
            "selection": why,
            "solvers": ",".join(solutions),
            "problem": attrs["problem"],
        },
    )
    log.info("example problem %d of n=%d seed=%d (%s)", idx, n, seed, why)
    return idx


# ------------------------------------------------------------------------------ plotting


def _headroom(ax, lo: float, hi: float, top: float = 0.42) -> None:
    """Y limits with a free band of ``top`` (fraction of the data span) for the legend."""
    span = (hi - lo) or 1.0
    ax.set_ylim(lo - 0.04 * span, hi + top * span)


def _panel_waveform(ax, land: dict[str, np.ndarray], solvers: SolverSet) -> None:
    t = land["t"]
    ax.plot(t, land["y_noisy"], color="0.65", lw=0.6, label=r"$y^*$ (noisy)")
    ax.plot(t, land["y_clean"], color="black", lw=1.4, label="truth")
    curves = [land["y_noisy"], land["y_clean"]]
    for solver in baseline_and_primary(solvers):
        if f"fit_{solver}" in land:
            style = solver_style(solvers, solver)
            ls = "--" if solver == solvers.baseline else "-"
            ax.plot(t, land[f"fit_{solver}"], color=style["color"], ls=ls, lw=1.1,
                    label=f"{style['label']} fit")
            curves.append(land[f"fit_{solver}"])
    _headroom(ax, *finite_limits(*curves))
    ax.set_xlabel("$t$")
    ax.set_ylabel("$u(t)$")
    ax.set_title("(a) example waveform")
    ax.legend(loc="upper center", ncol=4, handlelength=1.5, columnspacing=1.0)


def _panel_landscape(ax, land: dict[str, np.ndarray], solvers: SolverSet) -> None:
    t0, loss, grad = land["t0_grid"], land["loss_grid"], land["grad_grid"]
    (h_loss,) = ax.plot(t0, loss, color="black", lw=1.2, label="$L$")
    _headroom(ax, 0.0, finite_limits(loss, default=(0.0, 1.0))[1])
    if not np.isfinite(loss).any():
        ax.text(0.5, 0.5, "no finite loss on this grid", ha="center", va="center", transform=ax.transAxes,
                fontsize=7)
    ax.set_xlabel("$t_0$")
    ax.set_ylabel("$L$")
    ax2 = ax.twinx()
    ax2.spines["right"].set_visible(True)
    (h_grad,) = ax2.plot(t0, grad, color="0.6", lw=0.7, label=r"$\partial L/\partial t_0$")
    ax2.axhline(0.0, color="0.85", lw=0.5, zorder=0)
    g = finite_limits(np.abs(grad), default=(0.0, 1.0))[1] or 1.0
    _headroom(ax2, -g, g)
    ax2.set_ylabel(r"$\partial L/\partial t_0$", color="0.45")
    ax2.tick_params(axis="y", colors="0.45")
    ax.set_zorder(ax2.get_zorder() + 1)  # loss and markers above the gradient curve
    ax.patch.set_visible(False)
    handles = [h_loss, h_grad]
    top = 0.7  # vertical markers stop below the legend band
    handles.append(ax.axvline(land["x_true"][0], ymax=top, color="black", ls=":", lw=1.0,
                              label="true $t_0$"))
    handles.append(ax.axvline(land["x0"][0], ymax=top, color="0.5", ls="-.", lw=0.8,
                              label="$x_0$"))
    lo, hi = float(t0[0]), float(t0[-1])
    ax.set_xlim(lo, hi)
    for solver in baseline_and_primary(solvers):
        if f"x_{solver}" in land:
            style = solver_style(solvers, solver)
            label, color = style["label"], style["color"]
            value = float(land[f"x_{solver}"][0])
            loss = np.asarray(land.get(f"loss_{solver}", 0.0), dtype=np.float64)
            if not (np.isfinite(value) and np.isfinite(loss).all()):  # failed here: nothing to mark
                ax.annotate(f"{label} failed (loss {float(loss):.3g})", (0.02, 0.5),
                            xycoords="axes fraction", fontsize=6, color=color)
                continue
            shown = min(max(value, lo), hi)
            handles.append(
                ax.axvline(shown, ymax=top, color=color, lw=1.0,
                           ls="--" if solver == solvers.baseline else "-", label=label)
            )
            if shown != value:  # off the grid: mark the edge and print the value
                ax.annotate(f"{label}: $t_0$ = {value:.2f}", (shown, 0.5),
                            xycoords=("data", "axes fraction"), rotation=90, va="center",
                            ha="left" if shown == lo else "right", fontsize=6, color=color)
    ax.set_title("(b) loss landscape at true $A$")
    ax.legend(handles=handles, loc="upper center", ncol=3, handlelength=1.5, columnspacing=1.0)


def _panel_curves(ax, history: pd.DataFrame, experiment: str, n: int, solvers: SolverSet) -> dict[str, object]:
    band = history_band(history, experiment, n, loss_curves(solvers))
    handles = {}
    for solver in dict.fromkeys(band["solver"]):
        b = band[band["solver"] == solver]
        x = b["step"].to_numpy() + 1
        style = solver_style(solvers, solver)
        (handles[solver],) = ax.plot(x, b["mean"], color=style["color"], ls=style["linestyle"],
                                     label=style["label"])
        ax.fill_between(x, b["min"], b["max"], color=style["color"], alpha=0.2, lw=0)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("iteration + 1")
    ax.set_ylabel("mean loss")
    ax.set_title(f"(c) optimisation, $n = {n}$")
    return handles


def plot(inputs: FigureInputs, pdf: str | os.PathLike, png: str | os.PathLike):
    """Render Figure 3 from the landscape artifact and the aggregated frames; return the figure."""
    import matplotlib.pyplot as plt

    apply_style()
    experiment = inputs.experiments[0]
    land, _ = read_h5(inputs.panels[experiment])
    frac, hist = inputs.tables["fractions"], inputs.tables["history"]
    sizes = sorted(hist.loc[hist["experiment"] == experiment, "n"].unique())
    if not sizes:
        raise ArtifactError(f"no loss histories of experiment '{experiment}' to plot")

    fig, axes = plt.subplots(2, 2, figsize=(DOUBLE_COLUMN, 5.6), layout="constrained")
    solvers = with_baseline(inputs.solvers, "fig3")
    _panel_waveform(axes[0, 0], land, solvers)
    _panel_landscape(axes[0, 1], land, solvers)
    handles = _panel_curves(axes[1, 0], hist, experiment, int(sizes[-1]), solvers)
    handles.update(fractions_panel(axes[1, 1], frac, experiment, solvers))
    fractions_legend(fig, handles, solvers, ncol=6)
    add_note(fig, failed_note(frac, experiment, solvers))
    return save_figure(fig, pdf, png)


FIGURE = FigureSpec(
    name="fig3",
    doc="Figure 3, wave packet: (a) waveforms, (b) landscape, (c) curves, (d) beat the baseline vs n",
    plot=plot,
    families=(FAMILY,),
    per_experiment=False,
    reads=("fractions", "history"),
    panels=compute_landscape,
    max_experiments=1,
)
