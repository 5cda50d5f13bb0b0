"""Compositions: run any per-problem method from other starts (optimistix's wrappers are the model).

- :class:`Refine` (config key ``start_from: <solver>``): the method started from that solver's
  solutions (``problem.init``) instead of x0; ``jpo_bfgs`` is BFGS refining JPO's answers.
- :class:`MultiStart` (``starts: K``, ``budget: [k, ...]``): the method from the shared start
  (x0, or the refined start) and from K − 1 draws of the family's prior, all K·n runs advanced
  as one batch; the best final loss per problem is kept. The starts are a fixed sequence
  (x0 first; stream ``bfgs_multistart/starts/n{n}`` of the seed, the same for every method, so
  multi-starts of different methods share their starts), so one run also holds every smaller
  multi-start: best of the first k starts, with the evaluations those k starts spent (the
  aggregate's budget curve over ``budget``). With K = 1 the result is the method's, bit for bit.
  It records ``best_start`` (n,), ``start_x`` (n, K, dim), ``start_loss`` (n, K) and
  ``start_evaluations`` (n, K); iterations, status and the method's own per-problem datasets
  (e.g. BFGS's raw ``status``) are those of the best start; the loss history is the mean over
  problems of the best loss over starts.

Network methods (one network over all problems) compose with neither. The config keys and their
checks are in :mod:`invnet.solvers.resolve`; named compositions (``bfgs_multistart``,
``jpo_bfgs``, ``supervised_bfgs``) are subclasses declaring ``method`` and their defaults.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch

from ..errors import ConfigError
from ..problems.base import Objective
from ..seeding import numpy_rng
from ..spec import ParamSpec
from ..starts import first_argmin
from .base import Outcome, SettingsBase, Solver, make_settings
from .driver import SolveContext

STARTS_STREAM = "bfgs_multistart/starts/n{n}"  # one stream for every multi-start (historical name)
# Rows of a multi-start evaluated per forward/backward call (BFGS, L-BFGS-B): bounds the memory of
# a large K·n batch (a KS row keeps ~0.5 MB of autograd graph at T = 20: 2 GB per call). A family
# whose rows hold much more declares its own limit (``max_rows_per_call``, e.g. the fluid). Rows
# are independent problems; where a family's rows do not depend on the batch (wave packet,
# billiards, KS: tests/test_sweeps.py) the chunked run is the unchunked one bit for bit (the
# fluid's batched FFTs round differently with the batch size: equal to ~1 ulp).
MAX_ROWS_PER_CALL = 4096


def rows_per_call(family) -> int:
    """Rows per forward/backward call of a multi-start on ``family``: its ``max_rows_per_call``
    where it declares one (an int >= 1; property or attribute), else :data:`MAX_ROWS_PER_CALL`."""
    own = getattr(family, "max_rows_per_call", None)
    return MAX_ROWS_PER_CALL if own is None else max(1, min(int(own), MAX_ROWS_PER_CALL))
BUDGET_LADDER = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000)

STARTS_SPEC = ParamSpec(20, int, minimum=1, doc="K: runs per problem (the shared start + K-1 prior draws), best kept")
BUDGET_SPEC = ParamSpec(
    [1, 2, 5, 20], int, length=-1, minimum=1, unique=True,
    doc="multi-start sizes k <= K reported as a budget curve (best of the first k starts)",
)


def default_budget(starts: int) -> list[int]:
    """The budget curve of a multi-start without a declared one: 1, 2, 5, 10, ... below K, and K."""
    return [k for k in BUDGET_LADDER if k < starts] + [starts]


class Wrapper(Solver):
    """A solver that runs another one (``inner``) differently; its own settings are the
    composition's keys, the inner solver keeps its typed settings."""

    method_cls: ClassVar[type[Solver] | None] = None  # declared compositions: the method they run
    composition_keys: ClassVar[tuple[str, ...]] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        # not Solver's hook (no Settings from settings_spec): a wrapper's settings are its
        # composition keys; a named composition's settings_spec lists its method's settings too
        super(Solver, cls).__init_subclass__(**kwargs)
        if "settings_spec" in vars(cls) and set(vars(cls)["settings_spec"]) - set(cls.composition_keys):
            raise TypeError(f"{cls.__name__}: a composition declares no method settings")
        m = vars(cls).get("method_cls")
        if m is not None:  # a named composition: its block holds the method's settings too
            cls.settings_spec = {**m.settings_spec, **cls.own_specs()}
            if "tuning" not in vars(cls):
                cls.tuning = dict(m.tuning)
            if "network" not in vars(cls):
                cls.network = m.network

    @classmethod
    def own_specs(cls) -> dict[str, ParamSpec]:
        """The composition settings this wrapper class declares (with its defaults)."""
        return {}

    def __init__(self, inner: Solver, settings: Any = None):
        if not isinstance(inner, Solver):
            raise TypeError(f"{type(self).__name__} wraps a Solver, got {type(inner).__name__}")
        if inner.network:
            raise ValueError(f"{type(self).__name__}: '{inner.method}' is a network method; it composes with nothing")
        self.inner = inner
        Solver.__init__(self, settings)

    @property
    def method(self) -> str:
        return self.inner.method

    @property
    def start_from(self) -> str | None:
        return self.inner.start_from

    def to_dict(self) -> dict[str, Any]:
        return canonical({**self.inner.to_dict(), **self.settings.to_dict()})


