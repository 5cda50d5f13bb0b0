"""The network N_θ(y*, γ) shared by JPO and supervised training (docs/experiments.md §2).

Inputs are standardised with training-set statistics; outputs are mapped to parameter space by
the family's bounds (x = mid + half·z). The last layer starts at zero weight and bias = x0 in
normalised units, so at initialisation the network predicts x0 for every problem: JPO starts
exactly where the classical optimisers start.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from torch import nn

ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh, "silu": nn.SiLU, "gelu": nn.GELU, "sigmoid": nn.Sigmoid}


class ParameterNet(nn.Module):
    """MLP from flattened features to the problem's parameters, starting at x0."""

    def __init__(
        self,
        features: torch.Tensor,
        x0: np.ndarray,
        bounds: np.ndarray,
        hidden: Sequence[int],
        activation: str,
        generator: torch.Generator,
    ):
        super().__init__()
        dtype, device = features.dtype, features.device
        mean = features.mean(dim=0)
        std = features.std(dim=0) if features.shape[0] > 1 else torch.ones_like(mean)
        std = torch.where(std > 1e-12, std, torch.ones_like(std))
        self.register_buffer("in_mean", mean.detach().clone())
        self.register_buffer("in_std", std.detach().clone())
        lo = torch.as_tensor(bounds[:, 0], dtype=dtype, device=device)
        hi = torch.as_tensor(bounds[:, 1], dtype=dtype, device=device)
        self.register_buffer("out_mid", (lo + hi) / 2)
        self.register_buffer("out_half", (hi - lo) / 2)

        layers: list[nn.Module] = []
        width = features.shape[1]
        for h in hidden:
            layers += [nn.Linear(width, h, dtype=dtype, device=device), ACTIVATIONS[activation]()]
            width = h
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(width, len(x0), dtype=dtype, device=device)
        with torch.no_grad():
            for m in self.body:
                if isinstance(m, nn.Linear):
                    _init_linear(m, generator)
            self.head.weight.zero_()
            self.head.bias.copy_((torch.as_tensor(x0, dtype=dtype, device=device) - self.out_mid) / self.out_half)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        z = self.head(self.body((features - self.in_mean) / self.in_std))
        return self.out_mid + self.out_half * z


def _init_linear(layer: nn.Linear, generator: torch.Generator) -> None:
    """PyTorch's default (Kaiming-uniform) init drawn from our own generator, bias zero (PhiML)."""
    bound = 1.0 / np.sqrt(layer.in_features)
    w = torch.empty(layer.weight.shape, dtype=torch.float64).uniform_(-bound, bound, generator=generator)
    layer.weight.copy_(w.to(layer.weight.dtype))
    layer.bias.zero_()
