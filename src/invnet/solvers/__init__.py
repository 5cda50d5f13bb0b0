"""Solvers, looked up by the names used in config (``experiments.<exp>.solvers`` keys). Every module
of this package that defines a :class:`Solver` subclass with its own ``name`` is registered."""

from __future__ import annotations

from collections.abc import Iterable

from ..errors import ConfigError
from ..registry import discover
from ..solver_info import SolverInfo, SolverSet
from .base import SolveContext, SolveResult, Solver


def solvers() -> dict[str, type[Solver]]:
    """Every registered solver class by name, in table order (``Solver.order``, then name)."""
    found = discover(__name__, Solver)
    return dict(sorted(found.items(), key=lambda kv: (kv[1].order, kv[0])))


def solver_class(name: str, where: str = "solver") -> type[Solver]:
    """The solver class registered as ``name``; a ConfigError lists the allowed names otherwise."""
    registered = solvers()
    if name not in registered:
        raise ConfigError(where, f"unknown solver '{name}'; allowed: {', '.join(sorted(registered))}")
    return registered[name]


def get_solver(name: str, where: str = "solver") -> Solver:
    """An instance of the solver registered as ``name``."""
    return solver_class(name, where)()


def solver_info(name: str, settings: dict | None = None) -> SolverInfo:
    """What tables and figures know about the configured solver ``name`` (provisional: from the
    registered class's declarations)."""
    cls = solver_class(name)
    from .network_training import _NetworkSolver

    return SolverInfo(
        name=name, label=cls.display_name(), order=cls.order, method=name, style=dict(cls.style),
        baseline=name == "bfgs", primary=name == "jpo", network=issubclass(cls, _NetworkSolver),
        start_from=cls.needs, starts=(settings or {}).get("starts"),
    )


def solver_set(names: Iterable[str], settings: dict[str, dict] | None = None) -> SolverSet:
    """The SolverSet of the configured solvers ``names`` (``settings``: their resolved blocks)."""
    return SolverSet(solver_info(n, (settings or {}).get(n)) for n in names)


__all__ = ["SolveContext", "SolveResult", "Solver", "get_solver", "solver_class", "solver_info", "solver_set", "solvers"]
