"""Plug-ins from outside the package, named in the config's ``plugins`` list by import path
``package.module:Object``: a family or solver class, or a module-level ``FigureSpec``,
``TableSpec`` or ``StudySpec``. Each registers under its own ``name``, next to the plug-ins that
live in the package, so a user's own study needs no edit inside ``src/``. The module must be
importable where the jobs run (installed, or its folder on ``PYTHONPATH``).
"""

from __future__ import annotations

import inspect
from typing import Any

from .errors import ConfigError
from .registry import import_path, register_plugin


def _kind_of(obj: Any) -> str | None:
    """The plug-in kind of ``obj``: a ProblemFamily or Solver subclass, or a FigureSpec,
    TableSpec or StudySpec declaration; None if it is none of them."""
    from .figures.base import FigureSpec
    from .problems.base import ProblemFamily
    from .solvers.base import Solver
    from .studies.base import StudySpec
    from .tables.base import TableSpec

    if inspect.isclass(obj):
        if issubclass(obj, ProblemFamily):
            return "family"
        if issubclass(obj, Solver):
            return "solver"
        return None
    for kind, cls in (("figure", FigureSpec), ("table", TableSpec), ("study", StudySpec)):
        if isinstance(obj, cls):
            return kind
    return None


def load_plugins(paths: list[str], where: str = "plugins") -> None:
    """Import and register every plug-in named in ``paths`` (``package.module:Object``: a family
    or solver class, or a module-level ``FigureSpec``/``TableSpec``/``StudySpec``) under its
    ``name``. Idempotent; ConfigError naming ``plugins[i]`` for a path that is not a plug-in."""
    for i, path in enumerate(paths):
        at = f"{where}[{i}]"
        obj = import_path(path, None, at)
        kind = _kind_of(obj)
        if kind is None:
            raise ConfigError(at, f"'{path}' is not a family or solver class, nor a FigureSpec, "
                                  "TableSpec or StudySpec")
        name = getattr(obj, "name", None)
        if not isinstance(name, str) or not name:
            raise ConfigError(at, f"'{path}' declares no name")
        register_plugin(kind, name, obj, at)


