"""Solvers, looked up by the names used in config (``experiments.<exp>.solvers`` keys). Every module
of this package that defines a :class:`Solver` subclass with its own ``name`` is registered."""

from __future__ import annotations

from ..errors import ConfigError
from ..registry import discover
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


__all__ = ["SolveContext", "SolveResult", "Solver", "get_solver", "solver_class", "solvers"]
