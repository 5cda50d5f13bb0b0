"""Wave-packet localisation (docs/experiments.md §4.1): find (t0, A) of a noisy Gaussian-windowed sine.

The loss in t0 has local minima one carrier period apart and is flat where model and data
packets do not overlap, so BFGS from x0 only solves problems whose t0 lies near x0.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from ..errors import ConfigError
from .base import ParamSpec, ProblemFamily, ProblemSet


class WavePacket(ProblemFamily):
    """u(t; t0, A) = A exp(-(t - t0)^2 / (2 sigma^2)) sin(2 pi f (t - t0)) on t in [0, 1]."""

    name = "wavepacket"
    label = "Wave packet"
    noise_free = {"noise": 0.0}
    identifiers = False  # no γ: every problem is (t0, A) and its waveform
    param_names = ("t0", "A")
    params_spec = {
        "n_samples": ParamSpec(256, int, minimum=2, doc="samples of t on [0, 1]"),
        "sigma": ParamSpec(0.1, float, positive=True, doc="envelope width"),
        "frequency": ParamSpec(10.0, float, positive=True, doc="carrier frequency f"),
        "noise": ParamSpec(0.1, float, minimum=0.0, doc="std of the additive Gaussian noise on y*"),
        "t0_range": ParamSpec([0.15, 0.85], float, length=2, doc="prior of t0 (uniform)"),
        "amplitude_range": ParamSpec([0.5, 1.5], float, length=2, doc="prior of A (uniform)"),
        "x0": ParamSpec([0.5, 1.0], float, length=2, doc="shared initial guess (t0, A)"),
        "bounds": ParamSpec(
            [[0.0, 1.0], [0.0, 2.0]], float, length=2, doc="box for L-BFGS-B and network scaling"
        ),
    }

    def validate(self) -> None:
        p = self.params
        for key in ("t0_range", "amplitude_range"):
            lo, hi = p[key]
            if not lo < hi:
                raise ConfigError(f"{self.where}.{key}", f"need low < high, got {p[key]}")
        lo, hi = p["t0_range"]
        if lo < 0.0 or hi > 1.0:  # a packet centred outside the sampled window is not observed
            raise ConfigError(f"{self.where}.t0_range", f"must lie inside the data window [0, 1] of t, got {p['t0_range']}")
        for i, (lo, hi) in enumerate(p["bounds"]):
            if not (isinstance(lo, float) and lo < hi):
                raise ConfigError(
                    f"{self.where}.bounds[{i}]", f"need [low, high], got {[lo, hi]}"
                )
        self._t = torch.linspace(0.0, 1.0, p["n_samples"], dtype=torch.float64)

    def prior_ranges(self) -> list[tuple[str, int, tuple[float, float]]]:
        return [("t0_range", 0, tuple(self.params["t0_range"])), ("amplitude_range", 1, tuple(self.params["amplitude_range"]))]

    def t(self, dtype: torch.dtype = torch.float64, device: torch.device | str = "cpu") -> torch.Tensor:
        """The sample times, computed once in float64 and cast (identical values on every device)."""
        return self._t.to(device=device, dtype=dtype)

    def waveform(self, t0: torch.Tensor, amp: torch.Tensor) -> torch.Tensor:
        """u(t) for each (t0, A): (m,), (m,) -> (m, n_samples)."""
        t = self.t(t0.dtype, t0.device)
        dt = t[None, :] - t0[:, None]
        sigma, f = self.params["sigma"], self.params["frequency"]
        return amp[:, None] * torch.exp(-(dt**2) / (2 * sigma**2)) * torch.sin(2 * math.pi * f * dt)

    def forward(self, x: torch.Tensor, gamma: torch.Tensor | None = None) -> torch.Tensor:
        return self.waveform(x[:, 0], x[:, 1])

    def loss(self, y: torch.Tensor, y_target: torch.Tensor) -> torch.Tensor:
        return ((y - y_target) ** 2).mean(dim=-1)

    def sample_prior(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """(t0, A) uniform in ``t0_range`` x ``amplitude_range`` (the prior the targets come from)."""
        p = self.params
        return np.stack([rng.uniform(*p["t0_range"], size=n), rng.uniform(*p["amplitude_range"], size=n)], axis=1)

    def sample(self, n: int, rng: np.random.Generator) -> ProblemSet:
        p = self.params
        x_true = self.sample_prior(n, rng)
        clean = self.forward(torch.as_tensor(x_true, dtype=torch.float64)).numpy()
        y = clean + p["noise"] * rng.standard_normal(clean.shape)
        return ProblemSet(y_target=y, x_true=x_true, gamma=None)

    def data_view(self, x: np.ndarray, gamma: np.ndarray | None, y_target: np.ndarray) -> dict:
        """The waveforms u(t; x) of the solutions x (m, 2) against t, over the noisy y*."""
        with torch.no_grad():
            y = self.forward(torch.as_tensor(x, dtype=torch.float64)).numpy()
        return {"kind": "curves", "outputs": y, "target": y_target, "axis": self.t().numpy(),
                "xlabel": "$t$", "ylabel": "$u(t)$"}
