"""The one driver of every solver run: ``solve(solver, problem) -> SolveResult``.

``solve`` gives the solver a :class:`SolveContext` (its counted objective, its start points and
the :class:`Recorder`), calls ``solver.run(ctx)`` and assembles the result once for all methods:

- ``evaluations``: the per-problem counters of the context's training objective;
- ``loss_history`` / ``history_step``: the mean over problems of the losses the solver passed to
  ``ctx.record(k, losses)``, at log-spaced iterations (at most ``problem.history_points``; the
  indices of :func:`invnet.solvers.base.subsample_history` over 0..last);
- a progress line through ``problem.progress`` at most every 10 s, with the share done and the
  time left (:func:`eta`) when the solver declared its budget (``ctx.expect_steps``);
- ``status`` (:class:`SolveStatus`, set by the solver; ``NONFINITE`` wherever the final loss
  or solution is not finite) and ``problem_status``, derived from it and the loss:
  nan (1) / inf (2) for a non-finite loss, failure (3) for a finite loss with a solver status
  FAILED or NONFINITE, else finite (0): the values of ``invnet.artifacts.STATUS_*``;
- ``info``: ``{"settings": solver.to_dict(), **outcome.info}``.

Threads, determinism (``torch.use_deterministic_algorithms``, ``torch.manual_seed``), BLAS
thread limits and the device choice are the caller's (the solve job), not the driver's.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Callable

import numpy as np
import torch

from ..problems.base import Objective
from .base import (
    PROBLEM_FAILED, PROBLEM_INF, PROBLEM_NAN, PROBLEM_OK, Outcome, SolveProblem, SolveResult, SolveStatus,
    Solver, subsample_history,
)

Losses = torch.Tensor | Callable[[], torch.Tensor]
PROGRESS_EVERY_S = 10.0


def eta(elapsed: float, done: int, total: int) -> float | None:
    """Seconds left at the rate so far: ``elapsed · (total − done) / done``; None before the
    first step is done."""
    if done <= 0:
        return None
    return elapsed * max(total - done, 0) / done


def clock_text(seconds: float) -> str:
    """'m:ss', or 'h:mm:ss' from an hour on."""
    seconds = int(round(seconds))
    h, rest = divmod(seconds, 3600)
    return f"{h}:{rest // 60:02d}:{rest % 60:02d}" if h else f"{rest // 60}:{rest % 60:02d}"


def progress_line(label: str, k: int, total: int | None, elapsed: float, last: str) -> str:
    """The progress line: step (of the budget, with the share done, the time elapsed and left)
    and the last recorded loss."""
    if total is None:
        return f"{label}: step {k}, {clock_text(elapsed)} elapsed, {last}"
    left = eta(elapsed, k, total)
    rest = "time left unknown yet" if left is None else f"about {clock_text(left)} left"
    return f"{label}: step {k}/{total} ({100 * k / max(total, 1):.0f} %), {clock_text(elapsed)} elapsed, {rest}, {last}"


class Recorder:
    """The loss history of one run: ``record(k, losses)`` after iteration k (k = 0 at the start).

    ``losses`` are per-problem (a tensor, or a callable returning one, evaluated only if step k
    is kept). Without ``expect(total)`` every call is kept and the history is subsampled at the
    end (steps must then be 0, 1, 2, ...); with it only the kept steps are evaluated.
    ``reduce`` maps the recorded tensor to per-problem losses (multi-start: best over starts).
    """

    def __init__(self, points: int, progress: Callable[[str], None] | None = None, label: str = "",
                 clock: Callable[[], float] = time.perf_counter):
        self.points = int(points)
        self.progress = progress
        self.label = label
        self._clock = clock
        self._start = self._last_report = clock()
        self._total: int | None = None
        self._keep: set[int] | None = None
        self._steps: list[int] = []
        self._values: list[float] = []

    def expect(self, total: int) -> None:
        """Iterations 0..total will be recorded: keep only the log-spaced subset of them."""
        self._total = int(total)
        self._keep = set(subsample_history(int(total), self.points).tolist())

    def wants(self, k: int) -> bool:
        """Whether step k enters the history (so a solver may skip computing its losses)."""
        return self._keep is None or k in self._keep

    def record(self, k: int, losses: Losses, reduce: Callable[[torch.Tensor], torch.Tensor] | None = None) -> None:
        """Record the mean over problems of ``losses`` (after ``reduce``) at step ``k``."""
        if self.wants(k):
            value = losses() if callable(losses) else losses
            if reduce is not None:
                value = reduce(value)
            self._steps.append(int(k))
            self._values.append(float(value.detach().mean()))
        now = self._clock() if self.progress is not None else 0.0
        if self.progress is not None and now - self._last_report > PROGRESS_EVERY_S:
            self._last_report = now
            if not self._values:
                last = "no loss recorded yet"
            else:
                at = "" if self._steps[-1] == k else f" (recorded at step {self._steps[-1]})"
                last = f"mean loss {self._values[-1]:.4e}{at}"
            self.progress(progress_line(self.label, k, self._total, now - self._start, last))

    __call__ = record

    def history(self) -> tuple[np.ndarray, np.ndarray]:
        """(loss_history float64, history_step int64) as recorded."""
        values = np.asarray(self._values, dtype=np.float64)
        steps = np.asarray(self._steps, dtype=np.int64)
        if self._keep is not None or not self._steps:
            return values, steps
        keep = subsample_history(len(self._values) - 1, self.points)
        return values[keep], steps[keep]


class SolveContext:
    """What a solver's ``run`` sees: the problem, its counted objective, the start points and
    the recorder. ``n`` is the number of rows the solver solves (problems, or problems x starts
    inside a multi-start); per-problem solvers use ``n`` and ``objective().n``, not ``train.n``."""

    def __init__(self, problem: SolveProblem, recorder: Recorder):
        self.problem = problem
        self.recorder = recorder
        self._objective: Objective | None = None

    # problem fields
    @property
    def family(self):
        return self.problem.family

    @property
    def train(self):
        return self.problem.train

    @property
    def test(self):
        return self.problem.test

    @property
    def seed(self) -> int:
        return self.problem.seed

    @property
    def init(self) -> np.ndarray | None:
        return self.problem.init

    @property
    def dtype(self) -> torch.dtype:
        return self.problem.dtype

    @property
    def device(self) -> torch.device:
        return self.problem.device

    @property
    def n(self) -> int:
        return self.problem.train.n

    @property
    def shared(self) -> Mapping[str, np.ndarray] | None:
        """The solver's per-seed preparation made once for every n (``Solver.prepare_shared``),
        or None: the run makes it itself."""
        return self.problem.shared

    def objective(self, which: str = "train") -> Objective:
        """The per-problem loss; ``train`` (one instance per run) counts the run's evaluations,
        ``test`` is a fresh objective of the held-out set."""
        if which == "test":
            if self.problem.test is None:
                raise ValueError("this problem has no test set")
            return Objective.from_set(self.family, self.problem.test, self.dtype, self.device)
        if which != "train":
            raise ValueError(f"objective: which must be 'train' or 'test', got {which!r}")
        if self._objective is None:
            self._objective = Objective.from_set(self.family, self.problem.train, self.dtype, self.device)
        return self._objective

    def diagnostic(self) -> Objective:
        """A training objective whose evaluations are not counted (a loss history for methods
        that never train through F, e.g. supervised)."""
        return Objective.from_set(self.family, self.problem.train, self.dtype, self.device)

    def start(self) -> torch.Tensor:
        """(n, dim) starting points: ``init`` if given, else the family's shared x0."""
        n, dim = self.problem.train.n, self.family.dim
        if self.problem.init is not None:
            x = np.asarray(self.problem.init, dtype=np.float64)
            if x.shape != (n, dim):
                raise ValueError(f"init has shape {x.shape}, expected {(n, dim)}")
        else:
            x = np.broadcast_to(self.family.x0, (n, dim))
        return torch.tensor(np.array(x), dtype=self.dtype, device=self.device)

    def record(self, k: int, losses: Losses) -> None:
        """Record per-problem ``losses`` after iteration ``k`` (the solver's history)."""
        self.recorder.record(k, losses)

    def expect_steps(self, total: int) -> None:
        """Declare a fixed budget: iterations 0..total are recorded (only kept ones evaluated)."""
        self.recorder.expect(total)

    def wants(self, k: int) -> bool:
        """Whether step k enters the history."""
        return self.recorder.wants(k)

    def progress(self, message: str) -> None:
        self.problem.progress(message)

    def evaluations(self) -> np.ndarray:
        """(n,) forward evaluations of each problem so far (zeros if none)."""
        if self._objective is None:
            return np.zeros(self.problem.train.n, dtype=np.int64)
        return self._objective.evaluations.cpu().numpy().copy()


