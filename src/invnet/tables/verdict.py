"""The claim's verdict: for every experiment and n, the fraction of problems on which the primary
method (JPO) beats the baseline (BFGS) and on which the baseline beats it, each with a 95 %
confidence interval from a two-stage bootstrap over seeds and problems within seeds
(:mod:`invnet.bootstrap`); the same against the multi-start baseline (the baseline's algorithm
run from several starts) at the number of starts whose evaluations first reach the primary
method's; what each spent (evaluations per problem); and a verdict in words by the rule of
:func:`verdict` (docs/experiments.md §2.4). Roles come from the solver declarations (primary,
baseline, ``starts``), never from solver names.

Reads the aggregate ``outcomes`` frames (per-problem losses and outcomes against the baseline)
and the run artifacts of the multi-start solver (every start's loss and evaluations).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .. import paths
from ..analysis import OUTCOMES, compare, sort_frame
from ..bootstrap import LEVEL, Interval, intervals, rng_for
from ..solver_info import SolverSet
from .base import Rendered, TableInputs, TableSpec
from .render import count_cell, label_text, latex_escape

MOST = 0.5  # "on most problems": the interval's lower bound above one half
NO_MULTISTART = "no multi-start baseline in this experiment"
BOUNDS = [(0.0, 1.0), (0.0, 1.0), (-1.0, 1.0)]  # beat, lose, beat - lose


def verdict(beat: Interval, lose: Interval, diff: Interval, method: str, other: str) -> str:
    """The verdict in words, by a declared rule on the 95 % intervals (``method`` and ``other``
    are labels): "<method> better on most problems" when the interval of the fraction it wins
    lies above one half; "<other> better on most problems" likewise; else "<method> better more
    often than <other>" when the interval of (wins − losses) lies above 0, the converse below 0;
    else "undecided"."""
    if beat.low > MOST:
        return f"{method} better on most problems"
    if lose.low > MOST:
        return f"{other} better on most problems"
    if diff.low > 0:
        return f"{method} better more often than {other}"
    if diff.high < 0:
        return f"{other} better more often than {method}"
    return "undecided"


def multistart_solver(solvers: SolverSet, present: Sequence[str]) -> str | None:
    """The multi-start baseline among ``present``: the first solver in table order that runs the
    baseline's algorithm (``method``) from several starts (``starts``) from x0 and prior draws."""
    base = solvers.baseline
    if base is None:
        return None
    method = solvers[base].method
    return next((s for s in solvers.select(present) if solvers[s].starts and solvers[s].start_from is None
                 and solvers[s].method == method), None)


def _indicators(outcome: np.ndarray) -> np.ndarray:
    """(problems, 3): beat, lose and beat − lose of the compared problems of one seed."""
    outcome = np.asarray(outcome, dtype=object)
    outcome = outcome[np.isin(outcome, OUTCOMES)]
    beat, lose = (outcome == "beat").astype(float), (outcome == "lose").astype(float)
    return np.stack([beat, lose, beat - lose], axis=1) if outcome.size else np.zeros((0, 3))


def compared_intervals(per_seed: list[np.ndarray], label: str) -> tuple[int, list[Interval] | None]:
    """(number of compared problems, [beat, lose, beat − lose] intervals) from per-seed outcome
    arrays; None where no problem was compared."""
    groups = [_indicators(o) for o in per_seed]
    total = sum(len(g) for g in groups)
    if total == 0:
        return 0, None
    return total, intervals([g for g in groups if len(g)], LEVEL, rng=rng_for(label), bounds=BOUNDS)


def _run_paths(runs: Sequence[str]) -> dict[str, str]:
    """Run artifact paths by their path inside the results layout (they may lie under a root)."""
    out = {}
    for p in runs:
        text = Path(p).as_posix()
        at = text.rfind("results/runs/")
        out[text[at:] if at >= 0 else text] = str(p)
    return out


def _multistart(experiment: str, n: int, seeds: list[int], solver: str, primary: pd.DataFrame,
                runs: dict[str, str], rtol: float) -> dict[str, Any]:
    """The primary method against the best of the first k starts of ``solver``, k the fewest
    starts whose evaluations per problem (mean over seeds and problems) reach the primary's."""
    from ..artifacts import STATUS_OK, read_h5
    from ..starts import best_of_first

    starts = {}
    for seed in seeds:
        arrays, _ = read_h5(runs[paths.run_file(experiment, solver, n, seed)], "run")
        starts[seed] = (np.asarray(arrays["start_loss"], dtype=np.float64),
                        np.asarray(arrays["start_evaluations"], dtype=np.float64))
    k_max = min(loss.shape[1] for loss, _ in starts.values())
    cumulative = np.concatenate([np.cumsum(ev[:, :k_max], axis=1) for _, ev in starts.values()]).mean(axis=0)
    target = float(primary["evaluations"].mean())
    reached = np.flatnonzero(cumulative >= target)
    k = int(reached[0]) + 1 if reached.size else k_max
    per_seed = []
    for seed, (loss, evals) in starts.items():
        best, _ = best_of_first(loss, evals, k)
        rows = primary[primary["seed"] == seed].sort_values("problem")
        outcome = compare(rows["loss"].to_numpy(), best[rows["problem"].to_numpy()], rtol)
        outcome[(rows["status"] != STATUS_OK).to_numpy()] = "failed"
        per_seed.append(outcome)
    compared, ivs = compared_intervals(per_seed, f"verdict/{experiment}/n{n}/multistart")
    return {"starts": k, "starts_max": k_max, "budget_reached": bool(reached.size),
            "evaluations": float(cumulative[k - 1]), "compared": compared, "intervals": ivs}


