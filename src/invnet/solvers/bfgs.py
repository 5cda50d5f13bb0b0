"""Classical per-problem quasi-Newton baselines: ``bfgs`` (the baseline every method is compared
with) and ``lbfgsb`` (SciPy semantics, one batched objective call per round; see batched_bfgs.py
/ batched_lbfgsb.py). The refinements ``jpo_bfgs`` / ``supervised_bfgs`` are compositions of
BFGS (:mod:`invnet.solvers.refinements`).

SciPy's status codes are decoded here and only here: the raw code is kept as the run dataset
``status``; the typed :class:`SolveStatus` is BFGS 0 converged, 1 budget (maxiter),
2 stalled (precision loss / line-search failure), 3 failed (NaN); L-BFGS-B 0 converged,
1 budget (maxiter / maxfun), 2 stalled (abnormal termination).
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import torch

from ..spec import ParamSpec
from .base import Outcome, Solver, SolveStatus
from .driver import SolveContext  # the driver shapes every result: in each solver's code fingerprint

BFGS_STATUS = {0: SolveStatus.CONVERGED, 1: SolveStatus.BUDGET, 2: SolveStatus.STALLED, 3: SolveStatus.FAILED}
LBFGSB_STATUS = {0: SolveStatus.CONVERGED, 1: SolveStatus.BUDGET, 2: SolveStatus.STALLED}


def decode_status(raw: np.ndarray, codes: dict[int, SolveStatus]) -> np.ndarray:
    """Typed statuses (int64) of SciPy's codes ``raw``; a code not in ``codes`` is FAILED."""
    raw = np.asarray(raw, dtype=np.int64)
    out = np.full(raw.shape, int(SolveStatus.FAILED), dtype=np.int64)
    for code, status in codes.items():
        out[raw == code] = int(status)
    return out


class _QuasiNewton(Solver):
    """A batched SciPy optimiser: one objective call per round, SciPy's result fields."""

    status_codes: ClassVar[dict[int, SolveStatus]] = BFGS_STATUS

    def minimise(self, ctx: SolveContext, fun_and_grad, x0: torch.Tensor):
        raise NotImplementedError

    def run(self, ctx: SolveContext) -> Outcome:
        obj = ctx.objective()
        res = self.minimise(ctx, obj.value_and_grad, ctx.start())
        raw = res.status.cpu().numpy().astype(np.int64)
        return Outcome(
            x=res.x,
            loss=res.fun,
            iterations=res.nit.cpu().numpy().astype(np.int64),
            status=decode_status(raw, self.status_codes),
            extras={"status": raw},
            info={"batched_rounds": int(res.rounds)},
        )


class BFGS(_QuasiNewton):
    """SciPy BFGS per problem from x0 (or from ``init``), vectorised over problems."""

    name = "bfgs"
    label = "BFGS"
    order = 0
    style = {"color": (0.0, 0.0, 0.0), "marker": "o"}
    baseline = True
    tuning = {"gtol": [1e-3, 1e-5, 1e-7]}
    settings_spec = {
        "gtol": ParamSpec(1e-5, float, positive=True, doc="SciPy gtol (inf-norm of the gradient)"),
        "maxiter": ParamSpec(1000, int, positive=True, doc="SciPy maxiter"),
    }

    def minimise(self, ctx: SolveContext, fun_and_grad, x0: torch.Tensor):
        from .batched_bfgs import bfgs_batched

        s = self.settings
        return bfgs_batched(fun_and_grad, x0, gtol=s.gtol, maxiter=s.maxiter, callback=ctx.record)


class LBFGSB(_QuasiNewton):
    """SciPy L-BFGS-B per problem inside the family's bounds, batched through greenlets."""

    name = "lbfgsb"
    label = "L-BFGS-B"
    order = 10
    style = {"color": ("colorblind", 7), "marker": "v", "linestyle": (0, (4, 1.5))}
    tuning = {"gtol": [1e-3, 1e-5, 1e-7]}
    status_codes = LBFGSB_STATUS
    settings_spec = {
        "gtol": ParamSpec(1e-5, float, positive=True, doc="SciPy gtol (projected gradient)"),
        "ftol": ParamSpec(2.220446049250313e-09, float, positive=True, doc="SciPy ftol"),
        "maxiter": ParamSpec(1000, int, positive=True, doc="SciPy maxiter"),
        "maxcor": ParamSpec(10, int, positive=True, doc="L-BFGS memory"),
    }

    def minimise(self, ctx: SolveContext, fun_and_grad, x0: torch.Tensor):
        from .batched_lbfgsb import lbfgsb_batched

        s = self.settings
        lo, hi = (torch.as_tensor(ctx.family.bounds[:, j], dtype=ctx.dtype, device=ctx.device) for j in (0, 1))
        x0 = torch.minimum(torch.maximum(x0, lo), hi)
        return lbfgsb_batched(
            fun_and_grad, x0, ctx.family.bounds, maxiter=s.maxiter, maxcor=s.maxcor,
            ftol=s.ftol, gtol=s.gtol, callback=ctx.record,
        )
