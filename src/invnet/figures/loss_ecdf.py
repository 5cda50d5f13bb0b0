"""Appendix figure for every experiment: the distribution of final training losses of every method,
as empirical CDFs on a log loss axis, one panel per n (all seeds pooled). The height of a curve at
L is the fraction of all problems of that n (n × seeds) on which the method ended with a loss ≤ L;
a problem the method failed on (NaN / inf loss or optimiser failure) never counts, so a method that
failed on k of N problems tops out at 1 − k/N, and the legend and each panel say how many failed.
Losses of exactly 0 are drawn at the left edge. Methods: every configured solver, in table order
(a solver the package does not know included).

The grey vertical line is the median loss of the ground truth x_true on the representative problem
set (largest n, first seed; computed in the panel step), the light band its 10–90 % range: the
noise floor, where a family's targets are noisy. A method left of it fits the noise.
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd

from ..artifacts import STATUS_OK, read_h5, write_h5
from ..solver_info import SolverSet
from .base import FigureInputs, FigureSpec, PanelInputs
from .style import DOUBLE_COLUMN, apply_style, save_figure, solver_style

COLUMNS = 4  # panels per row
TRUTH_COLOR = "0.6"  # the truth's loss: a grey vertical line over a light band (no solver's look)


def compute_truth_loss(inputs: PanelInputs, out: str | os.PathLike) -> np.ndarray:
    """The loss of the ground truth on every problem of the representative set (the noise floor)."""
    import torch  # the family's forward runs here, never in the plot job

    from ..problems import family_from_description

    arrays, attrs = read_h5(inputs.data, "data")
    family = family_from_description(attrs["problem"])
    x = torch.as_tensor(arrays["x_true"], dtype=torch.float64)
    gamma = None if "gamma" not in arrays else torch.as_tensor(arrays["gamma"], dtype=torch.float64)
    with torch.no_grad():
        loss = family.loss(family.forward(x, gamma), torch.as_tensor(arrays["y_target"], dtype=torch.float64))
    loss = loss.numpy()
    write_h5(out, {"truth_loss": loss}, {"kind": "truth_loss", "experiment": attrs["experiment"],
                                         "n": int(attrs["n"]), "seed": int(attrs["seed"])})
    return loss


def ecdf(loss: np.ndarray, status: np.ndarray, floor: float) -> tuple[np.ndarray, np.ndarray, int]:
    """(sorted losses, fraction of all problems at or below each, failed count) of one method:
    the problems with a finite loss and an OK status, losses below ``floor`` drawn at it."""
    loss = np.asarray(loss, dtype=np.float64)
    ok = (np.asarray(status) == STATUS_OK) & np.isfinite(loss)
    values = np.sort(np.maximum(loss[ok], floor))
    return values, np.arange(1, values.size + 1) / max(loss.size, 1), int((~ok).sum())


def _floor(losses: pd.Series) -> float:
    """Left edge of the loss axis: a third of the smallest positive finite loss (1e-300 if none)."""
    v = losses.to_numpy(dtype=np.float64)
    v = v[np.isfinite(v) & (v > 0)]
    return float(v.min()) / 3 if v.size else 1e-300


def plot(inputs: FigureInputs, pdf: str | os.PathLike, png: str | os.PathLike):
    """Render the loss ECDFs of one experiment; return the figure."""
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    apply_style()
    experiment = inputs.experiments[0]
    solvers: SolverSet = inputs.solvers
    out = inputs.tables["outcomes"]
    out = out[out["experiment"] == experiment]
    sizes = sorted(int(n) for n in out["n"].unique())
    methods = solvers.order(out["solver"])
    floor = _floor(out["loss"])
    cols = min(len(sizes), COLUMNS) or 1
    rows = -(-len(sizes) // cols) or 1
    fig, axes = plt.subplots(rows, cols, figsize=(DOUBLE_COLUMN, 2.5 * rows + 0.9), layout="constrained",
                             squeeze=False, sharex=True, sharey=True)
    truth = None  # (median, 10 % and 90 % quantiles, n, seed) of the truth's loss
    if experiment in inputs.panels:
        arrays, attrs = read_h5(inputs.panels[experiment])
        t = arrays["truth_loss"][np.isfinite(arrays["truth_loss"])]
        if t.size and np.median(t) > 0:
            truth = (float(np.median(t)), *np.quantile(t, [0.1, 0.9]), int(attrs["n"]), int(attrs["seed"]))
    failed_total = {s: [0, 0] for s in methods}
    zero = bool(((out["loss"] == 0) & (out["status"] == STATUS_OK)).any())
    for ax, n in zip(axes.flat, sizes):
        at_n = out[out["n"] == n]
        notes = []
        for solver in methods:
            grp = at_n[at_n["solver"] == solver]
            if grp.empty:
                continue
            x, y, failed = ecdf(grp["loss"], grp["status"], floor)
            failed_total[solver][0] += failed
            failed_total[solver][1] += len(grp)
            style = solver_style(solvers, solver)
            if x.size:  # from 0 at the left edge up to each loss, then flat to the right
                ax.step(np.r_[floor, x], np.r_[0.0, y], where="post", color=style["color"], ls=style["linestyle"],
                        lw=1.1, label=style["label"])
            if failed:
                notes.append(f"{style['label']} {failed}/{len(grp)}")
        if truth is not None:
            ax.axvspan(max(truth[1], floor), truth[2], color=TRUTH_COLOR, alpha=0.35, lw=0, zorder=0)
            ax.axvline(truth[0], color=TRUTH_COLOR, lw=1.6, zorder=0.5)
        seeds = at_n["seed"].nunique()
        problems = int(at_n.groupby("solver").size().max()) if not at_n.empty else 0
        ax.set_title(f"$n = {n}$ ({seeds} seed{'s' if seeds != 1 else ''}: {problems} problems)", fontsize=8)
        if notes:
            ax.text(0.98, 0.03, "failed: " + ", ".join(notes), transform=ax.transAxes, ha="right", va="bottom",
                    fontsize=6, wrap=True)
        ax.set_xscale("log")
        ax.set_ylim(0.0, 1.02)
        ax.set_xlabel("final loss $L$")
    for ax in axes[:, 0]:
        ax.set_ylabel("fraction of problems with loss ≤ $L$")
    for ax in list(axes.flat)[len(sizes):]:
        ax.set_visible(False)
    handles = []
    for solver in methods:
        style = solver_style(solvers, solver)
        failed, total = failed_total[solver]
        label = style["label"] + (f" ({failed}/{total} failed)" if failed else "")
        handles.append(Line2D([], [], color=style["color"], ls=style["linestyle"], lw=1.1, label=label))
    if truth is not None:
        handles.append(Line2D([], [], color=TRUTH_COLOR, lw=1.6,
                              label=f"loss of the truth: median, 10–90 % ($n = {truth[3]}$, seed {truth[4]})"))
    fig.legend(handles=handles, loc="outside lower center", ncol=min(len(handles), 4), fontsize=7)
    zero_note = "; $L = 0$ drawn at the left edge" if zero else ""
    fig.suptitle(f"{inputs.labels[experiment]}: distribution of final losses (all seeds; failed problems "
                 f"never reach the curve's top){zero_note}", fontsize=8)
    return save_figure(fig, pdf, png)


FIGURE = FigureSpec(
    name="loss_ecdf",
    doc="empirical CDFs of the final loss of every method per n (log axis), failed problems counted",
    plot=plot,
    reads=("outcomes",),
    panels=compute_truth_loss,
    caption=(
        "Distribution of the final training loss of every method: for each n, the fraction of all "
        "problems (all seeds) on which the method ended at or below L. Curves of methods that failed on "
        "some problems stop below 1; the legend and panels count the failures. Grey line and band: median "
        "and 10–90 % range of the loss of the ground truth (the noise floor)."
    ),
)
