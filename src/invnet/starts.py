"""Choosing among the starts of a multi-start run, in NumPy only: the solver (invnet.solvers.compose)
picks each problem's best start with it, and the aggregate (invnet.analysis) re-reads a recorded
run's first k starts for the compute-matched baselines without importing torch or the solvers."""

from __future__ import annotations

import numpy as np


def first_argmin(values: np.ndarray) -> np.ndarray:
    """Per column, the first row with the smallest value; NaN only where every row is NaN."""
    filled = np.where(np.isnan(values), np.inf, values)
    return np.argmin(filled, axis=0)


def best_of_first(start_loss: np.ndarray, start_evaluations: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Best loss and evaluations spent per problem by a k-start run: the first k starts of a
    recorded multi-start run (``start_loss``, ``start_evaluations``: (n, K))."""
    loss = start_loss[:, :k]
    best = np.take_along_axis(loss, first_argmin(loss.T)[:, None], axis=1)[:, 0]
    return best, start_evaluations[:, :k].sum(axis=1)
