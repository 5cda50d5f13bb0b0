"""Which problem a figure shows as its example: the one where the primary method (JPO) improves
most on the baseline (BFGS), i.e. the largest finite L_baseline / L_primary, lowest index on
ties. Figures 3, 4, 5, ``fig_fluid`` and ``trajectories`` choose their examples this way (Figure 4
and ``trajectories`` within a pool of problems). Not a figure (no ``FIGURE``)."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ..solver_info import SolverSet


def ratio(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a / b with b floored at the smallest positive float, non-finite -> -inf (never chosen)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    with np.errstate(invalid="ignore", over="ignore"):
        r = a / np.maximum(b, np.finfo(np.float64).tiny)
    return np.where(np.isfinite(r), r, -np.inf)


def compared_pair(losses: Mapping[str, np.ndarray], solvers: SolverSet) -> tuple[str, str] | None:
    """(baseline, primary) if both are configured and have losses, else None."""
    base, primary = solvers.baseline, solvers.primary
    if base is None or primary is None or base not in losses or primary not in losses:
        return None
    return base, primary


def largest_ratio(num: np.ndarray, den: np.ndarray, pool: np.ndarray) -> int:
    """The problem of ``pool`` (indices) with the largest finite num / den, lowest index on ties."""
    return int(pool[int(np.argmax(ratio(num[pool], den[pool])))])


def select_example(
    losses: Mapping[str, np.ndarray], solvers: SolverSet, pool: np.ndarray | None = None
) -> tuple[int, str]:
    """Index of the example problem and why it was chosen: among ``pool`` (problem indices; all
    problems if None) the largest finite L_baseline / L_primary; the first of the pool if the
    baseline or the primary method has no run."""
    pair = compared_pair(losses, solvers)
    if pool is None:
        size = next(iter(losses.values())).shape[0] if losses else 1
        pool = np.arange(size)
    pool = np.asarray(pool, dtype=int)
    if pair is None:
        names = " and ".join(solvers.label(s) if s is not None else role for s, role in (
            (solvers.baseline, "baseline"), (solvers.primary, "primary method")))
        return int(pool[0]), f"first problem (no {names} runs to compare)"
    base, primary = pair
    why = f"largest finite L_{solvers.label(base)} / L_{solvers.label(primary)}"
    return largest_ratio(losses[base], losses[primary], pool), why
