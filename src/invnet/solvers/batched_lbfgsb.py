"""SciPy's L-BFGS-B for many independent problems, their evaluations batched through greenlets.

Every problem runs its own ``scipy.optimize.minimize(method="L-BFGS-B", jac=True, bounds=...)``
inside a ``greenlet``; its objective hands x to the parent greenlet and waits. The parent collects
the pending points of all problems, evaluates them in ONE call of the batched objective, and
resumes each optimiser with its value and gradient (the pattern of Optuna's
``_gp/batched_lbfgsb.py``). The iterates are SciPy's by construction; only the evaluations are
shared. A *round* is one such batched call: every unfinished problem advances to its next
evaluation request.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from greenlet import greenlet

from .batched_bfgs import BatchedResult, FunAndGrad, RoundCallback


def lbfgsb_batched(
    fun_and_grad: FunAndGrad,
    x0: torch.Tensor,
    bounds: np.ndarray,
    *,
    maxiter: int = 15000,
    maxcor: int = 10,
    ftol: float = 2.220446049250313e-09,
    gtol: float = 1e-5,
    maxls: int = 20,
    callback: RoundCallback | None = None,
) -> BatchedResult:
    """SciPy L-BFGS-B (``jac=True``) for each row of ``x0`` (n, d) within ``bounds`` (d, 2).

    ``fun_and_grad(x (m, d), idx (m,))`` returns losses (m,) and gradients (m, d) of problems
    ``idx``. After round k = 0, 1, ... ``callback(k, f)`` gets every problem's loss at its current
    iterate (k = 0: at x0, evaluated for all problems in the first round; x0 until a problem's
    first iteration ends; finished problems keep their final value).
    Result fields as SciPy's, on x0's device; ``status`` 0 converged, 1 maxiter/maxfun, 2 abnormal.
    """
    import scipy.optimize  # here, not at the top: it costs the jobs of every other solver 0.4 s of CPU

    device = x0.device
    x0_np = x0.detach().to("cpu", torch.float64).numpy()
    n = x0_np.shape[0]
    box = [(float(lo), float(hi)) for lo, hi in np.asarray(bounds, dtype=np.float64)]
    options = {"maxiter": maxiter, "maxcor": maxcor, "ftol": ftol, "gtol": gtol, "maxls": maxls}
    current = np.full(n, np.nan)  # loss at each problem's current iterate, for the callback
    evaluated = np.zeros(n, dtype=bool)
    results: list[Any] = [None] * n

    def solve(i: int) -> scipy.optimize.OptimizeResult:
        def fun(x: np.ndarray) -> tuple[float, np.ndarray]:
            return greenlet.getcurrent().parent.switch(np.array(x, dtype=np.float64))

        def record(intermediate_result: scipy.optimize.OptimizeResult) -> None:
            current[i] = float(intermediate_result.fun)

        return scipy.optimize.minimize(
            fun, x0_np[i], jac=True, method="L-BFGS-B", bounds=box, options=options, callback=record
        )

    workers = [greenlet(solve) for _ in range(n)]
    pending: dict[int, np.ndarray] = {}

    def resume(i: int, message: Any) -> None:
        """Run problem i until it asks for an evaluation (queued) or returns its result."""
        out = workers[i].switch(message)
        if isinstance(out, np.ndarray):
            pending[i] = out
        else:
            results[i] = out
            current[i] = float(out.fun)

    for i in range(n):
        resume(i, i)
    rounds = 0
    while pending:
        idx = sorted(pending)
        xs = torch.as_tensor(np.stack([pending[i] for i in idx]), device=device)
        f, g = fun_and_grad(xs, torch.as_tensor(idx, device=device))
        rounds += 1
        f_np = f.detach().to("cpu", torch.float64).numpy().reshape(-1)
        g_np = g.detach().to("cpu", torch.float64).numpy().reshape(len(idx), -1)
        pending.clear()
        for j, i in enumerate(idx):
            if not evaluated[i]:
                current[i], evaluated[i] = f_np[j], True
            resume(i, (float(f_np[j]), g_np[j].copy()))
        if callback is not None:
            callback(rounds - 1, torch.as_tensor(current.copy(), device=device))

    def stacked(key: str, dtype: torch.dtype) -> torch.Tensor:
        return torch.as_tensor(np.array([np.asarray(r[key]) for r in results]), dtype=dtype, device=device)

    return BatchedResult(
        x=stacked("x", torch.float64),
        fun=stacked("fun", torch.float64),
        jac=stacked("jac", torch.float64),
        nit=stacked("nit", torch.int64),
        nfev=stacked("nfev", torch.int64),
        status=stacked("status", torch.int64),
        rounds=rounds,
    )
