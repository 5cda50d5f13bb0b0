"""Per-problem first-order baselines from x0 with a fixed budget: gradient descent and Adam.

Problems are independent: the gradient of the summed loss w.r.t. x_i is dL_i/dx_i, and both
updates are element-wise, so one batched tensor runs n separate optimisations.
"""

from __future__ import annotations

import torch

from ..spec import ParamSpec
from .base import Outcome, Solver, SolveStatus
from .driver import SolveContext  # the driver shapes every result: in each solver's code fingerprint


class _FirstOrder(Solver):
    cost = 2.0
    tuning = {"lr": [1e-3, 3e-3, 1e-2, 3e-2, 1e-1, 3e-1]}
    settings_spec = {
        "lr": ParamSpec(1e-2, float, positive=True, doc="step size"),
        "steps": ParamSpec(1000, int, positive=True, doc="iterations per problem"),
    }

    def make_optimizer(self, x: torch.Tensor, lr: float) -> torch.optim.Optimizer:
        raise NotImplementedError

    def run(self, ctx: SolveContext) -> Outcome:
        steps = self.settings.steps
        obj = ctx.objective()
        x = ctx.start().requires_grad_(True)
        opt = self.make_optimizer(x, self.settings.lr)
        ctx.expect_steps(steps)
        for k in range(steps + 1):
            opt.zero_grad(set_to_none=True)
            f = obj(x)
            ctx.record(k, f)
            if k == steps:
                break
            f.sum().backward()
            opt.step()
        return Outcome(x=x, loss=f, iterations=steps, status=SolveStatus.BUDGET)


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
