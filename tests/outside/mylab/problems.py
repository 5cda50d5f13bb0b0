"""A family outside the package: a quadratic bowl with a wiggle."""

from __future__ import annotations

import numpy as np
import torch

from invnet.problems import ProblemFamily, ProblemSet
from invnet.spec import ParamSpec


class NoisyQuadratic(ProblemFamily):
    """y(x) = (x, w·sin(k·x)): a quadratic bowl in x with a wiggle of frequency k in the loss,
    so gradient methods from x0 meet local minima; one unknown x."""

    name = "noisy_quadratic"
    label = "Noisy quadratic"
    param_names = ("x",)
    noise_free = {"noise": 0.0}
    params_spec = {
        "wiggle": ParamSpec(0.5, float, minimum=0.0, doc="amplitude w of the sine component"),
        "frequency": ParamSpec(6.0, float, positive=True, doc="frequency k of the sine component"),
        "noise": ParamSpec(0.05, float, minimum=0.0, doc="std of the Gaussian noise on y*"),
        "prior": ParamSpec([-2.0, 2.0], float, length=2, doc="uniform prior of x"),
        "x0": ParamSpec([0.0], float, length=1, doc="shared initial guess"),
        "bounds": ParamSpec([[-3.0, 3.0]], float, length=1, doc="box for L-BFGS-B and networks"),
    }

    def forward(self, x: torch.Tensor, gamma: torch.Tensor | None = None) -> torch.Tensor:
        p = self.params
        return torch.stack([x[:, 0], p["wiggle"] * torch.sin(p["frequency"] * x[:, 0])], dim=1)

    def loss(self, y: torch.Tensor, y_target: torch.Tensor) -> torch.Tensor:
        return ((y - y_target) ** 2).sum(dim=1)

    def sample(self, n: int, rng: np.random.Generator) -> ProblemSet:
        x = rng.uniform(*self.params["prior"], size=(n, 1))
        y = self.forward(torch.as_tensor(x)).numpy()
        return ProblemSet(y + self.params["noise"] * rng.standard_normal(y.shape), x)