def nonfinite(loss: np.ndarray, x: np.ndarray) -> np.ndarray:
    """(n,) bool: the final loss or any entry of the solution is not finite."""
    loss = np.asarray(loss, dtype=np.float64)
    x = np.asarray(x, dtype=np.float64).reshape(loss.shape[0], -1)
    return ~np.isfinite(loss) | ~np.isfinite(x).all(axis=1)


def final_status(status: np.ndarray, loss: np.ndarray, x: np.ndarray) -> np.ndarray:
    """The solver's statuses (int64) with NONFINITE wherever loss or solution is not finite."""
    out = np.asarray(status, dtype=np.int64).copy()
    out[nonfinite(loss, x)] = SolveStatus.NONFINITE
    return out


def problem_status(status: np.ndarray, loss: np.ndarray) -> np.ndarray:
    """Per-problem comparison status (int64, ``invnet.artifacts.STATUS_*``): nan / inf for a
    non-finite loss, failure for a finite loss whose solver status is FAILED or NONFINITE (a
    non-finite solution), else finite. Only finite problems count as a win, loss or tie."""
    loss = np.asarray(loss, dtype=np.float64)
    status = np.asarray(status, dtype=np.int64).reshape(loss.shape)
    out = np.full(loss.shape, PROBLEM_OK, dtype=np.int64)
    out[np.isin(status, (SolveStatus.FAILED, SolveStatus.NONFINITE))] = PROBLEM_FAILED
    out[np.isinf(loss)] = PROBLEM_INF
    out[np.isnan(loss)] = PROBLEM_NAN
    return out


