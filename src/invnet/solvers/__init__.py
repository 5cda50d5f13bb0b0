"""Solvers, looked up by the names used in config (``experiments.<exp>.solvers`` keys).

Every module of this package that defines a :class:`Solver` subclass with its own ``name`` is
registered (a class from elsewhere: ``method: package.module:Class`` or :func:`register`).

The API (details in the modules):

- :mod:`.base`: ``Solver`` (typed ``Settings`` generated from ``settings_spec``; ``run(ctx) ->
  Outcome``), ``SolveProblem``, ``SolveResult``, ``SolveStatus``;
- :mod:`.driver`: ``solve(solver, problem) -> SolveResult`` (the one driver), ``SolveContext``,
  ``Recorder``;
- :mod:`.compose`: ``Refine`` (``start_from``) and ``MultiStart`` (``starts``, ``budget``) over
  any per-problem method;
- :mod:`.resolve`: ``resolve_solvers(experiment, block, family) -> dict[str, ResolvedSolver]``,
  ``resolve_block(experiment, name, block)``, ``solvers_schema()``, ``build_solver(name, settings)``, ``solver_info(name, settings)``,
  ``solver_set(names, settings)``, ``baseline_name()``.
"""

from __future__ import annotations

from .base import Outcome, SolveProblem, SolveResult, SolveStatus, SOLVE_STATUS_NAMES, Solver
from .driver import Recorder, SolveContext, solve
from .resolve import (
    ResolvedSolver, baseline_name, build_solver, get_solver, method_class, methods, register, resolve_block,
    resolve_solvers,
    solver_class, solver_info, solver_set, solvers, solvers_schema,
)

__all__ = [
    "Outcome", "Recorder", "ResolvedSolver", "SOLVE_STATUS_NAMES", "SolveContext", "SolveProblem", "SolveResult",
    "SolveStatus", "Solver", "baseline_name", "build_solver", "get_solver", "method_class", "methods", "register",
    "resolve_block", "resolve_solvers", "solve", "solver_class", "solver_info", "solver_set", "solvers", "solvers_schema",
]
