"""Table 1: the experiments overview, one row per experiment: the family, its unknowns (names,
shared start x0, box), the problem-set sizes n, the seeds, the held-out test-set size, the noise
on the targets, and the steps or iterations each solver spent.

Read only from the artifacts, never from the config: the problem description recorded in every
data artifact (attribute ``problem``: family, ``param_names``, ``x0``, ``bounds``, ``noise``),
their ``n``, ``seed`` and ``n_test``, and each run artifact's ``iterations`` and
``solve_status`` datasets, so the table says what was run, not what was meant to be.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd

from ..solver_info import SolverSet
from .base import Rendered, TableInputs, TableSpec
from .reading import DataRecord, RunRecord, experiment_order, json_value, read_data, read_runs
from .render import label_text, latex_escape, number, stacked_cell

BUDGET = 1  # SolveStatus.BUDGET: stopped at its iteration / step budget (run dataset solve_status)
DATASETS = ("iterations", "solve_status")


def _distinct(values: list[Any]) -> list[Any]:
    """The distinct values of ``values`` (compared as JSON), in order of appearance."""
    seen: dict[str, Any] = {}
    for v in values:
        seen.setdefault(json_value(v), v)
    return list(seen.values())


def _one(values: list[Any]) -> Any:
    """The value all artifacts agree on, else ``{"differs": [their distinct values]}`` (data
    artifacts of one experiment drawn under different descriptions: shown, not hidden)."""
    distinct = _distinct(values)
    if not distinct:
        return None
    return distinct[0] if len(distinct) == 1 else {"differs": distinct}


def _scalar(value: Any) -> Any:
    """A scalar field as recorded; the distinct values as text 'a / b' if they differ."""
    return _text(value) if isinstance(value, dict) else value


def iteration_stats(runs: list[RunRecord]) -> dict[str, float]:
    """Median and maximum of ``iterations`` over every problem of ``runs`` (all n and seeds),
    and the fraction of problems that stopped at their budget (``solve_status`` 1)."""
    its = np.concatenate([np.asarray(r.datasets["iterations"], dtype=np.float64).ravel()
                          for r in runs if "iterations" in r.datasets] or [np.empty(0)])
    status = [np.asarray(r.datasets["solve_status"]).ravel() for r in runs if "solve_status" in r.datasets]
    at_budget = float(np.mean(np.concatenate(status) == BUDGET)) if status else float("nan")
    if its.size == 0:
        return {"iterations_median": float("nan"), "iterations_max": float("nan"), "at_budget": at_budget}
    return {"iterations_median": float(np.median(its)), "iterations_max": float(its.max()), "at_budget": at_budget}


def numeric(data: list[DataRecord], runs: list[RunRecord], experiments: list[str], solvers: SolverSet) -> pd.DataFrame:
    """One row per experiment with artifacts. List-valued fields (unknowns, n, seeds, x0,
    bounds) are JSON (``{"differs": [...]}`` where the data artifacts disagree); per solver
    ``s``: ``s.iterations_median``, ``s.iterations_max`` (over every problem, n and seed) and
    ``s.at_budget`` (fraction of problems stopped at the budget)."""
    rows = []
    for e in experiment_order(experiments, [d.experiment for d in data] + [r.experiment for r in runs]):
        mine = [d for d in data if d.experiment == e]
        problems = [d.problem for d in mine]
        row: dict[str, Any] = {
            "experiment": e,
            "family": _scalar(_one([p.get("family") for p in problems])),
            "unknowns": json_value(_one([p.get("param_names") for p in problems])),
            "n": json_value(sorted({d.n for d in mine})),
            "seeds": json_value(sorted({d.seed for d in mine})),
            "n_test": _scalar(_one([d.n_test for d in mine])),
            "noise": _scalar(_one([p.get("noise") for p in problems])),
            "x0": json_value(_one([p.get("x0") for p in problems])),
            "bounds": json_value(_one([p.get("bounds") for p in problems])),
        }
        ran = [r for r in runs if r.experiment == e]
        for s in solvers.order(r.solver for r in ran):
            for key, value in iteration_stats([r for r in ran if r.solver == s]).items():
                row[f"{s}.{key}"] = value
        rows.append(row)
    return pd.DataFrame(rows)


# ------------------------------------------------------------------------------ display


def _text(value: Any) -> str:
    """A recorded value as text: numbers as :func:`number`, lists in brackets, the distinct
    values of a field the artifacts disagree on joined by ' / '."""
    if isinstance(value, dict) and "differs" in value:
        return " / ".join(_text(v) for v in value["differs"])
    if isinstance(value, list):
        return "[" + ", ".join(_text(v) for v in value) + "]"
    return number(value)


def _unknown_lines(rec: dict[str, Any], latex: bool) -> list[str]:
    """'name = x0 ∈ [lo, hi]' per unknown; the raw fields if the artifacts disagree."""
    names, x0, bounds = (json.loads(rec[k]) for k in ("unknowns", "x0", "bounds"))
    esc = latex_escape if latex else str
    into = r" $\in$ " if latex else " ∈ "
    ok = (isinstance(names, list) and all(isinstance(n, str) for n in names) and isinstance(x0, list)
          and len(x0) == len(names) and all(not isinstance(v, list) for v in x0)
          and isinstance(bounds, list) and len(bounds) == len(names))
    if not ok:  # not one description (artifacts of differing descriptions) or none recorded
        return [esc(f"unknowns {_text(names)}"), esc(f"x0 {_text(x0)}"), esc(f"bounds {_text(bounds)}")]
    return [esc(f"{n} = {number(v)}") + into + esc(_text(b)) for n, v, b in zip(names, x0, bounds)]


def _seeds(seeds: list[int]) -> str:
    """'0–4' for a run of consecutive seeds, else the list."""
    if len(seeds) > 2 and seeds == list(range(seeds[0], seeds[-1] + 1)):
        return f"{seeds[0]}–{seeds[-1]}"
    return ", ".join(str(s) for s in seeds)


def _steps_line(label: str, rec: dict[str, Any], solver: str, network: bool) -> str:
    """'JPO: 2000 steps' (networks), 'GD: 1000 (budget)' (every problem ran its budget), 'BFGS: 9
    (max 61, 2% at budget)' (per-problem methods: median, max, share stopped at the budget)."""
    med, mx, at = (rec.get(f"{solver}.{k}", float("nan")) for k in ("iterations_median", "iterations_max", "at_budget"))
    if med != med:
        return f"{label}: –"
    if network:
        return f"{label}: {number(int(mx))} steps" if med == mx else f"{label}: {number(med)} steps (max {number(int(mx))})"
    if med == mx and at == 1:
        return f"{label}: {number(int(mx))} (budget)"
    notes = [] if med == mx else [f"max {number(int(mx))}"]
    if at == at and at > 0:
        notes.append(f"{'<1' if at < 0.005 else f'{100 * at:.0f}'}% at budget")
    return f"{label}: {number(med)}" + (f" ({', '.join(notes)})" if notes else "")