def canonical(settings: dict[str, Any]) -> dict[str, Any]:
    """A solver block in one key order: method, label, start_from, starts, budget, then the
    method's settings in their declared order."""
    head = [k for k in ("method", "label", "start_from", "starts", "budget") if k in settings]
    return {**{k: settings[k] for k in head}, **{k: v for k, v in settings.items() if k not in head}}


class Refine(Wrapper):
    """The inner method started from another solver's solutions (``problem.init``)."""

    composition_keys = ("start_from",)
    fixed_start_from: ClassVar[str | None] = None  # named refinements (jpo_bfgs: "jpo")

    Settings = make_settings("RefineSettings", {"start_from": ParamSpec("", str, doc="solver whose solutions are the starts")}, "solvers.refine")

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        fixed = vars(cls).get("fixed_start_from")
        if fixed is not None:
            cls.needs = fixed

    def __init__(self, inner: Solver, start_from: str | None = None):
        start_from = start_from if start_from is not None else self.fixed_start_from
        if not start_from:
            raise ValueError("Refine needs start_from (the solver whose solutions it starts from)")
        super().__init__(inner, Refine.Settings(start_from=start_from))

    @property
    def start_from(self) -> str | None:
        return self.settings.start_from

    def describe(self) -> str:
        return f"{self.inner.describe()} from {self.settings.start_from}"

    def run(self, ctx: SolveContext) -> Outcome:
        if ctx.init is None:
            raise ValueError(f"{self.describe()}: the solutions of '{self.settings.start_from}' (problem.init) are missing")
        return self.inner.run(ctx)


@dataclass(frozen=True, kw_only=True)
class _MultiStartSettings(SettingsBase):
    """Typed settings of a multi-start: K and the budget curve."""

    starts: int = 20
    budget: tuple = (1, 2, 5, 20)
    spec: ClassVar[dict[str, ParamSpec]] = {"starts": STARTS_SPEC, "budget": BUDGET_SPEC}
    where: ClassVar[str] = "solvers.multistart"

    def __post_init__(self) -> None:
        super().__post_init__()
        check_budget(self.starts, list(self.budget), self.where)


def check_budget(starts: int, budget: list[int], where: str) -> None:
    """Budget entries must be <= starts; ConfigError naming ``where.budget``."""
    too_big = [k for k in budget if k > starts]
    if too_big:
        raise ConfigError(f"{where}.budget", f"entries must be <= starts ({starts}), got {too_big}")


class MultiStart(Wrapper):
    """The inner method from K starts per problem (the shared start, then K − 1 prior draws)."""

    composition_keys = ("starts", "budget")
    default_starts: ClassVar[int | None] = None  # named multi-starts declare their defaults
    default_budget: ClassVar[list[int] | None] = None
    Settings = _MultiStartSettings

    @classmethod
    def own_specs(cls) -> dict[str, ParamSpec]:
        starts = cls.default_starts or STARTS_SPEC.default
        budget = cls.default_budget or default_budget(starts)
        return {"starts": _with_default(STARTS_SPEC, starts), "budget": _with_default(BUDGET_SPEC, budget)}

    def __init__(self, inner: Solver, starts: int | None = None, budget: list[int] | None = None):
        starts = starts if starts is not None else (self.default_starts or STARTS_SPEC.default)
        if budget is None:
            budget = self.default_budget if self.default_budget is not None else default_budget(starts)
        super().__init__(inner, _MultiStartSettings(starts=starts, budget=tuple(budget)))

    def describe(self) -> str:
        return f"{self.inner.describe()} x{self.settings.starts} starts"

    def run(self, ctx: SolveContext) -> Outcome:
        k_max = self.settings.starts
        starts = start_points(ctx, k_max)
        _, n, dim = starts.shape
        rows = _RowContext(ctx, starts)
        out = self.inner.run(rows).numpy(k_max * n)
        fun = out.loss.reshape(k_max, n)
        best = first_argmin(fun)
        pick = (best, np.arange(n))
        x_all = out.x.reshape(k_max, n, dim)
        extras = {  # the method's per-row datasets: those of the best start
            key: value.reshape(k_max, n, *value.shape[1:])[pick].copy() if value.ndim and value.shape[0] == k_max * n
            else value
            for key, value in out.extras.items()
        }
        extras.update(
            best_start=best.astype(np.int64),
            start_x=np.ascontiguousarray(x_all.transpose(1, 0, 2)),
            start_loss=np.ascontiguousarray(fun.T),
            start_evaluations=np.ascontiguousarray(rows.row_evaluations().reshape(k_max, n).T),
        )
        return Outcome(
            x=x_all[pick].copy(),
            loss=fun[pick].copy(),
            iterations=out.iterations.reshape(k_max, n)[pick].copy(),
            status=out.status.reshape(k_max, n)[pick].copy(),
            extras=extras,
            info=out.info,
        )


