"""The solver interface (docs/experiments.md §2).

A solver is an object holding its typed, frozen settings (``solver.settings.gtol``), as in
optimistix: the settings are declared once per class as ``settings_spec`` (``ParamSpec`` each:
type, range, default, doc), and :class:`Solver` generates from them a frozen dataclass
``cls.Settings`` that validates every value (errors name the full key path) and converts back to
the JSON dict that run artifacts record (``to_dict``).

A solver implements one method, ``run(ctx) -> Outcome``: its update loop over the batch of
problems, reading ``ctx.objective()`` (the per-problem losses, counting evaluations),
``ctx.start()`` (the start points) and calling ``ctx.record(k, per_problem_losses)`` after each
iteration. Everything else (history subsampling, the progress line, evaluation counts, result
assembly, the per-problem status) is the one driver's, :func:`invnet.solvers.driver.solve`.

A solver whose runs at every n of a seed begin with the same work (the neural adjoint's surrogate
of a family without identifiers γ) declares it with ``shares_across_n(family)`` and does that
work in ``prepare_shared``: the workflow runs it once per (experiment, solver, seed) (rule
``fit_surrogate``) and each n's run finds its arrays in ``ctx.shared`` instead of redoing it.

Per-problem outcome: :class:`SolveStatus` (dataset ``solve_status`` of a run artifact),
set by the solver; the comparison status ``problem_status`` (finite / nan / inf / failure,
``invnet.artifacts``) is derived from it and the final loss by the driver.
"""

from __future__ import annotations

import copy
import dataclasses
import logging
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import IntEnum
from typing import TYPE_CHECKING, Any, Callable, ClassVar, Union

import numpy as np
import torch

from ..problems.base import ProblemFamily, ProblemSet
from ..spec import ParamSpec, resolve

if TYPE_CHECKING:
    from .driver import SolveContext

log = logging.getLogger("invnet.solvers")

# Config keys of a solver block that are not a method's settings (invnet.solvers.compose): no
# method may declare a setting with one of these names.
COMPOSITION_KEYS = ("method", "label", "start_from", "starts", "budget")


class SolveStatus(IntEnum):
    """Why a solver stopped on one problem (run dataset ``solve_status``; names: ``.name``)."""

    CONVERGED = 0  # its stopping rule holds (BFGS: gradient inf-norm <= gtol)
    BUDGET = 1  # stopped at its iteration / step budget (every fixed-budget method)
    STALLED = 2  # stopped early without meeting its rule (line-search failure, precision loss)
    FAILED = 3  # the optimiser reports a failure (NaN inside its state) at a finite loss
    NONFINITE = 4  # the final loss or solution is not finite (set by the driver)


SOLVE_STATUS_NAMES: dict[int, str] = {s.value: s.name.lower() for s in SolveStatus}

# problem_status values: the same numbers as invnet.artifacts.STATUS_* (kept equal by a test;
# not imported so that artifacts.py stays out of every solver's code fingerprint)
PROBLEM_OK, PROBLEM_NAN, PROBLEM_INF, PROBLEM_FAILED = 0, 1, 2, 3


@dataclass(frozen=True)
class SolveProblem:
    """One solver run's input: the problem set and how to compute (no solver settings)."""

    family: ProblemFamily
    train: ProblemSet
    test: ProblemSet | None = None
    seed: int = 0
    init: np.ndarray | None = None  # (n, dim) start per problem (the start_from run's x); None: x0
    dtype: torch.dtype = torch.float64
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    history_points: int = 200  # max entries of the loss history (log-spaced)
    progress: Callable[[str], None] = field(default=log.info, compare=False)
    # the solver's per-seed preparation made once for every n (``Solver.prepare_shared``), as
    # the arrays it returned; None: the run makes whatever it needs itself
    shared: Mapping[str, np.ndarray] | None = field(default=None, compare=False)


@dataclass
class Outcome:
    """What a solver's ``run`` returns, one row per problem (tensors or arrays): the driver adds
    evaluations, history, the derived statuses and converts to NumPy."""

    x: Any  # (rows, dim) solutions
    loss: Any  # (rows,) final loss under the true forward process
    iterations: Any  # (rows,) or a scalar: iterations / training steps
    status: Any = SolveStatus.BUDGET  # (rows,) or a scalar SolveStatus
    extras: dict[str, Any] = field(default_factory=dict)  # datasets of this method (e.g. raw status)
    info: dict[str, Any] = field(default_factory=dict)  # provenance notes (JSON)

    def numpy(self, rows: int) -> Outcome:
        """A copy with NumPy arrays, scalars broadcast to ``rows`` (iterations, status int64)."""
        return Outcome(
            x=to_numpy(self.x),
            loss=to_numpy(self.loss),
            iterations=_per_row(self.iterations, rows),
            status=_per_row(self.status, rows),
            extras={k: to_numpy(v) for k, v in self.extras.items()},
            info=dict(self.info),
        )


def to_numpy(value: Any) -> np.ndarray:
    """A NumPy copy of a tensor (detached, on the CPU) or of an array."""
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().numpy().copy()
    return np.array(value, copy=True)


