"""Solvers, looked up by the names used in config (``experiments.<exp>.solvers`` keys)."""

from __future__ import annotations

from ..errors import ConfigError
from .base import SolveContext, SolveResult, Solver
from .bfgs import BFGS, JPOBFGS, LBFGSB, SupervisedBFGS
from .gd import Adam, GradientDescent
from .network_training import JPO, Supervised

SOLVERS: dict[str, type[Solver]] = {
    cls.name: cls for cls in (BFGS, LBFGSB, GradientDescent, Adam, JPO, JPOBFGS, Supervised, SupervisedBFGS)
}


def get_solver(name: str, where: str = "solver") -> Solver:
    """The solver registered as ``name``; a ConfigError lists the allowed names otherwise."""
    if name not in SOLVERS:
        raise ConfigError(where, f"unknown solver '{name}'; allowed: {', '.join(sorted(SOLVERS))}")
    return SOLVERS[name]()


__all__ = ["SOLVERS", "SolveContext", "SolveResult", "Solver", "get_solver"]
