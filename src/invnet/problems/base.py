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
from ..spec import ParamSpec, resolve


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


class ProblemFamily(ABC):
    """A family of inverse problems x -> F(x | γ) ≈ y*, batched over problems.

    Subclasses declare ``name``, ``param_names`` and ``params_spec`` (physical constants with
    defaults; ``x0`` and ``bounds`` among them) and implement :meth:`sample`, :meth:`forward` and
    :meth:`loss`. A module under ``invnet.problems`` defining a subclass is registered by itself;
    a family elsewhere is named in config by import path (``package.module:Class``).

    Device and precision: :meth:`forward` and :meth:`loss` must create every tensor on
    ``x.device`` with ``x.dtype``, so the same family runs on CPU and GPU, in float32 and float64.
    """

    name: ClassVar[str]
    label: ClassVar[str] = ""  # human-readable name for tables and figures; defaults to name
    param_names: ClassVar[tuple[str, ...]]
    params_spec: ClassVar[dict[str, ParamSpec]]
    # Parameter overrides that make targets noise-free, so the loss is exactly 0 at the ground
    # truth (checked by the contract tests); None if the family has no such setting.
    noise_free: ClassVar[dict[str, Any] | None] = None
    # Parameter overrides that make the contract tests fast (e.g. a coarse grid).
    test_params: ClassVar[dict[str, Any]] = {}
    # Relative cost of one forward evaluation, to size cluster runtimes (wave packet = 1).
    cost: ClassVar[float] = 1.0
    # Whether problems may carry identifiers γ. False promises that :meth:`sample` gives none
    # (``gamma`` None, checked by the contract tests): work that depends on the problem set only
    # through its γ is then the same at every n (``Solver.shares_across_n``). True (the default)
    # promises nothing.
    identifiers: ClassVar[bool] = True

    def __init__(self, **params: Any):
        self.params: dict[str, Any] = resolve(self.params_spec, params, self.where)
        self.validate()
        self.check_box()

    @property
    def where(self) -> str:
        """Config key path of this family's parameters, for error messages."""
        return f"experiments.{self.name}.problem"

    # --- to implement -------------------------------------------------------------------------
    def validate(self) -> None:
        """The family's own cross-parameter checks (ranges, windows, grids); raise ConfigError
        naming the key. Run before :meth:`check_box`, the checks every family gets."""

    def prior_ranges(self) -> list[tuple[str, int, tuple[float, float]]]:
        """Where the family's prior puts each unknown, as (config key, parameter index, (low,
        high)): checked to lie inside ``bounds`` (:meth:`check_box`). Empty (the default) when
        the prior is not a box in x (it is then not checked)."""
        return []

    def check_box(self) -> None:
        """Checks every family gets: ``x0`` has one entry per unknown and lies inside
        ``bounds``, and so does every range of :meth:`prior_ranges` (a network's output is
        scaled to ``bounds`` and starts at ``x0``; a true solution outside them is unreachable
        for L-BFGS-B and the networks). ConfigError naming the key."""
        if "x0" not in self.params or "bounds" not in self.params:
            return
        bounds = np.asarray(self.params["bounds"], dtype=np.float64)
        x0 = np.asarray(self.params["x0"], dtype=np.float64)
        if bounds.shape != (self.dim, 2) or not (bounds[:, 0] < bounds[:, 1]).all():
            raise ConfigError(f"{self.where}.bounds", f"need one [low, high] per unknown {list(self.param_names)}, "
                              f"got {self.params['bounds']}")
        if x0.shape != (self.dim,):
            raise ConfigError(f"{self.where}.x0", f"need {self.dim} values {list(self.param_names)}, got {self.params['x0']}")
        for i, name in enumerate(self.param_names):
            lo, hi = bounds[i]
            if not lo <= x0[i] <= hi:
                raise ConfigError(f"{self.where}.x0", f"{name} = {x0[i]:g} lies outside bounds[{i}] = [{lo:g}, {hi:g}]")
        for key, i, (plo, phi) in self.prior_ranges():
            lo, hi = bounds[i]
            if plo < lo or phi > hi:
                raise ConfigError(
                    f"{self.where}.{key}",
                    f"prior of {self.param_names[i]} [{plo:g}, {phi:g}] reaches outside bounds[{i}] = [{lo:g}, {hi:g}]",
                )

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

    def sample_prior(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """n draws (n, dim) of the unknowns from the family's prior, e.g. for multi-start
        baselines. Default: uniform in ``bounds``; families with a narrower prior override it."""
        lo, hi = self.bounds[:, 0], self.bounds[:, 1]
        return lo + (hi - lo) * rng.uniform(size=(n, self.dim))

    @classmethod
    def display_name(cls) -> str:
        return cls.label or cls.name

    def features(self, y_target: torch.Tensor, gamma: torch.Tensor | None) -> torch.Tensor:
        """Network input for each problem, flattened: y* and, where present, γ."""
        parts = [y_target.reshape(y_target.shape[0], -1)]
        if gamma is not None:
            parts.append(gamma.reshape(gamma.shape[0], -1))
        return torch.cat(parts, dim=1)

    def image_shape(self) -> tuple[int, int, int] | None:
        """(channels, height, width) of :meth:`features` read as an image, for a convolutional
        network (``network: cnn``); None (the default) for families whose inputs are not images."""
        return None

    def describe(self) -> dict[str, Any]:
        """Every physical parameter, JSON-serialisable (stored in the data artifact)."""
        out = {"family": self.name, "param_names": list(self.param_names), **_jsonable(self.params)}
        if not type(self).__module__.startswith(__package__ + "."):
            out["family_path"] = f"{type(self).__module__}:{type(self).__qualname__}"
        return out

    def data_view(self, x: np.ndarray, gamma: np.ndarray | None, y_target: np.ndarray) -> dict[str, Any] | None:
        """Optional hook of the ``example_solutions`` figure: one problem's outputs F(x_k, γ) for
        solutions x (m, dim) (float64; γ and y* of that problem alone), as a mapping of NumPy
        arrays saying how to draw them in data space (kinds and keys:
        :mod:`invnet.figures.data_view`). None (the default): the figure shows the solutions in
        parameter space only."""
        return None


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
        self.evaluations = torch.zeros(self.n, dtype=torch.int64, device=self.y_target.device)

    @classmethod
    def from_set(
        cls, family: ProblemFamily, pset: ProblemSet, dtype=torch.float64, device: torch.device | str = "cpu"
    ) -> Objective:
        """The objective of ``pset`` with its targets (and identifiers) on ``device``."""
        gamma = None if pset.gamma is None else torch.as_tensor(pset.gamma, dtype=dtype, device=device)
        return cls(family, torch.as_tensor(pset.y_target, dtype=dtype, device=device), gamma)

    @property
    def device(self) -> torch.device:
        return self.y_target.device

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