def _per_row(value: Any, rows: int) -> np.ndarray:
    arr = to_numpy(value).astype(np.int64)
    return np.ascontiguousarray(np.broadcast_to(arr, (rows,))) if arr.ndim == 0 else arr


@dataclass
class SolveResult:
    """Per-problem outcome of one solver run (what goes into the run artifact)."""

    x: np.ndarray  # (n, dim) solutions
    loss: np.ndarray  # (n,) final loss under the true forward process
    iterations: np.ndarray  # (n,) optimiser iterations / training steps
    evaluations: np.ndarray  # (n,) forward evaluations of each problem
    loss_history: np.ndarray  # (T,) mean training-set loss after each recorded step
    history_step: np.ndarray  # (T,) iteration index of each history entry
    status: np.ndarray | None = None  # (n,) SolveStatus values (dataset solve_status)
    problem_status: np.ndarray | None = None  # (n,) finite / nan / inf / failure (invnet.artifacts)
    extras: dict[str, np.ndarray] = field(default_factory=dict)  # e.g. test_x, test_loss, status
    info: dict[str, Any] = field(default_factory=dict)  # settings actually used, notes

    def check(self, n: int, dim: int) -> None:
        """Fail loudly if a solver returns arrays of the wrong shape."""
        shapes = {"x": (n, dim), "loss": (n,), "iterations": (n,), "evaluations": (n,)}
        if self.status is not None:
            shapes.update(status=(n,), problem_status=(n,))
        for key, shape in shapes.items():
            got = np.shape(getattr(self, key))
            if got != shape:
                raise RuntimeError(f"solver returned {key} with shape {got}, expected {shape}")
        if np.shape(self.loss_history) != np.shape(self.history_step):
            raise RuntimeError("loss_history and history_step differ in length")


# ----------------------------------------------------------------------------- typed settings


def _frozen(value: Any) -> Any:
    """Lists (nested) as tuples, so a settings object is immutable and hashable."""
    return tuple(_frozen(v) for v in value) if isinstance(value, (list, tuple)) else value


def _thawed(value: Any) -> Any:
    """Tuples (nested) as lists: the JSON form."""
    return [_thawed(v) for v in value] if isinstance(value, (list, tuple)) else value


def _annotation(spec: ParamSpec) -> Any:
    scalar = Union[spec.kinds] if len(spec.kinds) > 1 else spec.kinds[0]  # noqa: UP007
    return scalar if spec.length is None else tuple


class SettingsBase:
    """Behaviour of every generated settings dataclass (``Solver.Settings``)."""

    spec: ClassVar[dict[str, ParamSpec]]
    where: ClassVar[str]  # key path used when constructed directly (``solvers.<name>``)

    def __post_init__(self) -> None:
        for key, spec in self.spec.items():
            value = spec.check(_thawed(getattr(self, key)), f"{self.where}.{key}")
            object.__setattr__(self, key, _frozen(value))

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any] | None, where: str | None = None):
        """Settings from a config block: defaults filled in, every value checked; errors name
        ``where.<key>`` (e.g. ``experiments.ks.solvers.gd.lr``)."""
        out = resolve(cls.spec, None if values is None else dict(values), where or cls.where)
        return cls(**{k: _frozen(v) for k, v in out.items()})

    def to_dict(self) -> dict[str, Any]:
        """The JSON dict of these settings (lists, not tuples), in declaration order."""
        return {key: _thawed(getattr(self, key)) for key in self.spec}

    def replace(self, **changes: Any):
        """A copy with ``changes`` (checked)."""
        return dataclasses.replace(self, **{k: _frozen(v) for k, v in changes.items()})


def make_settings(class_name: str, spec: dict[str, ParamSpec], where: str) -> type:
    """A frozen, keyword-only dataclass with one typed field per entry of ``spec``."""
    fields = []
    for key, p in spec.items():
        if p.required:
            fields.append((key, _annotation(p)))
        else:
            fields.append((key, _annotation(p), field(default=_frozen(copy.deepcopy(p.default)))))
    return dataclasses.make_dataclass(
        class_name, fields, bases=(SettingsBase,), frozen=True, kw_only=True,
        namespace={"spec": dict(spec), "where": where, "__doc__": f"Typed settings of {where}."},
    )


# ----------------------------------------------------------------------------- the solver


