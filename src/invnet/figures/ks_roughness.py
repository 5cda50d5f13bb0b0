"""Appendix figure for Kuramoto–Sivashinsky experiments: landscape roughness against the horizon.

For up to :data:`PROBLEMS` problems of the representative problem set (largest n, first seed),
the loss along β1 (β2 at its true value) on an 801-point grid over the β1 bounds, at each horizon
T of :data:`HORIZONS` plus the experiment's own; the number of strict interior local minima of
each curve is plotted against T (every problem as a dot, the median and the min–max range as a
line and band). At the experiment's own T the target is y*; at the others the noise-free u(T) of
the true β (same γ). The counts are written to the panel file and the log.
"""

from __future__ import annotations

import logging
import os
import numpy as np

from ..artifacts import read_h5, write_h5
from ..errors import ArtifactError
from .base import FigureInputs, FigureSpec, PanelInputs
from .landscape import KS_GRID_POINTS, count_local_minima, horizons_with, landscape_along, with_horizon
from .style import SINGLE_COLUMN, apply_style, save_figure

log = logging.getLogger("invnet.figures.ks_roughness")

FAMILY = "ks"
HORIZONS = (2.5, 5.0, 10.0, 20.0, 40.0, 80.0)
PROBLEMS = 8  # 8 x 801 forwards per horizon: keeps the smoke DAG small


def compute_roughness(inputs: PanelInputs, out: str | os.PathLike) -> np.ndarray:
    """Local-minimum counts (horizons, problems) along β1 for the first problems of the data
    artifact (the landscape depends on the problems only, not on the runs)."""
    from ..problems import family_from_description  # torch only where panels are computed

    data = inputs.data
    arrays, attrs = read_h5(data, "data")
    problem = attrs.get("problem", {})
    if problem.get("family") != FAMILY:
        raise ArtifactError(f"{data} is not a data artifact of the {FAMILY} family")
    family = family_from_description(problem)
    own = float(family.params["horizon"])
    horizons = horizons_with(own, HORIZONS)
    m = min(PROBLEMS, int(arrays["x_true"].shape[0]))
    x_true = arrays["x_true"][:m]
    gamma = arrays["gamma"][:m] if "gamma" in arrays else None
    lo, hi = (float(v) for v in family.bounds[0])
    beta1 = np.linspace(lo, hi, KS_GRID_POINTS)
    counts = np.empty((len(horizons), m), dtype=np.int64)
    for k, horizon in enumerate(horizons):
        fam = family if horizon == own else with_horizon(problem, horizon)
        target = arrays["y_target"][:m] if horizon == own else None
        counts[k] = count_local_minima(landscape_along(fam, x_true, gamma, target, beta1))
    write_h5(
        out,
        {"horizons": np.asarray(horizons), "minima": counts, "beta1": beta1, "x_true": x_true},
        {
            "kind": "ks_roughness",
            "experiment": attrs["experiment"],
            "n": int(attrs["n"]),
            "seed": int(attrs["seed"]),
            "horizon": own,
            "problems": m,
            "problem": problem,
        },
    )
    log.info("local minima along beta1 (%d points), median over %d problems: %s", KS_GRID_POINTS, m,
             {t: float(np.median(c)) for t, c in zip(horizons, counts)})
    return counts


def plot(inputs: FigureInputs, pdf: str | os.PathLike, png: str | os.PathLike):
    import matplotlib.pyplot as plt

    apply_style()
    experiment = inputs.experiments[0]
    pan, attrs = read_h5(inputs.panels[experiment])
    horizons, minima = pan["horizons"], pan["minima"].astype(np.float64)
    own, m = float(attrs["horizon"]), int(attrs["problems"])
    fig, ax = plt.subplots(figsize=(SINGLE_COLUMN, 2.5), layout="constrained")
    rng = np.random.default_rng(0)  # horizontal jitter of the dots only
    for k, t in enumerate(horizons):
        jitter = t * np.exp(rng.uniform(-0.06, 0.06, minima.shape[1]))
        ax.scatter(jitter, np.maximum(minima[k], 0.8), s=7, color="0.55", lw=0, alpha=0.7, zorder=2)
    med = np.median(minima, axis=1)
    ax.fill_between(horizons, np.maximum(minima.min(axis=1), 0.8), minima.max(axis=1),
                    color="C0", alpha=0.15, lw=0, label="min–max over problems")
    ax.plot(horizons, med, color="C0", marker="o", label=f"median of {m} problems", zorder=3)
    ax.axvline(own, color="black", ls="--", lw=0.8)
    ax.annotate(f"data: $T = {own:g}$", (own, 0.98), xycoords=("data", "axes fraction"),
                xytext=(3, 0), textcoords="offset points", ha="left", va="top", fontsize=7)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xticks(horizons)
    ax.set_xticklabels([f"{t:g}" for t in horizons])
    ax.minorticks_off()
    ax.set_xlabel("horizon $T$")
    ax.set_ylabel(r"local minima along $\beta_1$")
    ax.set_title(f"{inputs.labels[experiment]}: landscape roughness ({KS_GRID_POINTS}-point grid)",
                 fontsize=8)
    from matplotlib.ticker import FormatStrFormatter

    ax.yaxis.set_major_formatter(FormatStrFormatter("%g"))
    ax.legend(loc="upper left")
    return save_figure(fig, pdf, png)


FIGURE = FigureSpec(
    name="ks_roughness",
    doc="KS appendix: number of local minima of L along beta1 against the horizon T",
    plot=plot,
    families=(FAMILY,),
    per_experiment=True,
    reads=(),
    panels=compute_roughness,
)
