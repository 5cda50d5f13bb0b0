"""Robustness sweeps (docs/experiments.md §2.6): does the verdict survive the budget?

A sweep is a config block ``sweeps.<name>`` that varies ONE thing of one configured experiment
(its *base*) and asks, at every value, on what fraction of the problems the primary method (JPO)
beats the baseline (BFGS) and the matched-cost multi-start of the baseline. What it varies
(``over``):

- ``steps``: the primary method's training length, read from its ``checkpoints`` within one run
  at ``n`` (a value equal to its ``steps`` is the run's final state, which with
  ``until: converged`` is the converged one);
- ``n``: the experiment's training-set sizes (default: all of them), at the configured training;
- a scalar parameter of the family (e.g. ``horizon``, ``noise``): each value is a *sweep point*,
  an experiment derived from the base by changing that parameter and nothing else (name
  ``<base>_<param><value>``, sizes ``[n]``, the base's problem draws: ``draws``); the base
  experiment itself stands for its own value where it has ``n``.

Fairness (docs/experiments.md §2.6): a sweep never changes a solver block: every sweep point runs
the base experiment's solvers with their declared settings, the classical side included, and the
multi-start comparison takes, per problem, the fewest starts whose evaluations reach the primary
method's (:mod:`invnet.sweep_frame`).

This module is the config layer (declarations, checks, expansion into points) and the plan's view
(which runs a sweep reads). The computation is :mod:`invnet.sweep_frame`, the figure
:mod:`invnet.figures.claim_map`, the generated docs section :mod:`invnet.claims`.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from typing import Any

from .errors import ConfigError
from .spec import REQUIRED, ParamSpec, object_schema, resolve

# The frames the sweep job writes per base experiment (results/aggregate/{experiment}/{name}.csv)
SWEEP_TABLES = ("sweep", "sweep_summary")
BUILT_IN = ("steps", "n")  # what a sweep varies besides a family parameter

SWEEP_SPECS: dict[str, ParamSpec] = {
    "experiment": ParamSpec(REQUIRED, str, doc="the configured experiment the sweep varies (its base)"),
    "over": ParamSpec(
        REQUIRED, str,
        doc="what varies: steps (the primary method's training length, from its checkpoints), n, "
        "or a scalar parameter of the family (e.g. horizon, noise)",
    ),
    "values": ParamSpec(
        [], (int, float), length=0, unique=True,
        doc="the swept values (over: n: default all of the experiment's sizes; else required)",
    ),
    "n": ParamSpec(0, int, minimum=0, doc="the n of a steps or parameter sweep (0: the middle of the experiment's sizes)"),
}


def sweeps_schema() -> dict[str, Any]:
    """The JSON schema of the ``sweeps`` block."""
    return {
        "type": "object",
        "description": "robustness sweeps: each varies one thing of one experiment (docs/experiments.md §2.6)",
        "additionalProperties": object_schema(SWEEP_SPECS, "one sweep"),
        "propertyNames": {"pattern": "^[A-Za-z][A-Za-z0-9_]*$"},
    }


def slug(value: float | int) -> str:
    """A value as part of an experiment name: 5 -> '5', 0.03 -> '0p03', -1.5 -> 'm1p5'."""
    text = f"{value:g}" if isinstance(value, float) else str(value)
    return text.replace("-", "m").replace(".", "p").replace("+", "")


def roles(block: Mapping[str, Any]) -> dict[str, str | None]:
    """The primary, baseline and multi-start-of-the-baseline solver names of a resolved
    experiment block (None where it has none; the first multi-start in table order)."""
    from .solvers.resolve import solver_set

    solvers = solver_set(block["solvers"], block["solvers"])
    baseline = solvers.baseline
    method = solvers[baseline].method if baseline else None
    multi = [s for s, info in solvers.items() if info.starts and info.method == method and info.start_from is None]
    return {"primary": solvers.primary, "baseline": baseline, "multistart": multi[0] if multi else None}


def resolve_sweeps(
    raw: Mapping[str, Any] | None,
    experiments: Mapping[str, dict[str, Any]],
    resolve_experiment: Callable[[str, dict[str, Any]], dict[str, Any]],
) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
    """(resolved sweeps, derived experiments): every sweep checked (ConfigError naming
    ``sweeps.<name>.<key>``), its ``values`` and ``n`` filled in; the sweep points that are new
    experiments as resolved blocks (resolved with the config's ``resolve_experiment``), to be
    added to the config's experiments. ``experiments``: the resolved experiments; a derived one
    already there (a resolved config resolved again) must equal what the sweep derives."""
    out: dict[str, dict[str, Any]] = {}
    derived: dict[str, dict[str, Any]] = {}
    for name, block in (raw or {}).items():
        where = f"sweeps.{name}"
        s = resolve(SWEEP_SPECS, block, where)
        base = s["experiment"]
        if base not in experiments:
            raise ConfigError(f"{where}.experiment", f"got {base!r}; allowed: {', '.join(experiments)}")
        exp = experiments[base]
        r = roles(exp)
        if r["primary"] is None:
            raise ConfigError(f"{where}.experiment", f"experiments.{base} runs no primary method (jpo); a sweep "
                                                     "measures where it beats the baseline")
        if r["multistart"] is None:
            raise ConfigError(f"{where}.experiment", f"experiments.{base} has no multi-start of {r['baseline']}, the "
                                                     f"matched-cost baseline; add e.g. {r['baseline']}_multistart: "
                                                     "{starts: 100}")
        sizes = sorted(exp["n"])
        s["n"] = s["n"] or sizes[len(sizes) // 2]
        over = s["over"]
        if over == "n":
            s["values"] = sorted(s["values"] or sizes)
            missing = [v for v in s["values"] if v not in sizes]
            if missing:
                raise ConfigError(f"{where}.values", f"{missing} not among experiments.{base}.n {sizes}")
        elif not s["values"]:
            raise ConfigError(f"{where}.values", "required: the swept values (a non-empty list)")
        elif over == "steps":
            s["values"] = sorted(int(v) if float(v).is_integer() else v for v in s["values"])
            _check_steps(where, base, exp, r["primary"], s["values"], s["n"], sizes)
        else:
            s["values"] = sorted(s["values"])
            for point, block in _derive(where, base, exp, over, s["values"], s["n"]).items():
                if point in derived:  # a second sweep on the same point: one experiment, the sizes merged
                    block["n"] = sorted({*derived[point]["n"], *block["n"]})
                try:
                    derived[point] = resolve_experiment(point, block)
                except ConfigError as err:
                    raise ConfigError(f"{where}.values", f"{block['problem'][over]!r}: {err.message} ({err.key})") from None
        out[name] = s
    for point, block in derived.items():
        if point in experiments and experiments[point] != block:
            raise ConfigError(f"experiments.{point}", f"is the name of a point of a sweep of "
                                                      f"experiments.{block['draws']}; rename that experiment")
    return out, derived


def _check_steps(where: str, base: str, exp: Mapping[str, Any], primary: str, values: list, n: int,
                 sizes: list[int]) -> None:
    settings = exp["solvers"][primary]
    if n not in sizes:
        raise ConfigError(f"{where}.n", f"got {n}; over: steps reads the runs of experiments.{base}; allowed: {sizes}")
    if "checkpoints" not in settings:
        raise ConfigError(f"{where}.over", f"experiments.{base}.solvers.{primary} records no checkpoints "
                                           "(not a network method); allowed: n or a family parameter")
    reachable = sorted({*settings["checkpoints"], settings["steps"]})
    missing = [v for v in values if v not in reachable]
    if missing:
        raise ConfigError(f"{where}.values", f"{missing} are no checkpoints of experiments.{base}.solvers.{primary} "
                                             f"(reachable: {reachable}); add them to its checkpoints")


def _derive(where: str, base: str, exp: Mapping[str, Any], param: str, values: list, n: int) -> dict[str, dict]:
    """The unresolved blocks of the sweep points of a parameter sweep that are new experiments."""
    from .problems import family_class

    specs = family_class(exp["family"]).params_spec
    scalars = [k for k, p in specs.items() if p.length is None and p.numeric]
    if param not in scalars:
        raise ConfigError(f"{where}.over", f"got {param!r}; allowed: {', '.join([*BUILT_IN, *scalars])}")
    out = {}
    for value in values:
        point = point_name(base, exp, param, value, n)
        if point == base:
            continue
        block = copy.deepcopy(exp)
        block["problem"][param] = value
        block.update(n=[n], label=f"{exp['label']}, {param} = {value:g}", draws=exp.get("draws") or base)
        out[point] = block
    return out


def point_name(base: str, exp: Mapping[str, Any], param: str, value: Any, n: int) -> str:
    """The experiment that holds value ``value`` of a parameter sweep: the base itself where the
    value is its own and it has ``n``, else the derived ``<base>_<param><value>``."""
    if value == exp["problem"][param] and n in exp["n"]:
        return base
    return f"{base}_{param}{slug(value)}"


def points(sweep: Mapping[str, Any], experiments: Mapping[str, Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Every point of a resolved sweep: {value, experiment (the one whose runs hold it), n}."""
    base, exp, over, n = sweep["experiment"], experiments[sweep["experiment"]], sweep["over"], sweep["n"]
    if over == "n":
        return [{"value": v, "experiment": base, "n": v} for v in sweep["values"]]
    if over == "steps":
        return [{"value": v, "experiment": base, "n": n} for v in sweep["values"]]
    return [{"value": v, "experiment": point_name(base, exp, over, v, n), "n": n} for v in sweep["values"]]


def sweeps_of(config: Mapping[str, Any], experiment: str) -> dict[str, dict[str, Any]]:
    """The resolved sweeps whose base is ``experiment``, in config order."""
    return {k: v for k, v in (config.get("sweeps") or {}).items() if v["experiment"] == experiment}


def sweep_runs(sweep: Mapping[str, Any], experiments: Mapping[str, Mapping[str, Any]]) -> list[tuple[str, str, int, int]]:
    """(experiment, solver, n, seed) of every run a sweep reads: the primary, baseline and
    multi-start runs at every point, every seed of the point's experiment."""
    r = roles(experiments[sweep["experiment"]])
    out = []
    for point in points(sweep, experiments):
        seeds = sorted(experiments[point["experiment"]]["seeds"])
        for solver in (r["primary"], r["baseline"], r["multistart"]):
            out += [(point["experiment"], solver, point["n"], seed) for seed in seeds]
    return list(dict.fromkeys(out))


__all__ = [
    "SWEEP_SPECS", "SWEEP_TABLES", "point_name", "points", "resolve_sweeps", "roles", "slug", "sweep_runs",
    "sweeps_of", "sweeps_schema",
]