def assemble(solver: Solver, outcome: Outcome, ctx: SolveContext) -> SolveResult:
    """The SolveResult of a finished run (see the module docstring)."""
    n = ctx.problem.train.n
    out = outcome.numpy(n)
    loss_history, history_step = ctx.recorder.history()
    status = final_status(out.status, out.loss, out.x)
    result = SolveResult(
        x=out.x,
        loss=out.loss,
        iterations=out.iterations,
        evaluations=ctx.evaluations(),
        loss_history=loss_history,
        history_step=history_step,
        status=status,
        problem_status=problem_status(status, out.loss),
        extras=out.extras,
        info={"settings": solver.to_dict(), **out.info},
    )
    result.check(n, ctx.family.dim)
    return result


def solve(solver: Solver, problem: SolveProblem) -> SolveResult:
    """Run ``solver`` on ``problem`` and return its result (the only way a solver is run)."""
    if solver.start_from is not None and problem.init is None:
        raise ValueError(f"{solver.describe()} starts from '{solver.start_from}': problem.init (its solutions) is missing")
    recorder = Recorder(problem.history_points, problem.progress, solver.describe())
    ctx = SolveContext(problem, recorder)
    outcome = solver.run(ctx)
    return assemble(solver, outcome, ctx)


__all__ = ["Recorder", "SolveContext", "assemble", "eta", "final_status", "nonfinite", "problem_status",
           "progress_line", "solve"]