def _with_default(spec: ParamSpec, default: Any) -> ParamSpec:
    return dataclasses.replace(spec, default=default)


def start_points(ctx: SolveContext, starts: int) -> torch.Tensor:
    """(K, n, dim): the shared start (x0, or ``init``) first, then K − 1 seeded prior draws."""
    first = ctx.start()
    n, dim = first.shape
    rng = numpy_rng(ctx.seed, STARTS_STREAM.format(n=n))
    draws = ctx.family.sample_prior(n * (starts - 1), rng).reshape(starts - 1, n, dim)
    rest = torch.as_tensor(draws, dtype=first.dtype, device=first.device)
    return torch.cat([first[None], rest], dim=0)


class RowObjective:
    """The objective of K·n rows (row r = start r // n of problem r % n): evaluations count per
    problem in the run's objective and per row here."""

    def __init__(self, base: Objective, starts: int):
        self.base = base
        self.starts = starts
        rows = starts * base.n
        self.problem_of_row = torch.arange(rows, device=base.device) % base.n
        self.row_evaluations = torch.zeros(rows, dtype=torch.int64, device=base.device)

    family = property(lambda self: self.base.family)
    dtype = property(lambda self: self.base.dtype)
    device = property(lambda self: self.base.device)
    n = property(lambda self: self.starts * self.base.n)

    def __call__(self, x: torch.Tensor, idx: torch.Tensor | None = None) -> torch.Tensor:
        if idx is None:
            self.row_evaluations += 1
            return self.base(x) if self.starts == 1 else self.base(x, self.problem_of_row)
        self.row_evaluations.index_add_(0, idx, torch.ones_like(idx))
        return self.base(x, self.problem_of_row[idx])

    def value_and_grad(self, x: torch.Tensor, idx: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Losses and gradients of rows ``idx`` (all if None), detached; at most
        :func:`rows_per_call` rows per call of the forward process."""
        if idx is None:
            self.row_evaluations += 1
            problems = None if self.starts == 1 else self.problem_of_row
        else:
            self.row_evaluations.index_add_(0, idx, torch.ones_like(idx))
            problems = self.problem_of_row[idx]
        chunk = rows_per_call(self.base.family)
        if x.shape[0] <= chunk:
            return self.base.value_and_grad(x, problems)
        if problems is None:
            problems = torch.arange(x.shape[0], device=x.device)
        parts = [self.base.value_and_grad(x[lo:lo + chunk], problems[lo:lo + chunk])
                 for lo in range(0, x.shape[0], chunk)]
        return torch.cat([f for f, _ in parts]), torch.cat([g for _, g in parts])


class _RowContext(SolveContext):
    """The context a multi-started method sees: K·n rows, their starts, its history reduced to
    the best loss over starts per problem."""

    def __init__(self, parent: SolveContext, starts: torch.Tensor):
        super().__init__(parent.problem, parent.recorder)
        self.parent = parent
        self.k, self.n_problems, self.dim = starts.shape
        self._starts = starts
        self._rows: RowObjective | None = None

    @property
    def n(self) -> int:
        return self.k * self.n_problems

    def objective(self, which: str = "train"):
        if which != "train":
            return self.parent.objective(which)
        if self._rows is None:
            self._rows = RowObjective(self.parent.objective(), self.k)
        return self._rows

    def diagnostic(self):
        raise ValueError("a multi-started method has no diagnostic objective (network methods do not multi-start)")

    def start(self) -> torch.Tensor:
        return self._starts.reshape(self.k * self.n_problems, self.dim).clone()

    def record(self, k: int, losses) -> None:
        self.recorder.record(k, losses, reduce=lambda f: f.reshape(self.k, self.n_problems).min(dim=0).values)

    def row_evaluations(self) -> np.ndarray:
        if self._rows is None:
            return np.zeros(self.k * self.n_problems, dtype=np.int64)
        return self._rows.row_evaluations.cpu().numpy().copy()
