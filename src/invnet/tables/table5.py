"""Table 5: the hyper-parameters every method actually ran with in every experiment, read from
each run artifact's recorded ``config`` attribute (``config["solver"]``: the resolved settings,
defaults filled in, composition keys such as ``start_from`` and ``starts`` included), never
from the config file. One row per (experiment, solver); a setting whose value differs between
the runs (seeds or n) shows every distinct value, and the note says which runs hold which.

Generic: whatever keys a solver records are shown, so a solver defined outside the package gets
its own settings listed without this module knowing them.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import pandas as pd

from ..solver_info import SolverSet
from .base import Rendered, TableInputs, TableSpec
from .reading import RunRecord, experiment_order, json_value, read_runs
from .render import label_text, latex_escape, number, stacked_cell

FIRST = ("method", "start_from", "starts", "budget")  # the composition first, then the method's own settings
MISSING = "(not recorded)"  # a setting some runs of a solver record and others do not
LINE_WIDTH = 44  # characters per line of the settings cell


def _value_text(value: Any) -> str:
    """A recorded setting as text: numbers as :func:`number`, lists in brackets."""
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_value_text(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_value_text(v)}" for k, v in value.items()) + "}"
    return "none" if value is None else number(value)


def _runs_text(runs: Sequence[tuple[int, int]]) -> str:
    """'n=8 (seeds 0, 1), n=16 (seed 0)' for (n, seed) pairs."""
    parts = []
    for n in sorted({n for n, _ in runs}):
        seeds = sorted(s for m, s in runs if m == n)
        parts.append(f"n={n} (seed{'s' if len(seeds) > 1 else ''} {', '.join(str(s) for s in seeds)})")
    return ", ".join(parts)


def _order(keys: Sequence[str]) -> list[str]:
    return [k for k in FIRST if k in keys] + sorted(k for k in keys if k not in FIRST)


def numeric(runs: list[RunRecord], experiments: Sequence[str], solvers: SolverSet) -> pd.DataFrame:
    """One row per (experiment, solver, setting): ``value`` (JSON; the list of distinct values
    if the runs disagree), ``n_runs``, ``agree`` and, where they disagree, ``runs``: which runs
    hold which value ('0.001 in n=8 (seeds 0, 1); 0.003 in n=16 (seed 0)')."""
    rows = []
    for e in experiment_order(experiments, [r.experiment for r in runs]):
        mine = [r for r in runs if r.experiment == e]
        for s in solvers.order(r.solver for r in mine):
            group = sorted((r for r in mine if r.solver == s), key=lambda r: (r.n, r.seed))
            keys = _order(sorted({k for r in group for k in r.settings}))
            for key in keys:
                by_value: dict[str, list[tuple[int, int]]] = {}
                for r in group:
                    text = json_value(r.settings[key]) if key in r.settings else json_value(MISSING)
                    by_value.setdefault(text, []).append((r.n, r.seed))
                values = [json.loads(v) for v in by_value]
                agree = len(values) == 1
                rows.append({
                    "experiment": e, "solver": s, "setting": key,
                    "value": json_value(values[0] if agree else values),
                    "n_runs": len(group), "agree": agree,
                    "runs": "" if agree else "; ".join(f"{_value_text(json.loads(v))} in {_runs_text(rs)}"
                                                       for v, rs in by_value.items()),
                })
    return pd.DataFrame(rows, columns=["experiment", "solver", "setting", "value", "n_runs", "agree", "runs"])


# ------------------------------------------------------------------------------ display


def pack(items: Sequence[str], width: int = LINE_WIDTH) -> list[str]:
    """``items`` joined by ', ' into lines of at most ``width`` characters (an item longer than
    that gets a line of its own)."""
    lines: list[str] = []
    for item in items:
        if lines and len(lines[-1]) + 2 + len(item) <= width:
            lines[-1] += ", " + item
        else:
            lines.append(item)
    return lines


def display(table: pd.DataFrame, inputs: TableInputs, latex: bool) -> pd.DataFrame:
    esc = latex_escape if latex else str
    rows = []
    for (e, s), grp in table.groupby(["experiment", "solver"], sort=False):
        items, notes = [], []
        for rec in grp.to_dict("records"):
            value = json.loads(rec["value"])
            shown = _value_text(value) if rec["agree"] else " or ".join(_value_text(v) for v in value)
            items.append(f"{rec['setting']} = {shown}")
            if not rec["agree"]:
                notes.append(f"{rec['setting']}: {rec['runs']}")
        runs = int(grp["n_runs"].iloc[0])
        rows.append({
            "Experiment": label_text(inputs.label(e), latex),
            "Method": label_text(inputs.solvers.label(s), latex),
            "Runs": str(runs),
            "Settings": stacked_cell([esc(line) for line in pack(items)], latex) if latex else ", ".join(items),
            "Note": stacked_cell([esc(note) for note in notes], latex) if notes else "",
        })
    return pd.DataFrame(rows, columns=["Experiment", "Method", "Runs", "Settings", "Note"])


def caption(latex: bool) -> str:
    return (
        "Hyper-parameters every method ran with, as recorded in its run artifacts (the resolved "
        "settings: declared defaults filled in), one row per experiment and method over all its runs "
        "(Runs: one per n and seed). method: the algorithm run; start_from: the method whose solutions "
        "a refinement starts from; starts: the runs per problem of a multi-start (budget: the k of its "
        "best-of-k curve). A setting the chosen variant does not use (e.g. channels of the CNN when "
        "network = mlp) is listed as recorded. Where the runs of a method disagree on a setting, every value is shown and "
        "Note says which runs (n, seeds) hold which."
    ).replace("_", r"\_" if latex else "_")


def render(inputs: TableInputs) -> Rendered:
    table = numeric(read_runs(inputs.runs), inputs.experiments, inputs.solvers)
    return Rendered.of(table, lambda latex: display(table, inputs, latex), lambda latex: caption(latex=latex),
                       "tab:hyperparameters", "llrll")


TABLE = TableSpec(
    name="table5",
    doc="Table 5: hyper-parameters every method ran with, read from the run artifacts, with the runs "
        "that disagree",
    render=render,
    reads=(),
    artifacts=("runs",),
)
