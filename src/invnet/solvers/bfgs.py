"""Classical per-problem quasi-Newton baselines: ``bfgs`` and ``lbfgsb`` (SciPy semantics, one
batched objective call per round; see batched_bfgs.py / batched_lbfgsb.py), and the refinements
``jpo_bfgs`` / ``supervised_bfgs`` that start BFGS from a network's solutions."""

from __future__ import annotations

import time

import numpy as np
import torch

from ..spec import ParamSpec
from .base import SolveContext, SolveResult, Solver, subsample_history


class BFGS(Solver):
    """SciPy BFGS per problem from x0 (or from ``init``), vectorised over problems."""

    name = "bfgs"
    label = "BFGS"
    order = 0
    style = {"color": (0.0, 0.0, 0.0), "marker": "o"}
    tuning = {"gtol": [1e-3, 1e-5, 1e-7]}
    settings_spec = {
        "gtol": ParamSpec(1e-5, float, positive=True, doc="SciPy gtol (inf-norm of the gradient)"),
        "maxiter": ParamSpec(1000, int, positive=True, doc="SciPy maxiter"),
        "history_points": ParamSpec(200, int, positive=True, doc="max loss-history entries"),
    }

    def run(self, ctx: SolveContext, fun_and_grad, x0: torch.Tensor, callback):
        from .batched_bfgs import bfgs_batched

        s = ctx.settings
        return bfgs_batched(fun_and_grad, x0, gtol=s["gtol"], maxiter=s["maxiter"], callback=callback)

    def solve(self, ctx: SolveContext) -> SolveResult:
        obj = ctx.objective()
        means: list[float] = []  # mean loss after each batched round; round 0 is the start
        last = [time.perf_counter()]

        def callback(k: int, fun: torch.Tensor) -> None:
            means.append(float(fun.mean()))
            if time.perf_counter() - last[0] > 10:
                last[0] = time.perf_counter()
                ctx.progress(f"{self.name}: round {k}, mean loss {means[-1]:.4e}")

        res = self.run(ctx, obj.value_and_grad, ctx.start(), callback)
        keep = subsample_history(len(means) - 1, ctx.settings["history_points"])
        return SolveResult(
            x=res.x.cpu().numpy().copy(),
            loss=res.fun.cpu().numpy().copy(),
            iterations=res.nit.cpu().numpy().astype(np.int64),
            evaluations=obj.evaluations.cpu().numpy().copy(),
            loss_history=np.asarray(means)[keep],
            history_step=keep.astype(np.int64),
            extras={"status": res.status.cpu().numpy().astype(np.int64)},
            info={"settings": ctx.settings, "batched_rounds": int(res.rounds)},
        )


class LBFGSB(BFGS):
    """SciPy L-BFGS-B per problem inside the family's bounds, batched through greenlets."""

    name = "lbfgsb"
    label = "L-BFGS-B"
    order = 10
    style = {"color": ("colorblind", 7), "marker": "v", "linestyle": (0, (4, 1.5))}
    settings_spec = {
        "gtol": ParamSpec(1e-5, float, positive=True, doc="SciPy gtol (projected gradient)"),
        "ftol": ParamSpec(2.220446049250313e-09, float, positive=True, doc="SciPy ftol"),
        "maxiter": ParamSpec(1000, int, positive=True, doc="SciPy maxiter"),
        "maxcor": ParamSpec(10, int, positive=True, doc="L-BFGS memory"),
        "history_points": ParamSpec(200, int, positive=True, doc="max loss-history entries"),
    }

    def run(self, ctx: SolveContext, fun_and_grad, x0: torch.Tensor, callback):
        from .batched_lbfgsb import lbfgsb_batched

        s = ctx.settings
        x0 = torch.minimum(torch.maximum(x0, _col(ctx, 0)), _col(ctx, 1))
        return lbfgsb_batched(
            fun_and_grad, x0, ctx.family.bounds, maxiter=s["maxiter"], maxcor=s["maxcor"],
            ftol=s["ftol"], gtol=s["gtol"], callback=callback,
        )


def _col(ctx: SolveContext, j: int) -> torch.Tensor:
    return torch.as_tensor(ctx.family.bounds[:, j], dtype=ctx.dtype, device=ctx.device)


class JPOBFGS(BFGS):
    """BFGS refinement started from the JPO solutions (docs/experiments.md §2, ``jpo_bfgs``)."""

    name = "jpo_bfgs"
    label = "JPO + BFGS"
    order = 50
    style = {"color": ("colorblind", 9), "marker": "d", "linestyle": (0, (4, 1.5))}
    needs = "jpo"


class SupervisedBFGS(BFGS):
    """BFGS refinement started from the supervised network's solutions."""

    name = "supervised_bfgs"
    label = "Supervised + BFGS"
    order = 70
    style = {"color": ("colorblind", 5), "marker": ">", "linestyle": (0, (4, 1.5))}
    needs = "supervised"
