"""Transitional adapter between the solve job (:mod:`invnet.jobs`) and the solvers: builds the
solver's context and derives each problem's comparison status."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

from .artifacts import STATUS_FAILED, STATUS_INF, STATUS_NAN, STATUS_OK
from .solvers import SolveContext, SolveResult, get_solver

log = logging.getLogger("invnet")


def problem_status(loss: np.ndarray, x: np.ndarray, solver_status: np.ndarray | None = None) -> np.ndarray:
    """Per-problem status (int64): STATUS_NAN / STATUS_INF for a non-finite loss, STATUS_FAILED
    for a finite loss with a non-finite solution or an optimiser that hit NaN (SciPy status 3),
    else STATUS_OK. Only STATUS_OK problems count as a win, loss or tie (invnet.analysis)."""
    loss = np.asarray(loss, dtype=np.float64)
    x = np.asarray(x, dtype=np.float64).reshape(loss.shape[0], -1)
    out = np.full(loss.shape, STATUS_OK, dtype=np.int64)
    bad_x = ~np.isfinite(x).all(axis=1)
    if solver_status is not None:
        bad_x |= np.asarray(solver_status).reshape(loss.shape) == 3
    out[bad_x] = STATUS_FAILED
    out[np.isinf(loss)] = STATUS_INF
    out[np.isnan(loss)] = STATUS_NAN
    return out


@dataclass
class Solved:
    """A solver's result with each problem's comparison status."""

    result: SolveResult
    problem_status: np.ndarray

    def __getattr__(self, name: str) -> Any:
        return getattr(self.result, name)


def solve_with(params: Mapping[str, Any], family, train, test, init, dtype, device) -> Solved:
    impl = get_solver(params["solver"])
    settings = dict(params["settings"])
    ctx = SolveContext(family=family, train=train, test=test, settings=settings, seed=int(params["seed"]),
                       init=init, dtype=dtype, device=device, progress=log.info)
    result = impl.solve(ctx)
    result.check(train.n, family.dim)
    return Solved(result, problem_status(result.loss, result.x, result.extras.get("status")))
