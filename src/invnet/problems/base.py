"""The problem interface: a family samples problem sets and evaluates a batched, differentiable
forward process and per-problem loss. Every experiment (wave packet, billiards, KS, fluid) is one
subclass of :class:`ProblemFamily` registered in :mod:`invnet.problems`."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import torch

from ..errors import ConfigError


@dataclass
class ProblemSet:
    """n inverse problems: targets y*, identifiers γ (or None) and the ground truth x that made y*."""

    y_target: np.ndarray  # (n, *y_shape)
    x_true: np.ndarray  # (n, dim)
    gamma: np.ndarray | None = None  # (n, *gamma_shape) or None

    @property
    def n(self) -> int:
        return int(self.x_true.shape[0])

    def arrays(self, prefix: str = "") -> dict[str, np.ndarray]:
        out = {f"{prefix}y_target": self.y_target, f"{prefix}x_true": self.x_true}
        if self.gamma is not None:
            out[f"{prefix}gamma"] = self.gamma
        return out


@dataclass
class ParamSpec:
    """Type and range of one physical parameter of a family, for config validation."""

    default: Any
    kind: type | tuple[type, ...] = float
    length: int | None = None  # for list-valued parameters; -1 = any non-empty length
    positive: bool = False
    doc: str = ""
    choices: tuple[Any, ...] | None = None  # allowed values, if a closed set


class ProblemFamily(ABC):
    """A family of inverse problems x -> F(x | γ) ≈ y*, batched over problems.

    Subclasses declare ``name``, ``param_names`` and ``params_spec`` (physical constants with
    defaults) and implement :meth:`sample`, :meth:`forward` and :meth:`loss`.
    """

    name: ClassVar[str]
    param_names: ClassVar[tuple[str, ...]]
    params_spec: ClassVar[dict[str, ParamSpec]]

    def __init__(self, **params: Any):
        unknown = sorted(set(params) - set(self.params_spec))
        if unknown:
            raise ConfigError(
                f"experiments.{self.name}.problem.{unknown[0]}",
                f"unknown parameter; allowed: {', '.join(sorted(self.params_spec))}",
            )
        self.params: dict[str, Any] = {}
        for key, spec in self.params_spec.items():
            value = params.get(key, spec.default)
            self.params[key] = _check_param(self.name, key, value, spec)
        self.validate()

    # --- to implement -------------------------------------------------------------------------
    def validate(self) -> None:
        """Cross-parameter checks; raise ConfigError naming the key."""

    @abstractmethod
    def sample(self, n: int, rng: np.random.Generator) -> ProblemSet:
        """Draw n problems (ground truth, identifiers, noisy targets) from ``rng``."""

    @abstractmethod
    def forward(self, x: torch.Tensor, gamma: torch.Tensor | None) -> torch.Tensor:
        """Batched forward process F(x | γ): x (m, dim) -> outputs (m, *y_shape)."""

    @abstractmethod
    def loss(self, y: torch.Tensor, y_target: torch.Tensor) -> torch.Tensor:
        """Per-problem loss L(F(x), y*): (m, *y_shape) x2 -> (m,)."""

    # --- shared behaviour ---------------------------------------------------------------------
    @property
    def dim(self) -> int:
        return len(self.param_names)

    @property
    def x0(self) -> np.ndarray:
        """The shared initial guess of all classical optimisers (and of JPO at initialisation)."""
        return np.asarray(self.params["x0"], dtype=np.float64)

    @property
    def bounds(self) -> np.ndarray:
        """(dim, 2) box of plausible parameters: used by L-BFGS-B and to normalise networks."""
        return np.asarray(self.params["bounds"], dtype=np.float64)

    def features(self, y_target: torch.Tensor, gamma: torch.Tensor | None) -> torch.Tensor:
        """Network input for each problem, flattened: y* and, where present, γ."""
        parts = [y_target.reshape(y_target.shape[0], -1)]
        if gamma is not None:
            parts.append(gamma.reshape(gamma.shape[0], -1))
        return torch.cat(parts, dim=1)

    def describe(self) -> dict[str, Any]:
        """Every physical parameter, JSON-serialisable (stored in the data artifact)."""
        return {"family": self.name, "param_names": list(self.param_names), **_jsonable(self.params)}


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    return obj


def _check_param(family: str, key: str, value: Any, spec: ParamSpec) -> Any:
    where = f"experiments.{family}.problem.{key}"
    kinds = spec.kind if isinstance(spec.kind, tuple) else (spec.kind,)
    numeric = float in kinds or int in kinds

    def check_scalar(v: Any, label: str) -> Any:
        if isinstance(v, bool) or not isinstance(v, (int, float) if numeric else kinds):
            names = "/".join(k.__name__ for k in kinds)
            raise ConfigError(label, f"expected {names}, got {type(v).__name__} {v!r}")
        if numeric and not np.isfinite(v):
            raise ConfigError(label, f"must be finite, got {v!r}")
        if spec.positive and v <= 0:
            raise ConfigError(label, f"must be > 0, got {v!r}")
        if spec.choices is not None and v not in spec.choices:
            raise ConfigError(label, f"got {v!r}; allowed: {', '.join(map(str, spec.choices))}")
        return int(v) if kinds == (int,) else (float(v) if numeric else v)

    if spec.length is None:
        return check_scalar(value, where)
    if not isinstance(value, (list, tuple)):
        raise ConfigError(where, f"expected a list of length {spec.length}, got {value!r}")
    if spec.length >= 0 and len(value) != spec.length:
        raise ConfigError(where, f"expected a list of length {spec.length}, got {len(value)}")
    if not value:
        raise ConfigError(where, "expected a non-empty list")
    out = []
    for i, v in enumerate(value):
        if isinstance(v, (list, tuple)):
            out.append([check_scalar(w, f"{where}[{i}]") for w in v])
        else:
            out.append(check_scalar(v, f"{where}[{i}]"))
    return out


@dataclass
class Objective:
    """Per-problem losses of one problem set: ``objective(x, idx)`` -> (m,) for problems idx.

    Counts forward evaluations per problem so solvers can report their cost.
    """

    family: ProblemFamily
    y_target: torch.Tensor
    gamma: torch.Tensor | None = None
    evaluations: torch.Tensor = field(init=False)

    def __post_init__(self) -> None:
        self.evaluations = torch.zeros(self.n, dtype=torch.int64)

    @classmethod
    def from_set(cls, family: ProblemFamily, pset: ProblemSet, dtype=torch.float64) -> Objective:
        gamma = None if pset.gamma is None else torch.as_tensor(pset.gamma, dtype=dtype)
        return cls(family, torch.as_tensor(pset.y_target, dtype=dtype), gamma)

    @property
    def n(self) -> int:
        return int(self.y_target.shape[0])

    @property
    def dtype(self) -> torch.dtype:
        return self.y_target.dtype

    def __call__(self, x: torch.Tensor, idx: torch.Tensor | None = None) -> torch.Tensor:
        if idx is None:
            y_t, gam = self.y_target, self.gamma
            self.evaluations += 1
        else:
            y_t = self.y_target[idx]
            gam = None if self.gamma is None else self.gamma[idx]
            self.evaluations.index_add_(0, idx, torch.ones_like(idx))
        return self.family.loss(self.family.forward(x, gam), y_t)

    def value_and_grad(
        self, x: torch.Tensor, idx: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Losses (m,) and gradients (m, dim) w.r.t. each problem's own x, detached."""
        with torch.enable_grad():
            xr = x.detach().clone().requires_grad_(True)
            f = self(xr, idx)
            (g,) = torch.autograd.grad(f.sum(), xr)
        return f.detach(), g.detach()
