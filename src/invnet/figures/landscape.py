"""Loss landscapes along one unknown, shared by Figure 5, ``ks_roughness`` and ``fig_fluid``:
the loss with one unknown swept over a grid and the others at the truth, the count of its local
minima, and a family with another observation time T. Not a figure (no ``FIGURE``), so an edit of
one of these figures redraws only that figure."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # torch and the families load where a landscape is computed, not on import
    from ..problems import ProblemFamily

KS_GRID_POINTS = 801  # β1 grid of Figure 5 (b) and of ks_roughness (at least 801 points)
KS_HORIZONS = (5.0, 10.0, 20.0, 40.0)  # Figure 5 (b), plus the experiment's own T


def count_local_minima(loss: np.ndarray) -> np.ndarray:
    """Strict interior local minima along the last axis: L[i] < L[i-1] and L[i] < L[i+1]."""
    loss = np.asarray(loss)
    mid = loss[..., 1:-1]
    return np.sum((mid < loss[..., :-2]) & (mid < loss[..., 2:]), axis=-1)


def with_horizon(description: Mapping, horizon: float) -> ProblemFamily:
    """The data artifact's family with another observation time T (everything else equal)."""
    from ..problems import family_from_description

    return family_from_description({**description, "horizon": float(horizon)})


def horizons_with(own: float, base: Iterable[float] = KS_HORIZONS) -> list[float]:
    """``base`` plus the experiment's own horizon, sorted, without duplicates."""
    return sorted({float(t) for t in base} | {float(own)})


def landscape_along(
    family: ProblemFamily,
    x_true: np.ndarray,
    gamma: np.ndarray | None,
    y_target: np.ndarray | None,
    values: np.ndarray,
    coordinate: int = 0,
    chunk: int = 4096,
) -> np.ndarray:
    """L with unknown ``coordinate`` set to each of ``values`` and the others at ``x_true``:
    one problem (``x_true`` (d,), ``gamma`` and ``y_target`` of one problem) -> (grid,), or
    several (``x_true`` (m, d) and their ``gamma``, ``y_target``) -> (m, grid).

    The target is ``y_target`` if given, else the noise-free F(x_true); float64, no gradients,
    evaluated in batches of ``chunk`` forwards.
    """
    import torch

    single = np.ndim(x_true) == 1
    x_true = np.atleast_2d(np.asarray(x_true, dtype=np.float64))
    values = np.asarray(values, dtype=np.float64)
    m, g = x_true.shape[0], values.size

    def rows(a):
        return None if a is None else torch.as_tensor(np.asarray(a, dtype=np.float64)[None] if single else a,
                                                      dtype=torch.float64)

    gam = rows(gamma)
    xt = torch.as_tensor(x_true)
    with torch.no_grad():
        target = family.forward(xt, gam) if y_target is None else rows(y_target)
        x = xt.repeat_interleave(g, dim=0)
        x[:, coordinate] = torch.as_tensor(values).repeat(m)
        which = torch.arange(m).repeat_interleave(g)
        out = []
        for lo in range(0, m * g, chunk):
            r = which[lo:lo + chunk]
            y = family.forward(x[lo:lo + chunk], None if gam is None else gam[r])
            out.append(family.loss(y, target[r]))
    loss = torch.cat(out).reshape(m, g).numpy()
    return loss[0] if single else loss
