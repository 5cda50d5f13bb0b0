"""Comparison against BFGS and aggregation of run artifacts into tidy pandas frames.

A method M *beats* BFGS on problem i when ``L_M,i < L_BFGS,i * (1 - rtol)``, *loses* when
``L_M,i > L_BFGS,i * (1 + rtol)`` and *ties* otherwise (docs/experiments.md §2.2; ``compare_rtol`` in config).
Only problems that both runs solved with a finite loss count (run artifact ``problem_status``):
a problem the method failed on (NaN or infinite loss, optimiser failure) has outcome
``failed``, one only BFGS failed on ``bfgs_failed``; neither is a win, a loss or a tie, and the
fractions are taken over the problems compared (``n_compared``).
Every fraction is computed per (experiment, solver, n, seed) and then summarised over seeds with
its mean, sample standard deviation (ddof=1; NaN for a single seed), minimum and maximum.

Frames (one row per ...):

- ``outcomes``: (experiment, solver, n, seed, problem): loss, loss_bfgs, outcome, iterations,
  evaluations, x_<param>, x_true_<param>. BFGS rows have an empty outcome.
- ``fractions``: (experiment, solver, n, seed): beat, tie, lose (fractions of n_compared),
  n_problems, n_compared, failed (problems the run failed on), bfgs_failed, mean/median loss (of its finite losses),
  wall_time_s, mean_evaluations (the run's own), mean_total_evaluations (a refinement such as
  JPO + BFGS adds the run it starts from).
- ``summary``: (experiment, solver, n): <quantity>_{mean,std,min,max} over seeds, n_seeds.
- ``history``: (experiment, solver, n, seed, step): mean training loss.
- ``test``: (experiment, solver, n, seed, problem): test_loss, for solvers evaluated on the
  held-out test set.
- ``budget``: (experiment, solver, n, seed, starts): how method ``solver`` fares against the
  best of the first ``starts`` runs of a multi-start classical baseline (``bfgs_multistart``)
  and what each spent: beat/tie/lose, evaluations per problem of the baseline
  (``evaluations_classical``) and of the method (``evaluations_method``), mean losses.
- ``test_outcomes`` and ``generalisation``: the network methods' test predictions against the
  per-problem methods run on the same new problems (test runs), per problem and per run, with
  the same comparison on the known problems and both costs (:mod:`invnet.generalisation`).

Evaluations count forward passes through F per problem (each with its gradient for every
method here); a JPO training step evaluates every problem once.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterable, Sequence
from os import PathLike
from typing import Any

import numpy as np
import pandas as pd

from .artifacts import STATUS_OK, read_h5
from .errors import ArtifactError
from .solver_info import SolverSet

log = logging.getLogger("invnet.analysis")

OUTCOMES = ("beat", "tie", "lose")
FAILED = ("failed", "bfgs_failed")  # outcomes that are none of OUTCOMES (a non-finite loss)
RUN_KEYS = ["experiment", "solver", "n", "seed"]
SUMMARY_QUANTITIES = (
    "beat", "tie", "lose", "failed", "bfgs_failed", "mean_loss", "median_loss", "wall_time_s", "mean_evaluations", "mean_total_evaluations",
)
BUDGET_KEYS = ["experiment", "solver", "n", "seed", "starts"]
# The frames `aggregate` writes for every experiment (results/aggregate/{experiment}/{name}.csv):
# the one list the workflow's outputs, the figures' `reads` and the tables' `reads` refer to.
AGGREGATE_TABLES = ("outcomes", "fractions", "summary", "history", "test", "budget", "test_outcomes", "generalisation")


def _baseline(solvers: SolverSet) -> str:
    if solvers.baseline is None:
        raise ValueError(f"no baseline among the solvers {list(solvers)}")
    return solvers.baseline


def sort_frame(
    df: pd.DataFrame, extra: Sequence[str] = (), experiments: Sequence[str] = (),
    solvers: SolverSet | None = None,
) -> pd.DataFrame:
    """Sort by experiment (``experiments`` order, then first appearance) and solver (table
    order of ``solvers``, unknown names last), then by n, seed and ``extra``."""
    keys = [k for k in ["experiment", "solver", "n", "seed", *extra] if k in df.columns]
    if df.empty or not keys:
        return df.reset_index(drop=True)
    solvers = solvers if solvers is not None else SolverSet()

    def rank(col: pd.Series) -> pd.Series:
        if col.name == "solver":
            order = solvers.order(col)
        elif col.name == "experiment":
            order = [e for e in experiments if e in set(col)] + [
                e for e in dict.fromkeys(col) if e not in set(experiments)
            ]
        else:
            return col
        return col.map({v: i for i, v in enumerate(order)})

    return df.sort_values(keys, key=rank, kind="stable").reset_index(drop=True)


# ------------------------------------------------------------------------------ comparison


def compare(loss: Any, loss_bfgs: Any, rtol: float = 1e-3) -> np.ndarray:
    """Per-problem outcome of a method against BFGS: array of "beat", "tie", "lose", "failed"
    or "bfgs_failed".

    ``beat``: loss < loss_bfgs * (1 - rtol); ``lose``: loss > loss_bfgs * (1 + rtol); else ``tie``
    (boundaries are ties), for finite pairs only. A non-finite method loss is ``failed`` and a
    finite one against a non-finite BFGS loss ``bfgs_failed``: neither is a win, loss or tie.
    Losses are assumed non-negative (they are mean squared errors).
    """
    if not 0 <= rtol < 1:
        raise ValueError(f"rtol must be in [0, 1), got {rtol!r}")
    loss = np.asarray(loss, dtype=np.float64)
    base = np.asarray(loss_bfgs, dtype=np.float64)
    loss, base = np.broadcast_arrays(loss, base)
    ok_m, ok_b = np.isfinite(loss), np.isfinite(base)
    with np.errstate(invalid="ignore"):
        beat = loss < base * (1.0 - rtol)
        lose = loss > base * (1.0 + rtol)
    out = np.full(loss.shape, "tie", dtype=object)
    out[beat] = "beat"
    out[lose] = "lose"
    out[~ok_b] = "bfgs_failed"
    out[~ok_m] = "failed"
    return out


def outcome_fractions(outcomes: Iterable[str]) -> dict[str, float]:
    """Fractions of "beat", "tie" and "lose" among the compared problems of ``outcomes`` (those
    whose outcome is one of the three: failed problems are left out); NaN each if none."""
    values = pd.Series(list(outcomes), dtype=object)
    values = values[values.isin(OUTCOMES)]
    total = len(values)
    if total == 0:
        return {k: float("nan") for k in OUTCOMES}
    return {k: float((values == k).sum()) / total for k in OUTCOMES}


def seed_spread(values: Any) -> dict[str, float]:
    """Mean, sample std (ddof=1; NaN for one value), min, max and count of finite ``values``."""
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return {"mean": np.nan, "std": np.nan, "min": np.nan, "max": np.nan, "count": 0}
    return {
        "mean": float(v.mean()),
        "std": float(v.std(ddof=1)) if v.size > 1 else float("nan"),
        "min": float(v.min()),
        "max": float(v.max()),
        "count": int(v.size),
    }


# ------------------------------------------------------------------------------ loading


def _param_names(attrs: dict[str, Any] | None, dim: int) -> list[str]:
    names = None
    if attrs is not None:
        problem = attrs.get("problem")
        if isinstance(problem, dict):
            names = problem.get("param_names")
    if not names or len(names) != dim:
        names = [str(i) for i in range(dim)]
    return [str(n) for n in names]


def _read_data(paths: Iterable[str | PathLike]) -> dict[tuple[str, int, int], tuple[np.ndarray, dict]]:
    out = {}
    for path in paths:
        arrays, attrs = read_h5(path, "data")
        key = (str(attrs["experiment"]), int(attrs["n"]), int(attrs["seed"]))
        out[key] = (np.asarray(arrays["x_true"]), attrs)
    return out


def load_runs(
    run_paths: Iterable[str | PathLike], data_paths: Iterable[str | PathLike] = ()
) -> dict[str, pd.DataFrame]:
    """Read run artifacts (and optionally their data artifacts) into raw tidy frames.

    Returns ``problems`` (per problem, without the comparison), ``runs`` (per run: wall time,
    mean evaluations), ``history`` and ``test``.
    """
    data = _read_data(data_paths)
    problems, runs, history, test, starts = [], [], [], [], []
    seen: set[tuple] = set()
    for path in run_paths:
        arrays, attrs = read_h5(path, "run")  # checks datasets, shapes and the schema version
        experiment, solver = str(attrs["experiment"]), str(attrs["solver"])
        n, seed = int(attrs["n"]), int(attrs["seed"])
        key = (experiment, solver, n, seed)
        if key in seen:
            raise ArtifactError(f"{path}: a second run artifact for {key}")
        seen.add(key)
        x = np.asarray(arrays["x"], dtype=np.float64).reshape(n, -1)
        loss = np.asarray(arrays["loss"], dtype=np.float64)
        status = np.asarray(arrays["problem_status"], dtype=np.int64)
        x_true, data_attrs = data.get((experiment, n, seed), (None, None))
        names = _param_names(data_attrs, x.shape[1])
        frame = {
            "experiment": experiment,
            "solver": solver,
            "n": n,
            "seed": seed,
            "problem": np.arange(n),
            "loss": loss,
            "status": status,
            "iterations": np.asarray(arrays.get("iterations", np.full(n, np.nan))),
            "evaluations": np.asarray(arrays.get("evaluations", np.full(n, np.nan))),
        }
        for j, name in enumerate(names):
            frame[f"x_{name}"] = x[:, j]
        if x_true is not None:
            xt = np.asarray(x_true, dtype=np.float64).reshape(n, -1)
            for j, name in enumerate(names):
                frame[f"x_true_{name}"] = xt[:, j]
        problems.append(pd.DataFrame(frame))

        prov = attrs.get("provenance") if isinstance(attrs.get("provenance"), dict) else {}
        runs.append(
            {
                "experiment": experiment,
                "solver": solver,
                "n": n,
                "seed": seed,
                "wall_time_s": float(prov.get("wall_time_s", np.nan)),
                "mean_evaluations": float(np.mean(frame["evaluations"])),
            }
        )
        if "loss_history" in arrays:
            hist = np.asarray(arrays["loss_history"], dtype=np.float64).ravel()
            steps = np.asarray(arrays.get("history_step", np.arange(hist.size))).ravel()
            if steps.shape != hist.shape:
                raise ArtifactError(f"{path}: history_step and loss_history differ in length")
            history.append(
                pd.DataFrame(
                    {"experiment": experiment, "solver": solver, "n": n, "seed": seed,
                     "step": steps.astype(np.int64), "loss": hist}
                )
            )
        if "start_loss" in arrays:  # a multi-start run: best of the first k starts for each k
            from .starts import best_of_first

            config = attrs.get("config") if isinstance(attrs.get("config"), dict) else {}
            budget = (config.get("solver") or {}).get("budget") or [arrays["start_loss"].shape[1]]
            for k in sorted(int(b) for b in budget):
                best, evals = best_of_first(arrays["start_loss"], arrays["start_evaluations"], k)
                starts.append(
                    pd.DataFrame({"experiment": experiment, "classical": solver, "n": n, "seed": seed,
                                  "starts": k, "problem": np.arange(n), "loss_classical": best,
                                  "evaluations_classical": evals})
                )
        if "test_loss" in arrays:
            tl = np.asarray(arrays["test_loss"], dtype=np.float64).ravel()
            test.append(
                pd.DataFrame(
                    {"experiment": experiment, "solver": solver, "n": n, "seed": seed,
                     "problem": np.arange(tl.size), "test_loss": tl}
                )
            )

    def concat(frames: list[pd.DataFrame], columns: list[str]) -> pd.DataFrame:
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)

    return {
        "problems": concat(problems, RUN_KEYS + ["problem", "loss"]),
        "runs": pd.DataFrame(runs, columns=RUN_KEYS + ["wall_time_s", "mean_evaluations"]),
        "history": concat(history, RUN_KEYS + ["step", "loss"]),
        "test": concat(test, RUN_KEYS + ["problem", "test_loss"]),
        "starts": concat(starts, ["experiment", "classical", "n", "seed", "starts", "problem",
                                  "loss_classical", "evaluations_classical"]),
    }


# ------------------------------------------------------------------------------ frames


def with_outcomes(problems: pd.DataFrame, solvers: SolverSet, rtol: float = 1e-3) -> pd.DataFrame:
    """Add ``loss_bfgs`` (the baseline's loss on the same experiment, n, seed, problem) and
    ``outcome`` to a problem frame.

    Raises ArtifactError if a (experiment, n, seed) has runs but no baseline run.
    """
    baseline_name = _baseline(solvers)
    keys = ["experiment", "n", "seed", "problem"]
    if "status" not in problems:
        problems = problems.assign(status=np.where(np.isfinite(problems["loss"]), STATUS_OK, -1))
    base = problems.loc[problems["solver"] == baseline_name, keys + ["loss", "status"]]
    base = base.rename(columns={"loss": "loss_bfgs", "status": "status_bfgs"})
    merged = problems.merge(base, on=keys, how="left", validate="many_to_one", indicator=True)
    missing = (merged.pop("_merge") == "left_only").to_numpy()
    if missing.any():
        row = merged.loc[missing].iloc[0]
        raise ArtifactError(
            f"no BFGS run for experiment={row['experiment']}, n={row['n']}, seed={row['seed']}"
        )
    outcome = compare(merged["loss"].to_numpy(), merged["loss_bfgs"].to_numpy(), rtol)
    outcome[(merged["status_bfgs"] != STATUS_OK).to_numpy()] = "bfgs_failed"
    outcome[(merged["status"] != STATUS_OK).to_numpy()] = "failed"
    baseline = merged["solver"].to_numpy() == baseline_name
    outcome[baseline & (outcome != "failed")] = None  # BFGS rows: only whether it failed
    cols = [c for c in merged.columns if c not in ("loss_bfgs",)]
    at = cols.index("loss") + 1
    merged = merged[cols[:at] + ["loss_bfgs"] + cols[at:]]
    merged.insert(at + 1, "outcome", outcome)
    return sort_frame(merged, ["problem"], solvers=solvers)


def fractions(outcomes: pd.DataFrame, solvers: SolverSet, runs: pd.DataFrame | None = None) -> pd.DataFrame:
    """Per run (experiment, solver, n, seed): fractions beat/tie/lose, loss statistics, cost."""
    baseline_name = _baseline(solvers)
    rows = []
    for key, grp in outcomes.groupby(RUN_KEYS, sort=False):
        row = dict(zip(RUN_KEYS, key))
        outcome = grp["outcome"]
        if row["solver"] == baseline_name:
            row.update({k: np.nan for k in OUTCOMES})
        else:
            row.update(outcome_fractions(outcome))
        row["failed"] = int((grp["status"] != STATUS_OK).sum())
        row["bfgs_failed"] = int((grp["status_bfgs"] != STATUS_OK).sum())
        row["n_problems"] = len(grp)
        row["n_compared"] = int(outcome.isin(OUTCOMES).sum()) if row["solver"] != baseline_name else 0
        finite = grp["loss"].to_numpy(dtype=np.float64)
        finite = finite[(grp["status"] == STATUS_OK).to_numpy() & np.isfinite(finite)]
        base = grp["loss_bfgs"].to_numpy(dtype=np.float64)
        base = base[(grp["status_bfgs"] == STATUS_OK).to_numpy() & np.isfinite(base)]
        row["mean_loss"] = float(finite.mean()) if finite.size else np.nan
        row["median_loss"] = float(np.median(finite)) if finite.size else np.nan
        row["mean_loss_bfgs"] = float(base.mean()) if base.size else np.nan
        rows.append(row)
    out = pd.DataFrame(
        rows,
        columns=RUN_KEYS + list(OUTCOMES) + list(FAILED)
        + ["n_problems", "n_compared", "mean_loss", "median_loss", "mean_loss_bfgs"],
    )
    if runs is not None and not runs.empty:
        out = out.merge(runs, on=RUN_KEYS, how="left")
        out["mean_total_evaluations"] = _total_evaluations(out, solvers)
    return sort_frame(out, solvers=solvers)


def _total_evaluations(frac: pd.DataFrame, solvers: SolverSet) -> np.ndarray:
    """Evaluations per problem including the run a refinement starts from (``start_from``):
    JPO + BFGS costs JPO's evaluations plus its own BFGS evaluations."""
    own = frac.set_index(RUN_KEYS)["mean_evaluations"]
    total = []
    for rec in frac.to_dict("records"):
        value = rec["mean_evaluations"]
        for solver in solvers.chain(rec["solver"])[1:]:
            value += own.get((rec["experiment"], solver, rec["n"], rec["seed"]), np.nan)
        total.append(value)
    return np.asarray(total, dtype=np.float64)


def summarize(
    frac: pd.DataFrame, quantities: Sequence[str] = SUMMARY_QUANTITIES, solvers: SolverSet | None = None
) -> pd.DataFrame:
    """Per (experiment, solver, n): <q>_mean, <q>_std (ddof=1), <q>_min, <q>_max over seeds."""
    keys = ["experiment", "solver", "n"]
    quantities = [q for q in quantities if q in frac.columns]
    rows = []
    for key, grp in frac.groupby(keys, sort=False):
        row: dict[str, Any] = dict(zip(keys, key))
        row["n_seeds"] = int(grp["seed"].nunique())
        for q in quantities:
            spread = seed_spread(grp[q])
            for stat in ("mean", "std", "min", "max"):
                row[f"{q}_{stat}"] = spread[stat]
        rows.append(row)
    columns = keys + ["n_seeds"] + [f"{q}_{s}" for q in quantities for s in ("mean", "std", "min", "max")]
    return sort_frame(pd.DataFrame(rows, columns=columns), solvers=solvers)


def history_band(
    history: pd.DataFrame, experiment: str, n: int, solvers: Sequence[str]
) -> pd.DataFrame:
    """Mean loss curve over seeds with spread, per solver of ``solvers`` (in that order, those
    with a history), for one (experiment, n).

    Each seed's curve is held constant between its recorded steps (and after its last one:
    a finished optimiser keeps its loss), evaluated on the union of all seeds' steps, then
    reduced to mean, std (ddof=1), min and max over the seeds that have started.
    """
    sel = history[(history["experiment"] == experiment) & (history["n"] == int(n))]
    present = set(sel["solver"])
    out = []
    for solver in [s for s in dict.fromkeys(solvers) if s in present]:
        grp = sel[sel["solver"] == solver]
        grid = np.unique(grp["step"].to_numpy())
        curves = []
        for _, g in grp.groupby("seed"):
            g = g.sort_values("step")
            steps, vals = g["step"].to_numpy(), g["loss"].to_numpy(dtype=np.float64)
            idx = np.searchsorted(steps, grid, side="right") - 1
            curve = np.where(idx >= 0, vals[np.clip(idx, 0, None)], np.nan)
            curves.append(curve)
        c = np.vstack(curves)
        count = np.isfinite(c).sum(axis=0)
        c = np.where(np.isfinite(c), c, np.nan)
        with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns
            mean = np.nanmean(c, axis=0)
            std = np.where(count > 1, np.nanstd(c, axis=0, ddof=1), np.nan)
            lo, hi = np.nanmin(c, axis=0), np.nanmax(c, axis=0)
        out.append(
            pd.DataFrame(
                {"solver": solver, "step": grid, "mean": mean, "std": std, "min": lo, "max": hi,
                 "n_seeds": count}
            )
        )
    if not out:
        return pd.DataFrame(columns=["solver", "step", "mean", "std", "min", "max", "n_seeds"])
    return pd.concat(out, ignore_index=True)


def budget(
    problems: pd.DataFrame, starts: pd.DataFrame, rtol: float = 1e-3, solvers: SolverSet | None = None
) -> pd.DataFrame:
    """Every method against a multi-start baseline at each recorded number of starts (see the
    module docstring, frame ``budget``)."""
    columns = BUDGET_KEYS + ["classical", *OUTCOMES, *FAILED, "evaluations_classical", "evaluations_method",
                             "mean_loss_classical", "mean_loss_method"]
    if starts.empty:
        return pd.DataFrame(columns=columns)
    keys = ["experiment", "n", "seed", "problem"]
    methods = problems[~problems["solver"].isin(set(starts["classical"]))]
    merged = starts.merge(methods[keys + ["solver", "loss", "evaluations"]], on=keys, how="inner")
    rows = []
    for key, grp in merged.groupby(["experiment", "solver", "n", "seed", "starts", "classical"], sort=False):
        row = dict(zip(BUDGET_KEYS + ["classical"], key))
        outcome = compare(grp["loss"], grp["loss_classical"], rtol)
        row.update(outcome_fractions(outcome))
        row["failed"] = int((outcome == "failed").sum())
        row["bfgs_failed"] = int((outcome == "bfgs_failed").sum())  # the classical baseline failed
        row["evaluations_classical"] = float(grp["evaluations_classical"].mean())
        row["evaluations_method"] = float(grp["evaluations"].mean())
        row["mean_loss_classical"] = _finite_mean(grp["loss_classical"])
        row["mean_loss_method"] = _finite_mean(grp["loss"])
        rows.append(row)
    return sort_frame(pd.DataFrame(rows, columns=columns), ["starts"], solvers=solvers)


def _finite_mean(values: Any) -> float:
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    return float(v.mean()) if v.size else float("nan")


def aggregate(
    run_paths: Iterable[str | PathLike], data_paths: Iterable[str | PathLike], solvers: SolverSet,
    rtol: float = 1e-3, test_run_paths: Iterable[str | PathLike] = (),
) -> dict[str, pd.DataFrame]:
    """Every frame of :data:`AGGREGATE_TABLES` for one experiment's runs (and its test runs)."""
    from .generalisation import frames as generalisation_frames

    run_paths = list(run_paths)
    raw = load_runs(run_paths, data_paths)
    outcomes = with_outcomes(raw["problems"], solvers, rtol)
    frac = fractions(outcomes, solvers, raw["runs"])
    log.info(
        "aggregated %d runs, %d problem rows (rtol=%g)", len(raw["runs"]), len(outcomes), rtol
    )
    failed = outcomes[outcomes["outcome"] == "failed"].groupby(["solver", "n"], sort=False).size()
    for (solver, n), count in failed.items():
        total = int(((outcomes["solver"] == solver) & (outcomes["n"] == n)).sum())
        log.warning(
            "%s failed (NaN / inf loss or optimiser failure) on %d of %d problems at n=%d; they count "
            "as no win, loss or tie%s", solver, count, total, n,
            "; every method is compared on the remaining problems only" if solver == solvers.baseline else "",
        )
    frames = {
        "outcomes": outcomes,
        "fractions": frac,
        "summary": summarize(frac, solvers=solvers),
        "history": sort_frame(raw["history"], ["step"], solvers=solvers),
        "test": sort_frame(raw["test"], ["problem"], solvers=solvers),
        "budget": budget(raw["problems"], raw["starts"], rtol, solvers),
        **generalisation_frames(run_paths, test_run_paths, raw["test"], outcomes, raw["runs"], solvers, rtol),
    }
    assert tuple(frames) == AGGREGATE_TABLES
    return frames

