"""Appendix figure for every experiment: example solutions in data space. For up to three problems
of the representative set (largest n, first seed), the outputs F(x, γ) of the truth, the baseline
(BFGS), the primary method (JPO) and the best other method on that problem (the lowest finite loss
among the remaining solvers, table order on ties), drawn by the family's ``data_view`` hook (a
waveform, ball paths, a field u(z, T), marker images; :mod:`invnet.figures.data_view`), and next to
them the same solutions in parameter space: each unknown as its position in the family's bounds,
the truth as a bar. A family without the hook gets the parameter-space panels alone.

The problems (each at most once; g = log L_baseline − log L_primary over the problems both solved
with a finite loss, losses floored at the smallest positive float):

  1. where the primary method gains most on the baseline: the largest g;
  2. where it loses most: the smallest g;
  3. a typical one: g closest to the median of g over all those problems (the median loss ratio;
     lowest index on ties).

Without a baseline or primary run, or with no problem both solved: the first problem.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping

import numpy as np

from ..artifacts import read_h5, write_h5
from ..solver_info import SolverSet
from .base import FigureInputs, FigureSpec, PanelInputs, with_baseline
from .data_view import PATH_LINES, TARGET_COLOR, DataView, axes_needed, draw_view
from .problem_runs import load_problem_runs
from .style import DOUBLE_COLUMN, apply_style, save_figure, solver_style

TRUTH_COLOR = "0.72"  # the truth: a light grey band under the solutions (no solver's look)
TINY = np.finfo(np.float64).tiny
SHOWN_RANGE = (-0.25, 1.25)  # parameter panel: positions in bounds drawn; beyond, hollow at the edge


# ------------------------------------------------------------------------------ selection


def log_gain(losses: Mapping[str, np.ndarray], solvers: SolverSet) -> np.ndarray | None:
    """log L_baseline − log L_primary per problem (NaN where either loss is not finite); None
    without a baseline or primary run."""
    base, primary = solvers.baseline, solvers.primary
    if base is None or primary is None or base not in losses or primary not in losses:
        return None
    b, p = (np.asarray(losses[s], dtype=np.float64) for s in (base, primary))
    ok = np.isfinite(b) & np.isfinite(p)
    with np.errstate(invalid="ignore", divide="ignore"):
        g = np.log(np.maximum(b, TINY)) - np.log(np.maximum(p, TINY))
    return np.where(ok, g, np.nan)


def select_examples(losses: Mapping[str, np.ndarray], solvers: SolverSet) -> list[tuple[int, str]]:
    """Up to three (problem index, why) pairs by the rules of the module docstring."""
    g = log_gain(losses, solvers)
    if g is None or not np.isfinite(g).any():
        reason = "no baseline and primary runs to compare" if g is None else "no problem both solved"
        return [(0, f"first problem ({reason})")]
    base, primary = solvers.label(solvers.baseline), solvers.label(solvers.primary)
    median = float(np.median(g[np.isfinite(g)]))
    rules = (
        (g, f"where {primary} gains most on {base}"),
        (-g, f"where {primary} loses most to {base}"),
        (-np.abs(g - median), "a typical one: the median loss ratio"),
    )
    chosen: list[tuple[int, str]] = []
    for score, why in rules:
        free = np.isfinite(g) & ~np.isin(np.arange(g.size), [i for i, _ in chosen])
        if free.any():
            chosen.append((int(np.argmax(np.where(free, score, -np.inf))), why))
    return chosen


def best_other(losses: Mapping[str, np.ndarray], solvers: SolverSet, problem: int) -> str | None:
    """The solver, other than the baseline and the primary method, with the lowest finite loss on
    ``problem`` (table order on ties); None if there is none."""
    best, best_loss = None, np.inf
    for s in solvers.order(losses):
        if s in (solvers.baseline, solvers.primary):
            continue
        value = float(losses[s][problem])
        if np.isfinite(value) and value < best_loss:
            best, best_loss = s, value
    return best


def shown_solvers(losses: Mapping[str, np.ndarray], solvers: SolverSet, problem: int) -> list[str]:
    """The solutions drawn for ``problem`` after the truth: baseline, primary, best other (those run)."""
    out = [s for s in (solvers.baseline, solvers.primary) if s is not None and s in losses]
    other = best_other(losses, solvers, problem)
    return out + ([other] if other is not None else [])


# ------------------------------------------------------------------------------ panel data


def compute_examples(inputs: PanelInputs, out: str | os.PathLike) -> list[int]:
    """Write the example problems' solutions, losses and data-space outputs; return their indices."""
    import torch  # the family's forward runs here, never in the plot job

    pr = load_problem_runs(inputs.data, inputs.runs)
    solvers = with_baseline(inputs.solvers, "example_solutions")
    family, arrays = pr.family, pr.arrays
    examples = select_examples(pr.losses, solvers)
    gain = log_gain(pr.losses, solvers)
    gamma = arrays.get("gamma")
    datasets: dict[str, np.ndarray] = {}
    shown_all, views = [], []
    for k, (idx, _) in enumerate(examples):
        shown = shown_solvers(pr.losses, solvers, idx)
        xs = np.vstack([arrays["x_true"][idx]] + [pr.solutions[s][idx] for s in shown]).astype(np.float64)
        g = None if gamma is None else np.asarray(gamma[idx], dtype=np.float64)
        y = np.asarray(arrays["y_target"][idx], dtype=np.float64)
        with torch.no_grad():
            gt = None if g is None else torch.as_tensor(g)[None]
            truth_loss = float(family.loss(family.forward(torch.as_tensor(xs[:1]), gt), torch.as_tensor(y)[None])[0])
        datasets[f"ex{k}_x"] = xs
        datasets[f"ex{k}_loss"] = np.array([truth_loss] + [float(pr.losses[s][idx]) for s in shown])
        view = family.data_view(xs, g, y)
        if view is not None:
            checked = DataView.from_hook(view, len(xs), f"{type(family).__name__}.data_view")
            datasets.update(checked.datasets(f"ex{k}"))
            views.append(checked.attrs())
        shown_all.append(shown)
    with np.errstate(over="ignore"):  # a ratio beyond the float range is inf, and says so
        ratios = [None if gain is None or not np.isfinite(gain[i]) else float(np.exp(gain[i])) for i, _ in examples]
    layout = {  # one JSON attribute (read_h5 decodes only its own JSON attributes)
        "indices": [i for i, _ in examples],
        "selection": [why for _, why in examples],
        "ratio": ratios,
        "shown": shown_all,
        "views": views if len(views) == len(examples) else [],
        "param_names": list(family.param_names),
        "bounds": family.bounds.tolist(),
    }
    write_h5(out, datasets, {"kind": "example_solutions", "experiment": pr.attrs["experiment"],
                             "n": int(pr.attrs["n"]), "seed": int(pr.attrs["seed"]),
                             "examples": json.dumps(layout)})
    return [i for i, _ in examples]


