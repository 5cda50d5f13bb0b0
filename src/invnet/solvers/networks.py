"""The network N_θ(y*, γ) shared by JPO and supervised training (docs/experiments.md §2).

Inputs are standardised with training-set statistics; outputs are mapped to parameter space by
the family's bounds (x = mid + half·z). The last layer starts at zero weight and bias = x0 in
normalised units, so at initialisation the network predicts x0 for every problem: JPO starts
exactly where the classical optimisers start.

Two architectures, chosen per experiment (``network`` in the jpo/supervised settings):
``mlp`` (the default: flattened features) and ``cnn`` for families whose inputs are images
(:meth:`ProblemFamily.image_shape`): stride-2 3×3 convolutions with circular padding, then the
same dense layers and head as the MLP.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Sequence

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


def _init_linear(layer: nn.Linear | nn.Conv2d, generator: torch.Generator) -> None:
    """PyTorch's default (Kaiming-uniform) init drawn from our own generator, bias zero (PhiML)."""
    bound = 1.0 / np.sqrt(layer.weight[0].numel())  # fan-in: in_features, or in_channels·k·k
    w = torch.empty(layer.weight.shape, dtype=torch.float64).uniform_(-bound, bound, generator=generator)
    layer.weight.copy_(w.to(layer.weight.dtype))
    layer.bias.zero_()


class ConvParameterNet(nn.Module):
    """CNN from image features (flattened (C, H, W), per problem) to the parameters, starting at x0.

    Each input channel is standardised with its training-set mean and std (over problems and
    pixels); then one stride-2 3×3 convolution (circular padding: the inputs are periodic fields)
    per entry of ``channels``, each followed by the activation; the result is flattened into the
    dense layers ``hidden`` and the head. Initialisation as in :class:`ParameterNet`.
    """

    def __init__(
        self,
        features: torch.Tensor,
        image_shape: Sequence[int],
        x0: np.ndarray,
        bounds: np.ndarray,
        channels: Sequence[int],
        hidden: Sequence[int],
        activation: str,
        generator: torch.Generator,
    ):
        super().__init__()
        dtype, device = features.dtype, features.device
        self.image_shape = tuple(int(v) for v in image_shape)
        c_in, height, width = self.image_shape
        img = features.reshape(features.shape[0], c_in, height * width)
        mean = img.mean(dim=(0, 2))
        std = img.std(dim=(0, 2)) if img[:, 0].numel() > 1 else torch.ones_like(mean)
        std = torch.where(std > 1e-12, std, torch.ones_like(std))
        self.register_buffer("in_mean", mean.detach().clone().reshape(1, c_in, 1, 1))
        self.register_buffer("in_std", std.detach().clone().reshape(1, c_in, 1, 1))
        lo = torch.as_tensor(bounds[:, 0], dtype=dtype, device=device)
        hi = torch.as_tensor(bounds[:, 1], dtype=dtype, device=device)
        self.register_buffer("out_mid", (lo + hi) / 2)
        self.register_buffer("out_half", (hi - lo) / 2)

        convs: list[nn.Module] = []
        c = c_in
        for out in channels:
            convs += [
                nn.Conv2d(c, out, 3, stride=2, padding=1, padding_mode="circular", dtype=dtype, device=device),
                ACTIVATIONS[activation](),
            ]
            c = out
            height, width = (height + 1) // 2, (width + 1) // 2
        self.convs = nn.Sequential(*convs)
        layers: list[nn.Module] = []
        size = c * height * width
        for h in hidden:
            layers += [nn.Linear(size, h, dtype=dtype, device=device), ACTIVATIONS[activation]()]
            size = h
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(size, len(x0), dtype=dtype, device=device)
        with torch.no_grad():
            for m in [*self.convs, *self.body]:
                if isinstance(m, (nn.Linear, nn.Conv2d)):
                    _init_linear(m, generator)
            self.head.weight.zero_()
            self.head.bias.copy_((torch.as_tensor(x0, dtype=dtype, device=device) - self.out_mid) / self.out_half)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        img = features.reshape(features.shape[0], *self.image_shape)
        h = self.convs((img - self.in_mean) / self.in_std)
        z = self.head(self.body(h.flatten(1)))
        return self.out_mid + self.out_half * z


def build_network(
    features: torch.Tensor, family: Any, settings: Any, generator: torch.Generator
) -> nn.Module:
    """The network a jpo/supervised run's settings ask for (``network``: mlp or cnn); ``settings``
    is the typed settings object or a mapping with the same keys."""
    get = settings.get if isinstance(settings, Mapping) else lambda key, default=None: getattr(settings, key, default)
    if get("network", "mlp") == "cnn":
        shape = family.image_shape()
        if shape is None:
            raise ValueError(f"family '{family.name}' has no image inputs for network: cnn")
        return ConvParameterNet(
            features, shape, family.x0, family.bounds, get("channels"), get("hidden"), get("activation"), generator,
        )
    return ParameterNet(features, family.x0, family.bounds, get("hidden"), get("activation"), generator)
