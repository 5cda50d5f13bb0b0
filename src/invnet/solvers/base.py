"""The solver interface: every method (bfgs, gd, jpo, ...) takes a :class:`SolveContext` and
returns a :class:`SolveResult` with per-problem solutions and their loss under the true F."""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar

import numpy as np
import torch

from ..problems.base import Objective, ProblemFamily, ProblemSet
from ..spec import ParamSpec, resolve

log = logging.getLogger("invnet.solvers")


@dataclass
class SolveContext:
    """Everything one solver run needs: the problems, its settings, the seed, an optional start."""

    family: ProblemFamily
    train: ProblemSet
    settings: dict[str, Any]
    seed: int
    test: ProblemSet | None = None
    init: np.ndarray | None = None  # (n, dim) start per problem (refinement); None -> x0
    dtype: torch.dtype = torch.float64
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    progress: Callable[[str], None] = field(default=log.info)

    def objective(self, which: str = "train") -> Objective:
        pset = self.train if which == "train" else self.test
        if pset is None:
            raise ValueError("this context has no test set")
        return Objective.from_set(self.family, pset, self.dtype, self.device)

    def start(self) -> torch.Tensor:
        """(n, dim) starting points: ``init`` if given, else the family's shared x0."""
        if self.init is not None:
            x = np.asarray(self.init, dtype=np.float64)
            if x.shape != (self.train.n, self.family.dim):
                raise ValueError(f"init has shape {x.shape}, expected {(self.train.n, self.family.dim)}")
        else:
            x = np.broadcast_to(self.family.x0, (self.train.n, self.family.dim))
        return torch.tensor(np.array(x), dtype=self.dtype, device=self.device)


@dataclass
class SolveResult:
    """Per-problem outcome of one solver run (what goes into the run artifact)."""

    x: np.ndarray  # (n, dim) solutions
    loss: np.ndarray  # (n,) final loss under the true forward process
    iterations: np.ndarray  # (n,) optimiser iterations / training steps
    evaluations: np.ndarray  # (n,) forward evaluations of each problem
    loss_history: np.ndarray  # (T,) mean training-set loss after each recorded step
    history_step: np.ndarray  # (T,) iteration index of each history entry
    extras: dict[str, np.ndarray] = field(default_factory=dict)  # e.g. test_x, test_loss, status
    info: dict[str, Any] = field(default_factory=dict)  # settings actually used, notes

    def check(self, n: int, dim: int) -> None:
        """Fail loudly if a solver returns arrays of the wrong shape."""
        shapes = {"x": (n, dim), "loss": (n,), "iterations": (n,), "evaluations": (n,)}
        for key, shape in shapes.items():
            got = np.shape(getattr(self, key))
            if got != shape:
                raise RuntimeError(f"solver returned {key} with shape {got}, expected {shape}")
        if np.shape(self.loss_history) != np.shape(self.history_step):
            raise RuntimeError("loss_history and history_step differ in length")


class Solver(ABC):
    """A method for a whole problem set. Subclasses declare ``name`` and ``settings_spec``.

    A module under ``invnet.solvers`` defining a subclass with its own ``name`` is registered by
    itself; the class attributes below give its place in tables and figures and its cost class.
    """

    name: ClassVar[str]
    label: ClassVar[str] = ""  # name in tables and legends; defaults to ``name``
    order: ClassVar[int] = 100  # position in tables and legends (BFGS first)
    style: ClassVar[dict[str, Any]] = {}  # matplotlib colour / marker / linestyle for every figure
    cost: ClassVar[float] = 1.0  # relative runtime per problem, to size cluster runtimes
    settings_spec: ClassVar[dict[str, ParamSpec]] = {}
    needs: ClassVar[str | None] = None  # solver whose solutions this one starts from
    # The knobs a tuning sweep tries (``python -m invnet.tuning``): setting -> values; the grid
    # is their product. Declared with the solver so every method is tuned the same documented way.
    tuning: ClassVar[dict[str, list[Any]]] = {}

    @classmethod
    def display_name(cls) -> str:
        return cls.label or cls.name

    @classmethod
    def resolve_settings(cls, experiment: str, settings: dict[str, Any] | None) -> dict[str, Any]:
        """Fill defaults and type-check this solver's config block; errors name the key."""
        where = f"experiments.{experiment}.solvers.{cls.name}"
        out = resolve(cls.settings_spec, settings, where)
        cls.check_settings(out, where)
        return out

    @classmethod
    def check_settings(cls, settings: dict[str, Any], where: str) -> None:
        """Cross-checks between settings; raise ConfigError naming ``where.<key>``."""

    @classmethod
    def check_family(cls, settings: dict[str, Any], family: ProblemFamily, where: str) -> None:
        """Checks of the settings against the experiment's family (e.g. a CNN needs image
        inputs); raise ConfigError naming ``where.<key>``. Run when the config is resolved."""

    @abstractmethod
    def solve(self, ctx: SolveContext) -> SolveResult:
        """Solve every problem of ``ctx.train``; settings are already resolved."""


def subsample_history(steps: int, points: int) -> np.ndarray:
    """Iteration indices 0..steps at which to record the loss: all if few, else ~log-spaced."""
    if steps + 1 <= points:
        return np.arange(steps + 1)
    idx = np.unique(np.round(np.geomspace(1, steps + 1, points)).astype(int) - 1)
    return idx
