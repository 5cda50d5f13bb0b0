"""Tables rendered from artifacts only, one module per table (Table 2, Table 4, ...).

A module here that defines ``TABLE = TableSpec(...)`` is a table: the workflow renders it as CSV,
LaTeX (booktabs), Markdown and HTML (the report's view) and gives it a named target. See :mod:`invnet.tables.base`; the
formatting helpers (booktabs, Markdown, numbers) are in :mod:`invnet.tables.render`.
"""

from __future__ import annotations

from ..registry import discover_named, with_plugins
from .base import Rendered, TableInputs, TableSpec, write_table


def tables() -> dict[str, TableSpec]:
    """Every registered table by name: the ``TABLE`` of each module of this package and the
    table plug-ins of the config (``plugins``)."""
    return dict(sorted(with_plugins("table", discover_named(__name__, "TABLE")).items()))


__all__ = ["Rendered", "TableInputs", "TableSpec", "tables", "write_table"]
