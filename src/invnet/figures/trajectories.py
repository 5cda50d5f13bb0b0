"""Appendix figure for the billiards experiments (docs/experiments.md §4.2): example shots drawn
on the table. For up to three problems of the representative set (largest n, first seed), the
true shot and the shots of the baseline (BFGS) and of the primary method (JPO): paths of the cue
and object balls (exact: straight between the collision knots), start positions to scale, rest
positions and the target y*. Top row: the whole table; bottom row: a zoom on the collisions.

Examples (each at most once, skipped when no problem fits; ratios of finite losses,
:mod:`invnet.figures.example_problem`):
  1. ∇L(x0) = 0 and the largest L_BFGS / L_JPO (JPO leaves the flat start, BFGS cannot);
  2. ∇L(x0) = 0 and the largest L_JPO / L_BFGS (JPO's worst problem among the flat starts);
  3. ∇L(x0) ≠ 0 and the largest L_JPO / L_BFGS (BFGS has a gradient from the start).
Without a baseline or primary run: the first problem, with the shots there are.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping

import numpy as np

from ..artifacts import read_h5, write_h5
from ..solver_info import SolverSet
from .base import FigureInputs, FigureSpec, PanelInputs, with_baseline
from .billiards_runs import FAMILIES, load_billiards_runs, shot_knots
from .example_problem import compared_pair, largest_ratio, select_example
from .roles import baseline_and_primary
from .style import DOUBLE_COLUMN, apply_style, loss_label, save_figure, solver_style

TRUTH = "truth"  # the true shot's key in the panel file (never a solver's: solvers are keyed by name)
BALL_LINES = (":", "-", "--")  # cue, ball 1, ball 2
# (pool, which ratio is largest, title): "gain" = L_baseline / L_primary, "loss" = its inverse
CATEGORIES = (
    ("flat", "gain", r"$\nabla L(x_0) = 0$, {primary}'s best"),
    ("flat", "loss", r"$\nabla L(x_0) = 0$, {primary}'s worst"),
    ("hit", "loss", r"$\nabla L(x_0) \neq 0$, {primary}'s worst"),
)


def select_examples(flat: np.ndarray, losses: Mapping[str, np.ndarray], solvers: SolverSet) -> list[tuple[int, str]]:
    """Up to three (index, why) pairs, one per category of the module docstring."""
    pair = compared_pair(losses, solvers)
    if pair is None:
        return [select_example(losses, solvers)]
    base, primary = pair
    chosen: list[tuple[int, str]] = []
    for where, which, why in CATEGORIES:
        pool = np.flatnonzero(flat if where == "flat" else ~flat)
        pool = np.array([i for i in pool if i not in {c for c, _ in chosen}], dtype=int)
        if pool.size:
            num, den = (base, primary) if which == "gain" else (primary, base)
            chosen.append((largest_ratio(losses[num], losses[den], pool), why.format(primary=solvers.label(primary))))
    return chosen


def compute_trajectories(inputs: PanelInputs, out: str | os.PathLike) -> list[int]:
    """Write the shots of the example problems; return their indices."""
    rep = load_billiards_runs(inputs.data, inputs.runs)
    flat = rep.flat_at_x0()
    examples = select_examples(flat, rep.losses, with_baseline(inputs.solvers, "trajectories"))
    datasets: dict[str, np.ndarray] = {}
    shots = [TRUTH] + [s for s in baseline_and_primary(inputs.solvers) if s in rep.solutions]
    for k, (idx, _) in enumerate(examples):
        g = rep.gamma[idx : idx + 1]
        datasets[f"ex{k}_gamma"] = g[0]
        datasets[f"ex{k}_y_target"] = rep.y_target[idx]
        for shot in shots:
            x = rep.x_true[idx : idx + 1] if shot == TRUTH else rep.solutions[shot][idx : idx + 1]
            datasets[f"ex{k}_{shot}_x"] = x[0]
            datasets[f"ex{k}_{shot}_knots"] = shot_knots(rep.family, x, g)[0]
            if shot != TRUTH:
                datasets[f"ex{k}_{shot}_loss"] = np.asarray(rep.losses[shot][idx])
    write_h5(
        out,
        datasets,
        {
            "kind": "trajectories",
            "experiment": rep.attrs["experiment"],
            "n": rep.n,
            "seed": int(rep.attrs["seed"]),
            "indices": json.dumps([i for i, _ in examples]),
            "selection": json.dumps([why for _, why in examples]),
            "flat": json.dumps([bool(flat[i]) for i, _ in examples]),
            "shots": json.dumps(shots),
            "radius": float(rep.family.params["radius"]),
            "problem": rep.attrs["problem"],
        },
    )
    return [i for i, _ in examples]


# ------------------------------------------------------------------------------ plotting


def _shot_style(shot: str, solvers: SolverSet) -> dict:
    if shot == TRUTH:
        return {"color": "0.55", "lw": 2.2, "label": "true shot", "zorder": 2}
    style = solver_style(solvers, shot)
    return {"color": style["color"], "lw": 1.0, "label": f"{style['label']} shot", "zorder": 4}


def _draw_example(ax, land: dict[str, np.ndarray], k: int, shots: list[str], radius: float,
                  solvers: SolverSet) -> np.ndarray:
    """Draw one example; return the (m, 2) points that must be in view."""
    from matplotlib.patches import Circle

    gamma = land[f"ex{k}_gamma"].reshape(-1, 2)
    starts = np.vstack([np.zeros((1, 2)), gamma])
    for b, centre in enumerate(starts):
        ax.add_patch(Circle(centre, radius, facecolor="white" if b == 0 else "0.25", edgecolor="black",
                            lw=0.5, zorder=6))
    points = [starts]
    for shot in shots:
        knots = land[f"ex{k}_{shot}_knots"]  # (K, balls, 2)
        st = _shot_style(shot, solvers)
        for b in range(knots.shape[1]):
            path = knots[:, b]
            if np.allclose(path, path[0]):
                continue  # never moved
            ax.plot(path[:, 0], path[:, 1], color=st["color"], lw=st["lw"], ls=BALL_LINES[b],
                    zorder=st["zorder"], solid_capstyle="round")
            ax.add_patch(Circle(path[-1], radius, facecolor="none", edgecolor=st["color"], lw=0.8,
                                zorder=st["zorder"] + 1))
            points.append(path)
    target = land[f"ex{k}_y_target"]
    ax.scatter(*target, marker="x", s=28, color="black", lw=1.1, zorder=8)
    points.append(target[None])
    return np.vstack(points)


def _set_view(ax, points: np.ndarray, pad: float) -> None:
    lo, hi = points.min(axis=0) - pad, points.max(axis=0) + pad
    ax.set_xlim(lo[0], hi[0])
    ax.set_ylim(lo[1], hi[1])
    ax.set_aspect("equal", adjustable="datalim")


def plot(inputs: FigureInputs, pdf: str | os.PathLike, png: str | os.PathLike):
    """Render the example shots of one billiards experiment; return the figure."""
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    apply_style()
    experiment = inputs.experiments[0]
    land, attrs = read_h5(inputs.panels[experiment])
    indices, why = json.loads(attrs["indices"]), json.loads(attrs["selection"])
    shots, radius = json.loads(attrs["shots"]), float(attrs["radius"])
    solvers = with_baseline(inputs.solvers, "trajectories")
    cols = max(len(indices), 1)
    fig, axes = plt.subplots(2, cols, figsize=(DOUBLE_COLUMN, 4.9), layout="constrained", squeeze=False)
    for k, idx in enumerate(indices):
        top, bottom = axes[0, k], axes[1, k]
        pts = _draw_example(top, land, k, shots, radius, solvers)
        _set_view(top, pts, 0.08)
        losses = ", ".join(
            f"{loss_label(solvers, s)} = {float(land[f'ex{k}_{s}_loss']):.1e}" for s in shots if s != TRUTH
        )
        top.set_title(f"problem {idx}: {why[k]}\n{losses}", fontsize=7)
        _draw_example(bottom, land, k, shots, radius, solvers)
        gamma = land[f"ex{k}_gamma"].reshape(-1, 2)
        _set_view(bottom, np.vstack([gamma, gamma.mean(axis=0, keepdims=True)]), 0.12)
        bottom.set_title("zoom on the object ball(s)", fontsize=7)
        for ax in (top, bottom):
            ax.set_xlabel("$x$")
            ax.set_ylabel("$y$", labelpad=0)
    for ax in list(axes.flat)[2 * len(indices):]:
        ax.set_visible(False)
    balls = ["cue", "ball 1", "ball 2"][: 1 + len(land["ex0_gamma"]) // 2] if indices else []
    handles = [Line2D([], [], color=_shot_style(s, solvers)["color"], lw=_shot_style(s, solvers)["lw"]) for s in shots]
    labels = [_shot_style(s, solvers)["label"] for s in shots]
    handles += [Line2D([], [], color="0.3", ls=BALL_LINES[b], lw=1.0) for b in range(len(balls))]
    labels += [f"path of {name}" for name in balls]
    handles.append(Line2D([], [], ls="", marker="x", color="black", ms=5))
    labels.append("target $y^*$")
    fig.legend(handles, labels, loc="outside lower center", ncol=len(handles), fontsize=7,
               handlelength=2.4, columnspacing=1.1)
    fig.suptitle(f"{inputs.labels[experiment]}: example shots ($n = {attrs['n']}$, seed {attrs['seed']})",
                 fontsize=9)
    return save_figure(fig, pdf, png)


FIGURE = FigureSpec(
    name="trajectories",
    doc="billiards: example shots (true, baseline, primary method) drawn on the table",
    plot=plot,
    families=FAMILIES,
    per_experiment=True,
    reads=(),
    panels=compute_trajectories,
)