def numeric(outcomes: pd.DataFrame, solvers: SolverSet, runs: Sequence[str], rtol: float,
            experiments: Sequence[str] = (), labels: dict[str, str] | None = None) -> pd.DataFrame:
    """One row per experiment and n (see the module docstring); fractions are pooled over every
    seed's compared problems, with 95 % bootstrap intervals (``*_low``, ``*_high``)."""
    labels = labels or {}
    primary, baseline = solvers.primary, solvers.baseline
    run_paths = _run_paths(runs)
    rows = []
    if outcomes.empty or primary is None or baseline is None:
        return pd.DataFrame(columns=COLUMNS)
    for (experiment, n), grp in outcomes.groupby(["experiment", "n"], sort=False):
        present = list(dict.fromkeys(grp["solver"]))
        prim = grp[grp["solver"] == primary]
        base = grp[grp["solver"] == baseline]
        row: dict[str, Any] = {
            "experiment": experiment, "label": labels.get(experiment, experiment), "n": int(n),
            "seeds": int(grp["seed"].nunique()), "primary": primary, "primary_label": solvers.label(primary),
            "baseline": baseline, "baseline_label": solvers.label(baseline),
        }
        if prim.empty:
            rows.append({**row, "verdict": f"{solvers.label(primary)} not configured", "multistart_verdict": ""})
            continue
        seeds = sorted(int(s) for s in prim["seed"].unique())
        per_seed = [prim.loc[prim["seed"] == s, "outcome"].to_numpy() for s in seeds]
        compared, ivs = compared_intervals(per_seed, f"verdict/{experiment}/n{n}/baseline")
        row.update({
            "compared": compared,
            "failed_primary": int((prim["outcome"] == "failed").sum()),
            "failed_baseline": int((prim["outcome"] == "bfgs_failed").sum()),
            "evaluations_primary": float(prim["evaluations"].mean()),
            "evaluations_baseline": float(base["evaluations"].mean()) if not base.empty else math.nan,
        })
        row.update(_interval_columns("", ivs))
        row["verdict"] = (verdict(*ivs, row["primary_label"], row["baseline_label"]) if ivs
                          else "no problem compared")
        multi = multistart_solver(solvers, present)
        if multi is None:
            row.update({"multistart": "", "multistart_label": "", "multistart_verdict": NO_MULTISTART})
        else:
            ms = _multistart(experiment, int(n), seeds, multi, prim, run_paths, rtol)
            row.update({
                "multistart": multi, "multistart_label": solvers.label(multi), "multistart_starts": ms["starts"],
                "multistart_starts_max": ms["starts_max"], "multistart_budget_reached": ms["budget_reached"],
                "evaluations_multistart": ms["evaluations"], "multistart_compared": ms["compared"],
            })
            row.update(_interval_columns("multistart_", ms["intervals"]))
            row["multistart_verdict"] = (verdict(*ms["intervals"], row["primary_label"], solvers.label(multi))
                                         if ms["intervals"] else "no problem compared")
        rows.append(row)
    frame = pd.DataFrame(rows)
    return sort_frame(frame.reindex(columns=COLUMNS), experiments=experiments)


def _interval_columns(prefix: str, ivs: list[Interval] | None) -> dict[str, float]:
    out: dict[str, float] = {}
    for name, iv in zip(("beat", "lose", "diff"), ivs or [None] * 3):
        out[f"{prefix}{name}"] = iv.estimate if iv else math.nan
        out[f"{prefix}{name}_low"] = iv.low if iv else math.nan
        out[f"{prefix}{name}_high"] = iv.high if iv else math.nan
    return out


_IV = [f"{q}{s}" for q in ("beat", "lose", "diff") for s in ("", "_low", "_high")]
COLUMNS = [
    "experiment", "label", "n", "seeds", "primary", "primary_label", "baseline", "baseline_label", "compared",
    "failed_primary", "failed_baseline", *_IV, "evaluations_primary", "evaluations_baseline", "verdict",
    "multistart", "multistart_label", "multistart_starts", "multistart_starts_max", "multistart_budget_reached",
    "evaluations_multistart", "multistart_compared", *[f"multistart_{c}" for c in _IV], "multistart_verdict",
]