def display(table: pd.DataFrame, inputs: TableInputs, latex: bool) -> pd.DataFrame:
    esc = latex_escape if latex else str
    rows = []
    for rec in table.to_dict("records"):
        solvers = [c[: -len(".iterations_median")] for c in rec if c.endswith(".iterations_median")
                   and rec[c] == rec[c]]
        solvers = inputs.solvers.order(solvers)
        steps = [esc(_steps_line(inputs.solvers.label(s), rec, s,
                                 s in inputs.solvers and inputs.solvers[s].network)) for s in solvers]
        seeds = json.loads(rec["seeds"])
        rows.append({
            "Experiment": label_text(inputs.label(rec["experiment"]), latex),
            "Family": esc(number(rec["family"])),
            "Unknowns: x0 ∈ bounds" if not latex else r"Unknowns: $x_0 \in$ bounds":
                stacked_cell(_unknown_lines(rec, latex), latex),
            "n": esc(", ".join(str(n) for n in json.loads(rec["n"]))),
            "Seeds": (esc(_seeds(seeds)).replace("–", "--") if latex else _seeds(seeds)),
            "Test": esc(number(rec["n_test"])),
            "Noise": esc(number(rec["noise"])),
            "Steps / iterations": stacked_cell(steps, latex),
        })
    columns = ["Experiment", "Family", r"Unknowns: $x_0 \in$ bounds" if latex else "Unknowns: x0 ∈ bounds",
               "n", "Seeds", "Test", "Noise", "Steps / iterations"]
    return pd.DataFrame(rows, columns=columns)


def caption(latex: bool) -> str:
    x0 = r"$x_0$" if latex else "x0"
    pct = r"\%" if latex else "%"
    return (
        f"Experiments as run, read from the data and run artifacts (not the config). Unknowns: the "
        f"parameters x of F with the shared start {x0} and the box of each (networks' outputs are "
        f"scaled to it); n: problem-set sizes; Seeds: the problem sets drawn per n; Test: held-out "
        f"problems per seed; Noise: standard deviation of the Gaussian noise added to the targets y* "
        f"(the family's noise setting; – if it has none). Steps / iterations: for network methods "
        f"the training steps (full batch: each step evaluates every problem once); for per-problem "
        f"methods the iterations each problem used, median (max) over every problem, n and seed, and "
        f"the {pct} of problems that stopped at the method's budget (the budget itself, maxiter or "
        f"steps, is in Table 5; '(budget)': every problem ran all of it). A refinement counts its own "
        f"iterations only, a multi-start those of the start it kept."
    )


def render(inputs: TableInputs) -> Rendered:
    table = numeric(read_data(inputs.data), read_runs(inputs.runs, DATASETS), inputs.experiments, inputs.solvers)
    return Rendered.of(table, lambda latex: display(table, inputs, latex), lambda latex: caption(latex=latex),
                       "tab:experiments", "lllllrll")


TABLE = TableSpec(
    name="table1",
    doc="Table 1: experiments overview (family, unknowns with x0 and bounds, n, seeds, test set, noise, "
        "steps or iterations per solver), read from the artifacts",
    render=render,
    reads=(),
    artifacts=("data", "runs"),
)