# ------------------------------------------------------------------------------ plotting


def _styles(shown: list[str], solvers: SolverSet) -> list[dict]:
    """Truth then solvers: colour, line style, width, marker, label (baseline dashed, others in
    their declared line style)."""
    out = [{"color": TRUTH_COLOR, "ls": "-", "lw": 3.0, "marker": "o", "label": "truth", "zorder": 2}]
    for s in shown:
        st = solver_style(solvers, s)
        ls = "--" if s == solvers.baseline else st["linestyle"]
        out.append({"color": st["color"], "ls": ls, "lw": 1.0, "marker": st["marker"], "label": st["label"],
                    "zorder": 4})
    return out


def _parameter_panel(ax, xs: np.ndarray, styles: list[dict], names: list[str], bounds: np.ndarray) -> None:
    """Each unknown's position in bounds per solution; the truth as a bar; beyond
    :data:`SHOWN_RANGE` drawn hollow at the edge."""
    lo, hi = bounds[:, 0], bounds[:, 1]
    pos = (xs - lo) / (hi - lo)
    m, dim = pos.shape
    offsets = np.linspace(-0.25, 0.25, max(m - 1, 1)) if m > 2 else np.zeros(max(m - 1, 1))
    ax.axhspan(0.0, 1.0, color="0.94", zorder=0, lw=0)
    for j in range(dim):
        ax.plot([j - 0.38, j + 0.38], [pos[0, j]] * 2, color=styles[0]["color"], lw=2.4, zorder=2,
                solid_capstyle="butt")
    for s in range(1, m):
        v = pos[s]
        shown = np.clip(v, *SHOWN_RANGE)
        inside = np.isfinite(v) & (shown == v)
        st = styles[s]
        xj = np.arange(dim) + offsets[s - 1]
        ax.plot(xj[inside], shown[inside], ls="none", marker=st["marker"], color=st["color"], ms=4.5, zorder=4)
        out = np.isfinite(v) & ~inside
        ax.plot(xj[out], shown[out], ls="none", marker=st["marker"], mfc="white", mec=st["color"], ms=4.5, zorder=4)
    ax.set_xticks(range(dim), names, fontsize=7 if dim <= 3 else 6, rotation=0 if dim <= 3 else 90)
    ax.set_xlim(-0.6, dim - 0.4)
    ax.set_ylim(SHOWN_RANGE[0] - 0.1, SHOWN_RANGE[1] + 0.1)  # room for a marker at the edge
    ax.set_ylabel("position in bounds", fontsize=7)


def _loss_lines(losses: np.ndarray, styles: list[dict], per_line: int = 8) -> str:
    """'L: truth 1.0e-02 · BFGS 3.1e-01 · ...', ``per_line`` entries a line."""
    parts = [f"{st['label']} {v:.2e}" for st, v in zip(styles, losses)]
    lines = [" · ".join(parts[i:i + per_line]) for i in range(0, len(parts), per_line)]
    return "L: " + "\n".join(lines)


