"""What aggregates, tables and figures know about the configured solvers of an experiment.

A :class:`SolverInfo` is one configured solver (one key of ``experiments.<e>.solvers``): its
name in paths and frames, its label, its place in tables and legends, its declared style and its
roles (the baseline every other solver is compared with, the method the paper's claim is about,
network methods, refinements and multi-starts). It comes from the solver's declarations (class
attributes and the composition in config), is computed once when the config is resolved and
reaches every job as JSON in its params, so no figure or table names a solver and a solver
defined outside the package appears in all of them.

A :class:`SolverSet` holds the solvers of one or several experiments in table order.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class SolverInfo:
    """One configured solver as tables and figures see it."""

    name: str  # the config key: its name in paths, frames and params
    label: str  # its name in tables and legends
    order: float  # its position in tables and legends (the baseline first)
    method: str  # the registered algorithm it runs (``bfgs`` for ``jpo_bfgs``)
    style: dict[str, Any] = field(default_factory=dict)  # declared colour, marker, linestyle
    baseline: bool = False  # the solver every other one is compared with (BFGS)
    primary: bool = False  # the method the paper's claim is about (JPO)
    network: bool = False  # trains one network over the whole problem set
    start_from: str | None = None  # refinement: starts from this solver's solutions
    starts: int | None = None  # multi-start: runs per problem (x0 and prior draws), best kept

    @property
    def from_x0(self) -> bool:
        """Whether it starts every problem at the shared x0 only (no refinement, no multi-start)."""
        return self.start_from is None and not self.starts

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SolverInfo:
        return cls(**dict(data))


class SolverSet(Mapping[str, SolverInfo]):
    """Solvers by name, in table order (``order``, then name)."""

    def __init__(self, infos: Iterable[SolverInfo | Mapping[str, Any]] = ()):
        items = [i if isinstance(i, SolverInfo) else SolverInfo.from_dict(i) for i in infos]
        merged: dict[str, SolverInfo] = {}
        for info in items:
            merged.setdefault(info.name, info)  # several experiments: the first declaration wins
        self._infos = dict(sorted(merged.items(), key=lambda kv: (kv[1].order, kv[0])))

    # --- Mapping
    def __getitem__(self, name: str) -> SolverInfo:
        return self._infos[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._infos)

    def __len__(self) -> int:
        return len(self._infos)

    def __repr__(self) -> str:
        return f"SolverSet({list(self._infos)})"

    # --- roles
    @property
    def baseline(self) -> str | None:
        """The name of the baseline solver (every comparison is against it), if configured."""
        return next((n for n, i in self._infos.items() if i.baseline), None)

    @property
    def primary(self) -> str | None:
        """The name of the method the paper's claim is about, if configured."""
        return next((n for n, i in self._infos.items() if i.primary), None)

    def select(self, names: Iterable[str] | None = None, **roles: Any) -> list[str]:
        """Names in table order, restricted to ``names`` if given and to solvers whose
        attributes or properties equal ``roles`` (e.g. ``network=True``, ``from_x0=True``)."""
        wanted = None if names is None else set(names)
        return [
            n for n, i in self._infos.items()
            if (wanted is None or n in wanted) and all(getattr(i, k) == v for k, v in roles.items())
        ]

    def order(self, values: Iterable[str]) -> list[str]:
        """The distinct names of ``values`` in table order; names not in the set last, sorted."""
        distinct = list(dict.fromkeys(str(v) for v in values))
        known = [n for n in self._infos if n in distinct]
        return known + sorted(v for v in distinct if v not in self._infos)

    def rank(self, name: str) -> int:
        """Position of ``name`` in table order (names not in the set after all others)."""
        names = list(self._infos)
        return names.index(name) if name in self._infos else len(names)

    def label(self, name: str) -> str:
        """The solver's label; its name if it is not in the set."""
        info = self._infos.get(name)
        return info.label if info is not None else name

    def chain(self, name: str) -> list[str]:
        """``name`` and the solvers it starts from, transitively (``jpo_bfgs`` -> ``jpo``)."""
        out = [name]
        while out[-1] in self._infos and self._infos[out[-1]].start_from is not None:
            nxt = self._infos[out[-1]].start_from
            if nxt in out:
                break
            out.append(nxt)
        return out

    # --- JSON
    def to_list(self) -> list[dict[str, Any]]:
        return [i.to_dict() for i in self._infos.values()]

    @classmethod
    def merge(cls, *sets: Iterable[SolverInfo | Mapping[str, Any]]) -> SolverSet:
        return cls([i for s in sets for i in (s.values() if isinstance(s, SolverSet) else s)])