class Solver(ABC):
    """A method for a whole problem set. Subclasses declare ``name`` and ``settings_spec`` and
    implement ``run(ctx) -> Outcome``.

    A module under ``invnet.solvers`` defining a subclass with its own ``name`` is registered by
    itself; the class attributes below give its place in tables and figures, its roles and its
    cost class.
    """

    name: ClassVar[str]
    label: ClassVar[str] = ""  # name in tables and legends; defaults to ``name``
    order: ClassVar[float] = 100  # position in tables and legends (BFGS first)
    style: ClassVar[dict[str, Any]] = {}  # matplotlib colour / marker / linestyle for every figure
    cost: ClassVar[float] = 1.0  # relative runtime per problem, to size cluster runtimes
    settings_spec: ClassVar[dict[str, ParamSpec]] = {}
    # Roles, read from the class that declares them (not inherited, see ``role``):
    baseline: ClassVar[bool] = False  # the method every other one is compared with (BFGS)
    primary: ClassVar[bool] = False  # the method the paper's claim is about (JPO)
    network: ClassVar[bool] = False  # trains one network over the whole problem set (inherited)
    needs: ClassVar[str | None] = None  # declared compositions: the solver they start from
    # The knobs a tuning sweep tries (``python -m invnet.tuning``): setting -> values; the grid
    # is their product. Declared with the solver so every method is tuned the same documented way.
    tuning: ClassVar[dict[str, list[Any]]] = {}
    Settings: ClassVar[type]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        reserved = sorted(set(cls.settings_spec) & set(COMPOSITION_KEYS))
        if reserved:
            raise TypeError(f"{cls.__name__}: settings named {reserved} are reserved for compositions")
        owner = vars(cls).get("name", cls.__name__)
        cls.Settings = make_settings(f"{cls.__name__}Settings", cls.settings_spec, f"solvers.{owner}")

    def __init__(self, settings: Any = None):
        """``settings``: a ``Settings`` object, a mapping (checked, defaults filled) or None."""
        where = f"solvers.{self.method}"
        if settings is None or isinstance(settings, Mapping):
            settings = self.Settings.from_mapping(settings, where)
        elif not isinstance(settings, self.Settings):
            raise TypeError(f"{type(self).__name__} takes {self.Settings.__name__}, got {type(settings).__name__}")
        self.check_settings(settings, where)
        self._settings = settings

    @property
    def settings(self):
        """The typed, frozen settings of this solver."""
        return self._settings

    @property
    def method(self) -> str:
        """The registered algorithm this solver runs."""
        return type(self).name

    @property
    def start_from(self) -> str | None:
        """The solver whose solutions this one starts from (compositions), else None."""
        return None

    def to_dict(self) -> dict[str, Any]:
        """Everything that defines a run of this solver, as JSON (``method`` first)."""
        return {"method": self.method, **self.settings.to_dict()}

    def describe(self) -> str:
        """A short name for progress lines."""
        return self.method

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.to_dict()})"

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other.to_dict() == self.to_dict()

    def __hash__(self) -> int:
        return hash((type(self), repr(self.to_dict())))

    @abstractmethod
    def run(self, ctx: SolveContext) -> Outcome:
        """Solve every problem of the context (``ctx.n`` rows) and return their outcome."""

    # ----------------------------------------------------------------- declarations
    @classmethod
    def role(cls, attribute: str) -> bool:
        """Whether this class itself declares the role ``attribute`` (baseline, primary)."""
        return bool(vars(cls).get(attribute, False))

    @classmethod
    def display_name(cls) -> str:
        return cls.label or cls.name

    @classmethod
    def settings_from(cls, values: Mapping[str, Any] | None, where: str):
        """Typed settings from a config block, checked; errors name ``where.<key>``."""
        settings = cls.Settings.from_mapping(values, where)
        cls.check_settings(settings, where)
        return settings

    @classmethod
    def check_settings(cls, settings: Any, where: str) -> None:
        """Cross-checks between settings; raise ConfigError naming ``where.<key>``."""

    @classmethod
    def check_family(cls, settings: Any, family: ProblemFamily, where: str) -> None:
        """Checks of the settings against the experiment's family (e.g. a CNN needs image
        inputs); raise ConfigError naming ``where.<key>``. Run when the config is resolved."""

    # ----------------------------------------------------------------- shared across n
    def shares_across_n(self, family: ProblemFamily) -> bool:
        """Whether every run of this solver on ``family`` with one seed starts with the same
        preparation at every n: work that depends on the seed, the family and the settings but
        not on the problem set (the neural adjoint's surrogate of a family without identifiers).
        The workflow then makes it once per (experiment, solver, seed) with
        :meth:`prepare_shared` and gives it to every n's run (``ctx.shared``), whose result must
        be the one the run would compute making it itself, bit for bit. Default: no."""
        return False

    def prepare_shared(self, family: ProblemFamily, seed: int, dtype: torch.dtype,
                       device: torch.device) -> dict[str, np.ndarray]:
        """The per-seed preparation of :meth:`shares_across_n`, as named arrays (stored as
        float64); ``run`` finds them in ``ctx.shared``. Only for solvers that share."""
        raise NotImplementedError(f"{self.describe()} shares no preparation across n")


def subsample_history(steps: int, points: int) -> np.ndarray:
    """Iteration indices 0..steps at which to record the loss: all if few, else ~log-spaced."""
    if steps + 1 <= points:
        return np.arange(steps + 1)
    idx = np.unique(np.round(np.geomspace(1, steps + 1, points)).astype(int) - 1)
    return idx


__all__ = [
    "COMPOSITION_KEYS", "Outcome", "SOLVE_STATUS_NAMES", "SolveProblem", "SolveResult",
    "SolveStatus", "Solver", "make_settings", "subsample_history", "to_numpy",
]
