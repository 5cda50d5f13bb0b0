"""Solver blocks of the config: the registry, their resolution, their schema, building solvers.

The API the solve job and the config use:

- ``resolve_solvers(experiment, block, family) -> dict[str, ResolvedSolver]``: the whole
  ``experiments.<experiment>.solvers`` block validated, defaults filled, cross-checked (the
  baseline is present, ``start_from`` names a configured solver, no cycles, each method's
  ``check_family``); a ConfigError names the full key path.
- ``solvers_schema() -> dict``: the JSON schema of a ``solvers`` block (``invnet.config``).
- ``build_solver(name, settings) -> Solver``: the solver object of a resolved block (the job
  builds it from its params), to be run by ``invnet.solvers.driver.solve``.
- ``solver_info(name, settings) -> SolverInfo`` / ``solver_set(names, settings) -> SolverSet``:
  what tables and figures know about configured solvers.

A block's keys are its method's settings plus the composition keys (:mod:`.compose`):

| key | meaning |
|---|---|
| ``method`` | the registered per-problem or network method it runs (or ``package.module:Class``); implied for a registered name (``gd``: ``method: gd``) |
| ``start_from`` | refinement: start from that configured solver's solutions instead of x0 |
| ``starts`` | multi-start: K runs per problem (the shared start, then K − 1 prior draws), best kept |
| ``budget`` | multi-start only: the sizes k <= K of the budget curve (default 1, 2, 5, 10, ... below K, and K) |
| ``label`` | name in tables and legends (default: declared, else generated, e.g. "JPO + GD") |

A registered method's own name runs it plainly (``gd: {lr: 0.1}``); a composition or a second
variant of a method takes a new name (``jpo_gd: {method: gd, start_from: jpo}``,
``gd_multistart: {method: gd, starts: 10, budget: [1, 2, 5, 10]}``). Named compositions
(``bfgs_multistart``, ``jpo_bfgs``, ``supervised_bfgs``) fix their method and ``start_from``.
Refused: compositions of network methods, ``start_from`` naming an unconfigured solver, itself
or a cycle, ``budget`` without ``starts`` or with entries > ``starts``.

The resolved block (``ResolvedSolver.settings``, JSON) holds everything that defines a run:
``method``, the composition keys present and every method setting; ``label`` is presentation
only and kept apart (``ResolvedSolver.block`` adds it back for the config).

Registering: every module of ``invnet.solvers`` that defines a :class:`Solver` subclass with its
own ``name`` is registered; a class from elsewhere is named by import path in ``method`` or
added with :func:`register`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import ConfigError
from ..problems.base import ProblemFamily
from ..registry import discover, import_path, register_plugin, with_plugins
from ..solver_info import SolverInfo, SolverSet
from ..spec import object_schema
from .base import Solver
from .compose import (
    BUDGET_SPEC, STARTS_SPEC, MultiStart, Refine, Wrapper, canonical, check_budget, default_budget,
)

PACKAGE = __name__.rpartition(".")[0]
NAME_PATTERN = "^[a-zA-Z][a-zA-Z0-9_]*$"  # a solver name is a path component of run artifacts
REFINED_STYLE = (0, (4, 1.5))  # line style of a refinement (dashed), as jpo_bfgs
MULTISTART_STYLE = (0, (1, 1))  # line style of a multi-start (dotted), as bfgs_multistart

# ----------------------------------------------------------------------------- registry


def register(cls: type[Solver]) -> type[Solver]:
    """Register a Solver subclass defined outside ``invnet.solvers`` under its ``name`` (what
    the config's ``plugins`` list does for ``package.module:Class``)."""
    if not (isinstance(cls, type) and issubclass(cls, Solver) and "name" in vars(cls)):
        raise TypeError(f"register: {cls!r} is not a Solver subclass with its own name")
    known = discover(PACKAGE, Solver)
    if cls.name in known and known[cls.name] is not cls:
        raise RuntimeError(f"two solvers named '{cls.name}': {known[cls.name]} and {cls}")
    register_plugin("solver", cls.name, cls, "register")
    return cls


def solvers() -> dict[str, type[Solver]]:
    """Every registered solver class by name (methods and named compositions: the modules of
    this package and the solver plug-ins), in table order (``Solver.order``, then name)."""
    found = with_plugins("solver", discover(PACKAGE, Solver))
    return dict(sorted(found.items(), key=lambda kv: (kv[1].order, kv[0])))


def methods() -> dict[str, type[Solver]]:
    """The registered methods (not compositions), in table order."""
    return {n: c for n, c in solvers().items() if not issubclass(c, Wrapper)}


def solver_class(name: str, where: str = "solver") -> type[Solver]:
    """The solver class registered as ``name``; a ConfigError lists the allowed names otherwise."""
    registered = solvers()
    if name not in registered:
        raise ConfigError(where, f"unknown solver '{name}'; allowed: {', '.join(sorted(registered))}")
    return registered[name]


def method_class(method: str, where: str) -> type[Solver]:
    """The method class named by ``method``: a registered method or ``package.module:Class``."""
    if not isinstance(method, str) or not method:
        raise ConfigError(where, f"expected a method name, got {method!r}")
    if ":" in method:
        cls = import_path(method, Solver, where)
        if "name" not in vars(cls):
            raise ConfigError(where, f"'{method}' declares no name")
    else:
        registered = solvers()
        if method not in registered:
            raise ConfigError(where, f"unknown method '{method}'; allowed: {', '.join(methods())} "
                                     "or an import path package.module:Class")
        cls = registered[method]
    if issubclass(cls, Wrapper):
        raise ConfigError(where, f"'{method}' is a composition, not a method; allowed: {', '.join(methods())}")
    return cls


def baseline_name() -> str:
    """The name of the baseline method (``Solver.baseline``, declared once: BFGS)."""
    names = [n for n, c in solvers().items() if c.role("baseline")]
    if len(names) != 1:
        raise RuntimeError(f"exactly one solver must declare baseline = True, found {names}")
    return names[0]


# ----------------------------------------------------------------------------- one block


@dataclass(frozen=True)
class ParsedBlock:
    """One solver block, checked: its method, typed method settings and composition."""

    name: str
    declared: type[Solver] | None  # the registered class of ``name`` (method or named composition)
    method_cls: type[Solver]
    method: str  # as written: a registered name or an import path
    method_settings: Any  # method_cls.Settings
    start_from: str | None = None
    starts: int | None = None
    budget: tuple[int, ...] | None = None
    label: str = ""

    @property
    def composed(self) -> bool:
        return self.start_from is not None or self.starts is not None

    @property
    def settings(self) -> dict[str, Any]:
        """The JSON block that defines the run (no label)."""
        out: dict[str, Any] = {"method": self.method}
        if self.start_from is not None:
            out["start_from"] = self.start_from
        if self.starts is not None:
            out.update(starts=self.starts, budget=list(self.budget or ()))
        return canonical({**out, **self.method_settings.to_dict()})

    def build(self) -> Solver:
        """The solver object of this block."""
        inner = self.method_cls(self.method_settings)
        if self.declared is not None and issubclass(self.declared, Refine):
            return self.declared(inner)
        if self.declared is not None and issubclass(self.declared, MultiStart):
            return self.declared(inner, self.starts, list(self.budget))
        solver: Solver = inner
        if self.start_from is not None:
            solver = Refine(solver, self.start_from)
        if self.starts is not None:
            solver = MultiStart(solver, self.starts, list(self.budget))
        return solver


def _composition_example(name: str, method: str, key: str, start_from: str | None = None) -> str:
    """A config line that composes ``method`` with ``key`` under a new name (for error messages)."""
    example = {"start_from": "start_from: jpo", "starts": "starts: 10", "budget": "starts: 10, budget: [1, 10]"}[key]
    if start_from is not None and key != "start_from":
        example = f"start_from: {start_from}, {example}"
    suffix = {"start_from": "refined", "starts": "multistart", "budget": "multistart"}[key]
    return f"{name}_{suffix}: {{method: {method}, {example}}}"


def parse_block(experiment: str | None, name: str, raw: Mapping[str, Any] | None, where: str | None = None) -> ParsedBlock:
    """One solver block checked, defaults filled; errors name ``where.<key>`` (default
    ``experiments.<experiment>.solvers.<name>``, or ``solvers.<name>`` without an experiment)."""
    where = where or (f"experiments.{experiment}.solvers.{name}" if experiment else f"solvers.{name}")
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        raise ConfigError(where, f"expected a mapping, got {type(raw).__name__} {raw!r}"[:200])
    rest = dict(raw)
    label = rest.pop("label", "")
    if not isinstance(label, str):
        raise ConfigError(f"{where}.label", f"expected str, got {type(label).__name__} {label!r}")
    method = rest.pop("method", None)
    comp = {k: rest.pop(k) for k in ("start_from", "starts", "budget") if k in rest}
    registered = solvers()
    declared = registered.get(name)
    start_from = starts = budget = None
    if declared is not None and not issubclass(declared, Wrapper):  # a method under its own name
        if method is not None and method != name:
            raise ConfigError(f"{where}.method", f"got {method!r}; the block '{name}' runs '{name}' "
                                                 f"(another method needs another name); allowed: {name}")
        for key in comp:
            raise ConfigError(f"{where}.{key}", f"'{name}' runs the plain method; a composition needs a name "
                                                f"of its own, e.g. {_composition_example(name, name, key)}")
        method_cls, method = declared, name
        allowed = ("method", "label")
    elif declared is not None:  # a named composition: its method (and start) are declared
        method_cls = declared.method_cls
        if method is not None and method != method_cls.name:
            raise ConfigError(f"{where}.method", f"got {method!r}; '{name}' is a declared composition of "
                                                 f"'{method_cls.name}'; allowed: {method_cls.name}")
        allowed = ("method", "label", *declared.composition_keys)
        for key in comp:
            if key not in declared.composition_keys:
                fixed = getattr(declared, "fixed_start_from", None)
                raise ConfigError(f"{where}.{key}", f"'{name}' is a declared composition without {key}; give a new "
                                                    f"name, e.g. {_composition_example(name, method_cls.name, key, fixed)}")
        method = method_cls.name
        if issubclass(declared, Refine):
            fixed = declared.fixed_start_from
            if comp.get("start_from", fixed) != fixed:
                raise ConfigError(f"{where}.start_from", f"got {comp['start_from']!r}; '{name}' starts from "
                                                         f"'{fixed}' (declared); allowed: {fixed}")
            start_from = fixed
        if issubclass(declared, MultiStart):
            specs = declared.own_specs()  # the declared defaults (bfgs_multistart: 20, [1, 2, 5, 20])
            starts = STARTS_SPEC.check(comp.get("starts", specs["starts"].default), f"{where}.starts")
            budget = comp.get("budget", specs["budget"].default)
    else:  # a new name: a composition, or a method under another name
        if method is None:
            raise ConfigError(where, f"unknown key; allowed: {', '.join(sorted(registered))}, or a new name "
                                     f"with 'method' (e.g. {name}: {{method: gd, starts: 10}})")
        method_cls = method_class(method, f"{where}.method")
        allowed = ("method", "label", "start_from", "starts", "budget")
        start_from = comp.get("start_from")
        if "budget" in comp and "starts" not in comp:
            raise ConfigError(f"{where}.budget", "needs starts (a budget curve is over the starts of a multi-start)")
        if "starts" in comp:
            starts = STARTS_SPEC.check(comp["starts"], f"{where}.starts")
            budget = comp.get("budget", default_budget(starts))
    if start_from is not None:
        if not isinstance(start_from, str) or not start_from:
            raise ConfigError(f"{where}.start_from", f"expected the name of a configured solver, got {start_from!r}")
        if start_from == name:
            raise ConfigError(f"{where}.start_from", "a solver cannot start from itself")
    if starts is not None:
        budget = tuple(BUDGET_SPEC.check(budget, f"{where}.budget"))
        check_budget(starts, list(budget), where)
    if method_cls.network and (start_from is not None or starts is not None):
        key = "start_from" if start_from is not None else "starts"
        what = "start from another solver" if key == "start_from" else "multi-start"
        raise ConfigError(f"{where}.{key}", f"'{method}' is a network method (one network trained on all problems "
                                            f"from its own initialisation); it cannot {what}")
    unknown = sorted(set(rest) - set(method_cls.settings_spec))
    if unknown:
        keys = sorted({*method_cls.settings_spec, *allowed})
        raise ConfigError(f"{where}.{unknown[0]}", f"unknown key; allowed: {', '.join(keys)}")
    settings = method_cls.settings_from(rest, where)
    return ParsedBlock(name, declared, method_cls, method, settings, start_from, starts, budget, label)


# ----------------------------------------------------------------------------- roles


def _module(obj: Any) -> str:
    return obj.__module__


def _info(block: ParsedBlock, known: Mapping[str, SolverInfo]) -> SolverInfo:
    """The SolverInfo of a block; ``known``: infos of the other configured solvers (labels and
    orders of the solvers it starts from)."""
    m, d = block.method_cls, block.declared
    if d is not None:
        label, order, style = d.display_name(), float(d.order), dict(d.style)
    else:
        base = m.display_name()
        src = block.start_from
        src_label = known[src].label if src in known else (solvers()[src].display_name() if src in solvers() else src)
        src_order = known[src].order if src in known else (float(solvers()[src].order) if src in solvers() else 100.0)
        marker = {"marker": m.style["marker"]} if "marker" in m.style else {}
        color = {"color": m.style["color"]} if "color" in m.style else {}
        if src is not None and block.starts is not None:
            label, order = f"{src_label} + {base} multi-start", src_order + 5 + m.order / 1000 + 0.5
            style = {**color, **marker, "linestyle": MULTISTART_STYLE}
        elif src is not None:
            label, order = f"{src_label} + {base}", src_order + 5 + m.order / 1000
            style = {**color, **marker, "linestyle": REFINED_STYLE}
        elif block.starts is not None:
            label, order = f"{base} multi-start", m.order + 5.0
            style = {**color, **marker, "linestyle": MULTISTART_STYLE}
        else:  # the method under another name: its marker, a colour of its own (chosen by figures)
            label, order, style = f"{base} ({block.name})", m.order + 1.0, dict(marker)
    return SolverInfo(
        name=block.name,
        label=block.label or label,
        order=order,
        method=block.method,
        style=style,
        baseline=d is not None and d.role("baseline"),
        primary=d is not None and d.role("primary"),
        network=bool(m.network),
        start_from=block.start_from,
        starts=block.starts,
    )


def _code(block: ParsedBlock) -> tuple[str, ...]:
    """Modules whose source a run of this block depends on (code fingerprints)."""
    mods = [_module(block.declared)] if block.declared is not None else []
    mods.append(_module(block.method_cls))
    if block.composed:
        mods.append(f"{PACKAGE}.compose")
    mods.append(f"{PACKAGE}.driver")
    return tuple(dict.fromkeys(mods))


def _cost(block: ParsedBlock) -> float:
    if block.declared is not None:
        return float(block.declared.cost)
    return float(block.method_cls.cost) * (block.starts or 1)


@dataclass(frozen=True)
class ResolvedSolver:
    """One configured solver of an experiment, resolved."""

    name: str
    settings: dict[str, Any]  # everything that defines the run (JSON): method, composition, settings
    info: SolverInfo
    code: tuple[str, ...]  # module names whose source the run depends on (code fingerprints)
    start_from: str | None = None  # the solver whose run artifact it starts from
    cost: float = 1.0  # relative runtime per problem (resource estimates)
    label: str = field(default="", compare=False)  # a label given in config ("" if none)

    @property
    def block(self) -> dict[str, Any]:
        """The block as the resolved config holds it: ``settings`` plus a configured ``label``."""
        return {**self.settings, "label": self.label} if self.label else dict(self.settings)

    def build(self) -> Solver:
        """The solver object (as ``build_solver(name, settings)``)."""
        return build_solver(self.name, self.settings)


def _infos(blocks: Mapping[str, ParsedBlock]) -> dict[str, SolverInfo]:
    """Infos of ``blocks``, each after the solver it starts from (its label and order)."""
    out: dict[str, SolverInfo] = {}

    def visit(name: str, path: tuple[str, ...]) -> None:
        if name in out:
            return
        src = blocks[name].start_from
        if src in blocks and src not in path:
            visit(src, path + (name,))
        out[name] = _info(blocks[name], out)

    for name in blocks:
        visit(name, ())
    return {name: out[name] for name in blocks}


def resolve_solvers(experiment: str, block: Mapping[str, Any] | None, family: ProblemFamily) -> dict[str, ResolvedSolver]:
    """The ``solvers`` block of ``experiment`` validated, defaults filled and cross-checked (see
    the module docstring); ConfigError naming the full key path."""
    where = f"experiments.{experiment}.solvers"
    block = {} if block is None else block
    if not isinstance(block, Mapping):
        raise ConfigError(where, f"expected a mapping, got {type(block).__name__} {block!r}"[:200])
    for name in block:
        if not isinstance(name, str) or not re.match(NAME_PATTERN, name):
            raise ConfigError(f"{where}.{name}", "solver names are letters, digits and _, starting with a letter")
    baseline = baseline_name()
    if baseline not in block:
        raise ConfigError(where, f"must include '{baseline}' (the baseline)")
    parsed = {name: parse_block(experiment, name, raw) for name, raw in block.items()}
    for name, p in parsed.items():
        if p.start_from is None:
            continue
        if p.start_from not in parsed:
            key = f"{where}.{name}" if p.declared is not None else f"{where}.{name}.start_from"
            raise ConfigError(key, f"starts from '{p.start_from}', which is not configured")
        chain = [name]
        while parsed[chain[-1]].start_from is not None:
            nxt = parsed[chain[-1]].start_from
            if nxt in chain:
                raise ConfigError(f"{where}.{name}.start_from", f"start_from forms a cycle: {' -> '.join(chain + [nxt])}")
            chain.append(nxt)
    for name, p in parsed.items():
        p.method_cls.check_family(p.method_settings, family, f"{where}.{name}")
    infos = _infos(parsed)
    return {
        name: ResolvedSolver(name, p.settings, infos[name], _code(p), p.start_from, _cost(p), p.label)
        for name, p in parsed.items()
    }


def resolve_block(experiment: str, name: str, block: Mapping[str, Any] | None) -> dict[str, Any]:
    """The resolved JSON block of the registered solver ``name`` in ``experiment`` (defaults
    filled, composition keys included); errors name ``experiments.<experiment>.solvers.<name>.<key>``.
    (Config-layer code: no solver module imports it, so it stays out of run fingerprints.)"""
    return parse_block(experiment, name, block).settings


def build_solver(name: str, settings: Mapping[str, Any] | None = None) -> Solver:
    """The solver object of the configured solver ``name`` with its resolved ``settings``
    (``ResolvedSolver.settings``; a partial block gets its defaults)."""
    return parse_block(None, name, settings).build()


def get_solver(name: str, where: str = "solver") -> Solver:
    """The registered solver ``name`` with its default settings."""
    solver_class(name, where)
    return build_solver(name, {})


def solver_info(name: str, settings: Mapping[str, Any] | None = None) -> SolverInfo:
    """What tables and figures know about the configured solver ``name`` (``settings``: its
    resolved block; a refinement's generated label names its start by that solver's declared
    label; :func:`solver_set` uses the configured ones)."""
    return _info(parse_block(None, name, settings), {})


def solver_set(names: Iterable[str], settings: Mapping[str, Mapping[str, Any]] | None = None) -> SolverSet:
    """The SolverSet of the configured solvers ``names`` (``settings``: their resolved blocks)."""
    settings = settings or {}
    blocks = {n: parse_block(None, n, settings.get(n)) for n in names}
    return SolverSet(_infos(blocks).values())


# ----------------------------------------------------------------------------- schema


def _comp_schema() -> dict[str, dict[str, Any]]:
    def bare(spec) -> dict[str, Any]:
        out = spec.json_schema()
        out.pop("default", None)
        return out

    return {
        "start_from": {"type": "string", "pattern": NAME_PATTERN,
                       "description": "refinement: start from this configured solver's solutions instead of x0"},
        "starts": bare(STARTS_SPEC),
        "budget": {**bare(BUDGET_SPEC), "description": "multi-start only: sizes k <= starts of the budget curve "
                                                       "(default 1, 2, 5, 10, ... below starts, and starts)"},
    }


LABEL_SCHEMA = {"type": "string", "description": "name in tables and legends (default: declared or generated)"}


def _block_schema(cls: type[Solver], new_name: bool = False) -> dict[str, Any]:
    """The schema of a block running ``cls``: under its own name, or (``new_name``) a new one."""
    comp = _comp_schema()
    out = object_schema(cls.settings_spec, (cls.__doc__ or "").strip().splitlines()[0] if cls.__doc__ else "")
    props = out["properties"]
    if issubclass(cls, Wrapper):
        m = cls.method_cls
        props["method"] = {"type": "string", "enum": [m.name], "description": "the method it runs (declared)"}
        if issubclass(cls, Refine):
            props["start_from"] = {"type": "string", "enum": [cls.fixed_start_from],
                                   "description": "the solver whose solutions it starts from (declared)"}
    else:
        props["method"] = {"type": "string", "enum": [cls.name], "description": "the method it runs"}
        if new_name:
            props["method"] = {"type": "string", "const": cls.name, "description": "the method it runs"}
            props.update(comp)
    props["label"] = LABEL_SCHEMA
    return out


def solvers_schema() -> dict[str, Any]:
    """The JSON schema of a ``solvers`` block (keys and types; :func:`resolve_solvers` adds the
    cross-checks)."""
    registered = solvers()
    composition = {
        "type": "object",
        "description": "a new name: 'method' (a registered method or package.module:Class) and its settings, "
                       "optionally composed (start_from, starts, budget)",
        "properties": {"method": {"type": "string", "description": "the method it runs"}, "label": LABEL_SCHEMA,
                       **_comp_schema()},
        "allOf": [
            {"if": {"properties": {"method": {"const": n}}, "required": ["method"]}, "then": _block_schema(c, True)}
            for n, c in methods().items()
        ],
    }
    return {
        "type": "object",
        "description": f"solvers to run: the keys present select them; {baseline_name()} is required (the baseline)",
        "required": [baseline_name()],
        "properties": {name: _block_schema(cls) for name, cls in registered.items()},
        "additionalProperties": composition,
        "propertyNames": {"pattern": NAME_PATTERN},
        "dependentRequired": {
            n: [c.fixed_start_from] for n, c in registered.items() if issubclass(c, Refine) and c.fixed_start_from
        },
    }
