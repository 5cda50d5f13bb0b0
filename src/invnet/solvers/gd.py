"""Per-problem first-order baselines from x0 with a fixed budget: gradient descent and Adam.

Problems are independent: the gradient of the summed loss w.r.t. x_i is dL_i/dx_i, and both
updates are element-wise, so one batched tensor runs n separate optimisations.
"""

from __future__ import annotations

import time

import numpy as np
import torch

from ..spec import ParamSpec
from .base import SolveContext, SolveResult, Solver, subsample_history


class _FirstOrder(Solver):
    cost = 2.0
    tuning = {"lr": [1e-3, 3e-3, 1e-2, 3e-2, 1e-1, 3e-1]}
    settings_spec = {
        "lr": ParamSpec(1e-2, float, positive=True, doc="step size"),
        "steps": ParamSpec(1000, int, positive=True, doc="iterations per problem"),
        "history_points": ParamSpec(200, int, positive=True, doc="max loss-history entries"),
    }

    def make_optimizer(self, x: torch.Tensor, lr: float) -> torch.optim.Optimizer:
        raise NotImplementedError

    def solve(self, ctx: SolveContext) -> SolveResult:
        s = ctx.settings
        obj = ctx.objective()
        x = ctx.start().requires_grad_(True)
        opt = self.make_optimizer(x, s["lr"])
        record = set(subsample_history(s["steps"], s["history_points"]).tolist())
        hist, hist_step = [], []
        t_start = time.perf_counter()
        last_report = t_start
        for k in range(s["steps"] + 1):
            opt.zero_grad(set_to_none=True)
            f = obj(x)
            if k in record:
                hist.append(float(f.detach().mean()))
                hist_step.append(k)
            if k == s["steps"]:
                break
            f.sum().backward()
            opt.step()
            if time.perf_counter() - last_report > 10:
                last_report = time.perf_counter()
                ctx.progress(f"{self.name}: step {k}/{s['steps']} mean loss {float(f.detach().mean()):.4e}")
        final = f.detach()
        n = obj.n
        return SolveResult(
            x=x.detach().cpu().numpy().copy(),
            loss=final.cpu().numpy().copy(),
            iterations=np.full(n, s["steps"], dtype=np.int64),
            evaluations=obj.evaluations.cpu().numpy().copy(),
            loss_history=np.asarray(hist),
            history_step=np.asarray(hist_step, dtype=np.int64),
            info={"settings": s},
        )


class GradientDescent(_FirstOrder):
    """x_i <- x_i - lr * dL_i/dx_i for a fixed number of steps."""

    name = "gd"
    label = "GD"
    order = 20
    style = {"color": ("colorblind", 1), "marker": "s"}

    def make_optimizer(self, x: torch.Tensor, lr: float) -> torch.optim.Optimizer:
        return torch.optim.SGD([x], lr=lr)


class Adam(_FirstOrder):
    """Per-problem Adam (element-wise moments, so problems stay independent)."""

    name = "adam"
    label = "Adam"
    order = 30
    style = {"color": ("colorblind", 4), "marker": "P"}

    def make_optimizer(self, x: torch.Tensor, lr: float) -> torch.optim.Optimizer:
        return torch.optim.Adam([x], lr=lr, eps=1e-7)