def plot(inputs: FigureInputs, pdf: str | os.PathLike, png: str | os.PathLike):
    """Render the example solutions of one experiment from its panel file; return the figure."""
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    apply_style()
    experiment = inputs.experiments[0]
    solvers = with_baseline(inputs.solvers, "example_solutions")
    arrays, attrs = read_h5(inputs.panels[experiment])
    layout = json.loads(attrs["examples"])
    indices, why, shown = layout["indices"], layout["selection"], layout["shown"]
    views, names = layout["views"], layout["param_names"]
    bounds = np.asarray(layout["bounds"], dtype=np.float64)
    rows = len(indices)
    row_height = 2.6 if not views else 2.0 if views[0]["kind"] == "images" else 2.15
    fig = plt.figure(figsize=(DOUBLE_COLUMN, row_height * (rows if views else 1) + 0.6), layout="constrained")
    drawn: dict[str, dict] = {}
    path_names: list[str] = []
    cells = fig.subfigures(rows, 1, squeeze=False)[:, 0] if views else [fig] * rows
    if not views:
        param_axes = fig.subplots(1, rows, squeeze=False)[0]
    for k, idx in enumerate(indices):
        styles = _styles(shown[k], solvers)
        xs, losses = arrays[f"ex{k}_x"], arrays[f"ex{k}_loss"]
        for st in styles[1:]:
            drawn.setdefault(st["label"], st)
        ratio = layout["ratio"][k]
        compared = "" if ratio is None else (f"loss ratio {solvers.label(solvers.baseline)} / "
                                             f"{solvers.label(solvers.primary)} = {ratio:.3g}")
        if views:  # a row of its own: one line each for the choice and the losses
            title = f"problem {idx}: {why[k]}" + (f" ({compared})" if compared else "")
            title += "\n" + _loss_lines(losses, styles)
        else:  # a narrow panel
            title = "\n".join(filter(None, (f"problem {idx}: {why[k]}", compared, _loss_lines(losses, styles, 2))))
        if views:
            view = DataView.read(arrays, f"ex{k}", views[k])
            path_names = list(view.path_names) or path_names
            panels = axes_needed(view)
            ratios = [1.0] * panels + [1.2] if view.kind == "images" else [2.4, 1.0]
            axes = cells[k].subplots(1, panels + 1, width_ratios=ratios)
            titles = (["target $y^*$"] if view.target is not None else []) + [st["label"] for st in styles]
            draw_view(list(axes[:-1]), view, styles, titles)
            _parameter_panel(axes[-1], xs, styles, names, bounds)
            cells[k].suptitle(title, fontsize=7, x=0.01, ha="left")
        else:
            ax = param_axes[k]
            _parameter_panel(ax, xs, styles, names, bounds)
            ax.set_title(title, fontsize=6.5)
    kind = views[0]["kind"] if views else None
    handles = [Line2D([], [], color=TRUTH_COLOR, lw=3.0, label="truth")]
    if kind == "curves":
        handles.append(Line2D([], [], color=TARGET_COLOR, lw=0.6, label="target $y^*$"))
    if kind == "paths":
        handles.append(Line2D([], [], color="black", marker="x", ls="none", label="target $y^*$"))
    # line styles mean the solver only where curves are drawn (paths: the ball; else points)
    handles += [Line2D([], [], color=st["color"], ls=st["ls"] if kind == "curves" else "-", marker=st["marker"],
                       lw=1.0, label=label) for label, st in drawn.items()]
    handles += [Line2D([], [], color="0.3", ls=ls, lw=1.0, label=f"path of {name}")
                for name, ls in zip(path_names, PATH_LINES)]
    fig.legend(handles=handles, loc="outside lower center", ncol=min(len(handles), 8), fontsize=7)
    space = ("left: data space, right: parameter space" if views
             else "in parameter space (the family draws no data view)")
    fig.suptitle(f"{inputs.labels[experiment]}: example solutions ($n = {attrs['n']}$, seed {attrs['seed']})\n"
                 f"{space}; parameters as positions in the bounds, hollow: outside the range drawn", fontsize=8)
    return save_figure(fig, pdf, png)


FIGURE = FigureSpec(
    name="example_solutions",
    doc="example solutions (truth, baseline, primary method, best other) in data and parameter space",
    plot=plot,
    reads=(),
    panels=compute_examples,
    caption=(
        "Example solutions of the representative problem set (largest n, first seed): the problem "
        "where the primary method gains most on the baseline, where it loses most, and a typical one "
        "(the median of the loss ratio). Left: the outputs F(x, γ) of the truth, the baseline, the "
        "primary method and the best other method on that problem, as the family draws them; right: "
        "the same solutions as positions of each unknown in the family's bounds (truth as a bar)."
    ),
)
