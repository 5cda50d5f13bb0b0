"""A solver outside the package: per-problem gradient descent with heavy-ball momentum."""

from __future__ import annotations

import torch

from invnet.solvers import Outcome, Solver, SolveStatus
from invnet.spec import ParamSpec


class HeavyBall(Solver):
    """x <- x - lr * g + momentum * (x - x_prev), element-wise, so problems stay independent."""

    name = "heavy_ball"
    label = "Heavy ball"
    order = 25
    style = {"color": (0.55, 0.1, 0.55), "marker": "h"}
    settings_spec = {
        "lr": ParamSpec(0.01, float, positive=True, doc="step size"),
        "momentum": ParamSpec(0.9, float, minimum=0.0, maximum=0.999, doc="momentum"),
        "steps": ParamSpec(1000, int, minimum=1, doc="iterations per problem"),
    }

    def run(self, ctx):
        s, obj = self.settings, ctx.objective()
        x = ctx.start().requires_grad_(True)
        opt = torch.optim.SGD([x], lr=s.lr, momentum=s.momentum)
        for k in range(s.steps + 1):
            opt.zero_grad()
            f = obj(x)
            ctx.record(k, f)
            if k == s.steps:
                break
            f.sum().backward()
            opt.step()
        return Outcome(x=x, loss=f, iterations=s.steps, status=SolveStatus.BUDGET)