def interval_cell(estimate: float, low: float, high: float) -> str:
    """'0.62 [0.55, 0.69]'; '–' when there is no estimate."""
    if estimate is None or (isinstance(estimate, float) and math.isnan(estimate)):
        return "–"
    return f"{estimate:.2f} [{low:.2f}, {high:.2f}]"


def _starts_cell(rec: dict[str, Any]) -> str:
    multi = rec.get("multistart")
    if not isinstance(multi, str) or not multi:  # none (NaN once read back from the CSV)
        return "–"
    k, k_max = int(rec["multistart_starts"]), int(rec["multistart_starts_max"])
    evals = count_cell(rec["evaluations_multistart"])
    if rec["multistart_budget_reached"] in (True, "True", 1):
        return f"{k} of {k_max} ({evals} evals)"
    return f"all {k_max} ({evals} evals, fewer than {rec['primary_label']}'s)"


def display(table: pd.DataFrame, latex: bool) -> pd.DataFrame:
    """Human-readable verdict table (labels, 'estimate [low, high]' cells, the verdicts)."""
    text = latex_escape if latex else str
    rows = []
    for rec in table.to_dict("records"):
        p, b = rec["primary_label"], rec["baseline_label"]
        rows.append({
            "Experiment": label_text(rec["label"], latex),
            "n": str(int(rec["n"])),
            "Seeds": str(int(rec["seeds"])),
            f"{p} better": interval_cell(rec["beat"], rec["beat_low"], rec["beat_high"]),
            f"{b} better": interval_cell(rec["lose"], rec["lose_low"], rec["lose_high"]),
            f"Evals {p} / {b}": f"{count_cell(rec['evaluations_primary'])} / {count_cell(rec['evaluations_baseline'])}",
            f"Verdict vs {b}": text(rec["verdict"]),
            "Multi-start: starts": text(_starts_cell(rec)),
            f"{p} better than multi-start": interval_cell(rec["multistart_beat"], rec["multistart_beat_low"],
                                                          rec["multistart_beat_high"]),
            f"Multi-start better than {p}": interval_cell(rec["multistart_lose"], rec["multistart_lose_low"],
                                                          rec["multistart_lose_high"]),
            "Verdict vs multi-start": text(rec["multistart_verdict"]),
        })
    frame = pd.DataFrame(rows)
    if frame.empty:
        return pd.DataFrame(columns=["Experiment", "n", "Seeds", "Verdict"])
    return frame.rename(columns=text) if latex else frame


def caption(rtol: float, primary: str = "JPO", baseline: str = "BFGS", latex: bool = False) -> str:
    """What the table shows and the rule of its verdicts."""
    out = (
        f"Does {primary} find better solutions than {baseline}? For every experiment and n: the fraction of "
        f"problems on which {primary} beats {baseline} (lower loss by more than r = {rtol:g}, relative) and on "
        f"which {baseline} beats {primary}, pooled over seeds, with 95 % confidence intervals from a bootstrap "
        "that resamples seeds and problems within seeds (docs/experiments.md §2.4); problems either method "
        f"failed on count in neither. Evals: evaluations per problem spent. The same against the multi-start "
        f"baseline ({baseline} from x0 and prior draws, best kept) at the fewest starts whose evaluations reach "
        f"{primary}'s (all starts where they never do: then the comparison is not at matched cost). Verdict: "
        "'better on most problems' when the interval of the fraction won lies above 0.5; else 'better more "
        "often' when the interval of (fraction won − fraction lost) lies above 0 (or below); else 'undecided'."
    )
    if not latex:
        return out
    import re

    out = re.sub(r"(?<=\s)'([^']+)'", r"`\1'", latex_escape(out))  # typographic quotes
    return out.replace("−", "$-$").replace("§", r"\S{}")


def render(inputs: TableInputs) -> Rendered:
    rtol = float(inputs.settings["compare_rtol"])
    table = numeric(inputs.tables["outcomes"], inputs.solvers, inputs.runs, rtol, inputs.experiments,
                    inputs.labels)
    primary = inputs.solvers.label(inputs.solvers.primary) if inputs.solvers.primary else "the method"
    baseline = inputs.solvers.label(inputs.solvers.baseline) if inputs.solvers.baseline else "the baseline"
    latex = display(table, latex=True)
    return Rendered(
        numeric=table,
        latex=latex,
        markdown=display(table, latex=False),
        caption_latex=caption(rtol, primary, baseline, latex=True),
        caption_markdown=caption(rtol, primary, baseline),
        label="tab:verdict",
        align="l" + "r" * 2 + "l" * (latex.shape[1] - 3),
    )


TABLE = TableSpec(
    name="verdict",
    doc="The claim's verdict: the primary method against the baseline and the multi-start baseline, with 95 % CIs",
    render=render,
    reads=("outcomes",),
    artifacts=("runs",),
)
