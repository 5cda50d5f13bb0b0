"""Figure 4, billiards: zero-gradient regions (docs/experiments.md §4.2).

(a, b) L over the (v_x, v_y) plane for one problem of each of the first two billiards
       experiments in config order (one object ball; chain), log colour scale; the white line
       is the edge of the flat region (where the intended collisions stop happening and the
       gradient is exactly zero). Marked: x0, the true velocity and the solutions of every
       solver that starts from x0 (``from_x0``: BFGS, L-BFGS-B, GD, JPO, supervised, ...);
       marks that coincide (the solvers stuck at x0) nest, the first in table order largest,
       so each shows as a ring inside the one before. Example problem: among the problems on which
       ∇L(x0) = 0, the one where the primary method improves most on the baseline (largest
       finite L_BFGS / L_JPO; first problem if none is flat).
(c) fraction of problems on which each of those solvers but the baseline beats it against n
    (mean ± std over seeds), both experiments; the fraction of problems with ∇L(x0) = 0 exactly
    (representative set) is printed in the titles of (a, b).

:func:`compute_landscape` (the panel step) writes the panel data of (a, b) to
``results/aggregate/{experiment}/panels/fig4.h5`` for each of the two experiments drawn
(``max_experiments=2``).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence

import numpy as np

from ..artifacts import read_h5, write_h5
from ..errors import ArtifactError
from ..solver_info import SolverSet
from .base import FigureInputs, FigureSpec, PanelInputs, with_baseline
from .billiards_runs import FAMILIES, load_billiards_runs
from .example_problem import select_example as select_among
from .fractions_vs_n import compared, draw_fraction, fraction_vs_n_axis
from .style import DOUBLE_COLUMN, apply_style, save_figure, solver_style

log = logging.getLogger("invnet.figures.fig4")

EXPERIMENT_LINES = ("-", "--", ":", "-.")  # line style per experiment in (c), config order
LONE_MARK = 24.0  # marker area of a solution no other marked solution coincides with
NESTED_MARKS = (44.0, 18.0, 6.0, 3.0)  # areas of coinciding marks in table order (x0 ring, truth: 130)
COINCIDE = 0.02  # marks closer than this fraction of the drawn box coincide


def marked_solvers(solvers: SolverSet) -> list[str]:
    """Panels (a, b): every solver that starts from x0, in table order."""
    return solvers.select(from_x0=True)


def mark_depths(points: Mapping[str, Sequence[float]], tol: float) -> dict[str, int | None]:
    """For the marks ``points`` (solver -> (x, y), in table order): None for a mark no other one
    coincides with (within ``tol``), else how many coinciding marks come before it."""
    xy = {s: np.asarray(p, dtype=np.float64) for s, p in points.items()}
    names = list(xy)
    depths: dict[str, int | None] = {}
    for k, s in enumerate(names):
        near = [names.index(t) for t in names if t != s and np.all(np.abs(xy[t] - xy[s]) <= tol)]
        depths[s] = sum(1 for j in near if j < k) if near else None
    return depths


def mark_sizes(points: Mapping[str, Sequence[float]], tol: float) -> dict[str, float]:
    """Marker areas: :data:`LONE_MARK` for a mark alone; where marks coincide, decreasing in table
    order (:data:`NESTED_MARKS`), so that each shows as a ring inside the one before."""
    return {s: LONE_MARK if d is None else NESTED_MARKS[min(d, len(NESTED_MARKS) - 1)]
            for s, d in mark_depths(points, tol).items()}


# ------------------------------------------------------------------------------ panel data


def select_example(flat: np.ndarray, losses: Mapping[str, np.ndarray], solvers: SolverSet) -> tuple[int, str]:
    """Index of the example problem and why: among problems with ∇L(x0) = 0, the largest
    L_BFGS / L_JPO (lowest index on ties); all problems if none is flat; the first of them
    without both runs."""
    pool = np.flatnonzero(flat) if flat.any() else np.arange(flat.size)
    where = "with zero gradient at x0" if flat.any() else "(none has zero gradient at x0)"
    idx, why = select_among(losses, solvers, pool)
    return idx, f"{why} among the problems {where}"


def plane_box(
    points: Sequence[np.ndarray], max_half: float, min_half: float = 0.35, margin: float = 0.6
) -> np.ndarray:
    """(2, 2) square box of the (v_x, v_y) grid around the marked points (x0, truth, then the
    solutions): centred on their bounding box, half-width ``margin`` x its larger extent, at
    least ``min_half``, so the flat region around x0 and the hit region near the truth both show.
    If that exceeds ``max_half`` (a solution far away), the box is fitted to x0 and the truth
    alone and the far solutions are drawn on its edge."""
    pts = np.array([p for p in points if np.all(np.isfinite(p))], dtype=np.float64).reshape(-1, 2)
    for sel in (pts, pts[:2]):
        lo, hi = sel.min(axis=0), sel.max(axis=0)
        half = max(margin * float((hi - lo).max()), min_half)
        if half <= max_half:
            break
    centre = 0.5 * (lo + hi)
    return np.stack([centre - half, centre + half], axis=1)


def compute_landscape(inputs: PanelInputs, out: str | os.PathLike, n_grid: int = 301) -> int:
    """Write the panel data of Figure 4 (a or b) for one example problem; return its index."""
    # torch and the families only where panels are computed: a plot job imports neither
    import torch

    rep = load_billiards_runs(inputs.data, inputs.runs)
    flat = rep.flat_at_x0()
    idx, why = select_example(flat, rep.losses, with_baseline(inputs.solvers, "fig4"))
    family = rep.family

    points = [family.x0, rep.x_true[idx]] + [x[idx] for x in rep.solutions.values()]
    box = plane_box(points, max_half=float(np.ptp(family.bounds, axis=1).max()))
    vx = np.linspace(box[0, 0], box[0, 1], n_grid)
    vy = np.linspace(box[1, 0], box[1, 1], n_grid)
    grid = np.stack(np.meshgrid(vx, vy, indexing="xy"), axis=-1).reshape(-1, 2)  # row = v_y
    obj = rep.objective(np.full(grid.shape[0], idx))
    loss, grad = obj.value_and_grad(torch.as_tensor(grid))
    shape = (n_grid, n_grid)
    datasets: dict[str, np.ndarray] = {
        "vx": vx,
        "vy": vy,
        "loss_grid": loss.numpy().reshape(shape),
        "flat_grid": (grad == 0.0).all(dim=1).numpy().reshape(shape).astype(np.int8),
        "x_true": rep.x_true[idx],
        "x0": family.x0,
        "gamma": rep.gamma[idx],
        "y_target": rep.y_target[idx],
        "flat_at_x0": flat.astype(np.int8),
    }
    for solver, x in rep.solutions.items():
        datasets[f"x_{solver}"] = x[idx]
        datasets[f"loss_{solver}"] = np.asarray(rep.losses[solver][idx])
    write_h5(
        out,
        datasets,
        {
            "kind": "landscape",
            "experiment": rep.attrs["experiment"],
            "n": rep.n,
            "seed": int(rep.attrs["seed"]),
            "problem_index": idx,
            "selection": why,
            "flat_fraction": float(flat.mean()),
            "solvers": ",".join(rep.solutions),
            "problem": rep.attrs["problem"],
        },
    )
    log.info("example problem %d of n=%d (%s); grad L(x0) == 0 on %.3f", idx, rep.n, why, flat.mean())
    return idx


# ------------------------------------------------------------------------------ plotting


def _panel_landscape(fig, ax, land: dict[str, np.ndarray], attrs: dict, title: str,
                     solvers: SolverSet) -> dict[str, object]:
    from matplotlib.colors import LogNorm
    from matplotlib.lines import Line2D

    vx, vy, loss = land["vx"], land["vy"], land["loss_grid"]
    positive = loss[loss > 0]
    lo = max(float(positive.min()) if positive.size else 1e-12, float(loss.max()) * 1e-8)
    image = ax.pcolormesh(vx, vy, np.maximum(loss, lo), norm=LogNorm(lo, float(loss.max())),
                          cmap="viridis", shading="auto", rasterized=True)
    cbar = fig.colorbar(image, ax=ax, shrink=0.9, pad=0.02)
    cbar.set_label("$L$", labelpad=1)
    cbar.ax.tick_params(labelsize=6)
    ax.contour(vx, vy, land["flat_grid"], levels=[0.5], colors="white", linewidths=0.8)
    handles: dict[str, object] = {"flat": Line2D([], [], color="0.5", lw=0.8, label=r"edge of flat region ($\nabla L = 0$)")}
    ax.scatter(*land["x0"], s=130, marker="o", facecolors="none", edgecolors="white", linewidths=1.2, zorder=4)
    handles["x0"] = Line2D([], [], ls="", marker="o", ms=7, mfc="none", mec="0.3", label="$x_0$ (shared start)")
    # The true velocity under the solutions: a large star whose arms show around a solution on it.
    handles["truth"] = ax.scatter(*land["x_true"], s=130, marker="*", color="white", edgecolors="black",
                                  linewidths=0.6, zorder=5, label="true velocity")
    # Concentric where several are stuck at x0: the first inside the x0 ring, each next one inside.
    (x_lo, x_hi), (y_lo, y_hi) = (vx[0], vx[-1]), (vy[0], vy[-1])
    marked = [s for s in marked_solvers(solvers) if f"x_{s}" in land]
    at = {s: (min(max(land[f"x_{s}"][0], x_lo), x_hi), min(max(land[f"x_{s}"][1], y_lo), y_hi)) for s in marked}
    tol = COINCIDE * float(x_hi - x_lo)
    sizes, depths = mark_sizes(at, tol), mark_depths(at, tol)
    for k, solver in enumerate(marked):
        style = solver_style(solvers, solver)
        x, y = land[f"x_{solver}"]
        shown = at[solver]
        inside = bool(depths[solver])  # within another mark: a thin edge, or the edge hides it
        handles[solver] = ax.scatter(*shown, s=sizes[solver], marker=style["marker"], color=style["color"],
                                     edgecolors="white", linewidths=0.3 if inside else 0.6, zorder=6 + k,
                                     label=style["label"])
        if shown != (x, y):  # outside the drawn box: on its edge, value printed
            ax.annotate(f"{style['label']} ({x:.2g}, {y:.2g})", shown, fontsize=5.5, color="white",
                        xytext=(3, 3), textcoords="offset points")
    ax.set_xlim(x_lo, x_hi)
    ax.set_ylim(y_lo, y_hi)
    ax.set_aspect("equal")
    ax.set_xlabel("$v_x$")
    ax.set_ylabel("$v_y$", labelpad=0)
    frac = attrs.get("flat_fraction", float("nan"))
    ax.set_title(f"{title}\n" + rf"$\nabla L(x_0) = 0$: {frac:.0%} of $n = {attrs['n']}$", fontsize=8)
    return handles


def _panel_fractions(ax, fractions, experiments: Sequence[str], labels: dict[str, str], letter: str,
                     solvers: SolverSet) -> list[str]:
    """(c): one curve per marked solver (colour, marker) and experiment (line style, filled
    markers for the first); returns the solvers drawn. The key is the figure legend."""
    drawn = []
    for k, experiment in enumerate(experiments):
        frac = compared(fractions, experiment, solvers)
        ls = EXPERIMENT_LINES[k % len(EXPERIMENT_LINES)]
        for solver in [s for s in marked_solvers(solvers) if s in set(frac["solver"])]:
            color = solver_style(solvers, solver)["color"]
            draw_fraction(ax, frac, solver, "beat", solvers, ls=ls, mfc=color if k == 0 else "white")
            drawn.append(solver)
    all_sizes = sorted({int(n) for n in fractions["n"].unique()})
    fraction_vs_n_axis(ax, all_sizes)
    ax.set_ylabel(f"fraction beating {solvers.label(solvers.baseline)}")
    ax.set_title(f"({letter}) method beats {solvers.label(solvers.baseline)}\n(mean ± std over seeds)", fontsize=8)
    return solvers.order(drawn)


def _legend(fig, handles: dict[str, object], drawn: Sequence[str], experiments: Sequence[str],
            labels: dict[str, str], solvers: SolverSet, letter: str) -> None:
    """One legend below the figure: x0, the truth, each marked solver (its mark in the
    landscapes and its colour in the fractions panel, all at one size), the flat-region edge and
    the line style of each experiment in the fractions panel."""
    from matplotlib.lines import Line2D

    items = [(handles[k], handles[k].get_label()) for k in ("x0", "truth") if k in handles]
    for solver in solvers.order([s for s in marked_solvers(solvers) if s in handles or s in drawn]):
        style = solver_style(solvers, solver)
        line = {"lw": 1.0} if solver in drawn else {"ls": ""}  # a curve in the fractions panel, or a mark only
        items.append((Line2D([], [], color=style["color"], marker=style["marker"], ms=5, mec="white", mew=0.5,
                             **line), style["label"]))
    if "flat" in handles:
        items.append((handles["flat"], handles["flat"].get_label()))
    for k, experiment in enumerate(experiments):
        ls = EXPERIMENT_LINES[k % len(EXPERIMENT_LINES)]
        items.append((Line2D([], [], color="0.3", ls=ls, marker="o", ms=4, mfc="0.3" if k == 0 else "white"),
                      f"({letter}) {labels[experiment]}"))
    ncol = len(items) if len(items) <= 7 else -(-len(items) // 2)
    fig.legend(*zip(*items), loc="outside lower center", ncol=ncol, handlelength=2.2, columnspacing=1.2,
               fontsize=7)


def plot(inputs: FigureInputs, pdf: str | os.PathLike, png: str | os.PathLike):
    """Render Figure 4 from the landscape artifacts and the aggregated fractions; return the figure."""
    import matplotlib.pyplot as plt

    apply_style()
    with_baseline(inputs.solvers, "fig4")
    experiments = inputs.experiments[:2]
    if not experiments:
        raise ArtifactError("Figure 4 needs at least one billiards experiment")
    fig, axes = plt.subplots(1, len(experiments) + 1, figsize=(DOUBLE_COLUMN, 2.75), layout="constrained",
                             gridspec_kw={"width_ratios": [1.0] * len(experiments) + [0.85]})
    handles: dict[str, object] = {}
    for k, experiment in enumerate(experiments):
        land, attrs = read_h5(inputs.panels[experiment])
        title = f"({'ab'[k]}) {inputs.labels[experiment]}, problem {attrs['problem_index']}"
        handles.update(_panel_landscape(fig, axes[k], land, attrs, title, inputs.solvers))
    letter = "abc"[len(experiments)]
    drawn = _panel_fractions(axes[-1], inputs.tables["fractions"], experiments, inputs.labels, letter, inputs.solvers)
    _legend(fig, handles, drawn, experiments, inputs.labels, inputs.solvers, letter)
    return save_figure(fig, pdf, png)


FIGURE = FigureSpec(
    name="fig4",
    doc="Figure 4, billiards: (a, b) loss over the cue velocity plane, (c) the solvers from x0 beat the baseline vs n",
    plot=plot,
    families=FAMILIES,
    per_experiment=False,
    reads=("fractions",),
    panels=compute_landscape,
    max_experiments=2,
)
