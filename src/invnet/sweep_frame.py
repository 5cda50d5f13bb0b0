"""The robustness sweeps of one experiment as tidy frames (docs/experiments.md §2.6), from run
artifacts only (NumPy, pandas, SciPy; no torch).

At every point of a sweep and every seed, the primary method's per-problem losses (its final
state, or for ``over: steps`` the checkpoint at that step) are compared (§2.2, ``compare_rtol``)

- with the baseline's run on the same problems (``against = "baseline"``), and
- with the multi-start of the baseline at matched evaluations (``against = "multistart"``): for
  each problem, the best of the first k starts, k the fewest starts whose evaluations (summed in
  start order) reach the primary method's evaluations on that problem. Where all K starts spend
  fewer, all K are taken and the problem counts as not matched (``matched`` < 1: the classical
  side spent less than the primary method, which favours the primary method).

Frames (:data:`invnet.sweeps.SWEEP_TABLES`):

- ``sweep``: one row per (sweep, value, seed, against): outcome counts and fractions over the
  problems both finished, mean evaluations of each side, the starts taken (mean k), the fraction
  of matched problems, the primary method's step (``step``), the first step at which its
  convergence rule held (``converged_at``; NaN if never, or not a network) and whether its loss
  had flattened by ``step`` (``flat``), and mean losses;
- ``sweep_summary``: one row per (sweep, value, against) over seeds: mean and std (ddof=1) of
  the fractions, the counts pooled over seeds with 95 % Wilson intervals of the beat and lose
  fractions, a two-sided sign test of beat against lose (``p_value``) and the ``verdict``:
  ``holds`` (the primary method is better on significantly more problems, p < 0.05), ``fails``
  (significantly fewer) or ``undecided``. Problems of one run share one trained network, so the
  pooled interval understates run-to-run variation: the seed spread stands next to it. For a
  sweep of a family parameter, also the local minima of the loss along the first unknown at each
  value (median, min and max over the first 8 problems of the first seed; ``along``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from os import PathLike
from typing import Any

import numpy as np
import pandas as pd

from .analysis import OUTCOMES, compare
from .artifacts import STATUS_OK, read_h5
from .starts import first_argmin

ALPHA = 0.05  # significance of the sign test and 1 - coverage of the Wilson intervals
CONVERGED = 0  # invnet.solvers.SolveStatus.CONVERGED (not imported: torch only for the landscapes)
LANDSCAPE_PROBLEMS = 8  # problems per point whose landscape roughness is counted (as ks_roughness)
KEYS = ["experiment", "sweep", "over", "value", "point", "n", "seed", "against", "method", "classical"]
SUMMARY_KEYS = ["experiment", "sweep", "over", "value", "against", "method", "classical"]


def matched_starts(start_loss: np.ndarray, start_evaluations: np.ndarray, target: np.ndarray
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per problem, the multi-start at matched evaluations: (best loss of the first k starts,
    their evaluations, k, matched), k the fewest starts whose summed evaluations reach
    ``target`` (all K, matched False, where even K do not). NaN losses are skipped; NaN where
    all k starts are NaN."""
    loss = np.asarray(start_loss, dtype=np.float64)
    spent = np.cumsum(np.asarray(start_evaluations, dtype=np.float64), axis=1)
    n, k_max = loss.shape
    reached = spent >= np.asarray(target, dtype=np.float64)[:, None]
    matched = reached.any(axis=1)
    k = np.where(matched, reached.argmax(axis=1) + 1, k_max)
    first = np.arange(k_max)[None, :] < k[:, None]
    among = np.where(first, loss, np.nan)
    best = among[np.arange(n), first_argmin(among.T)]  # as the multi-start picks its best start
    return best, spent[np.arange(n), k - 1], k, matched


def outcome_counts(loss: np.ndarray, ok: np.ndarray, loss_c: np.ndarray, ok_c: np.ndarray,
                   rtol: float) -> dict[str, int]:
    """Counts of beat / tie / lose of the method against a classical result (§2.2), over the
    problems both finished with a finite loss; ``failed``: the method's failures, ``classical_failed``
    the classical side's where the method finished."""
    outcome = compare(loss, loss_c, rtol)
    outcome[~np.asarray(ok_c, bool)] = "bfgs_failed"
    outcome[~np.asarray(ok, bool)] = "failed"
    counts = {f"n_{k}": int((outcome == k).sum()) for k in OUTCOMES}
    counts["failed"] = int((outcome == "failed").sum())
    counts["classical_failed"] = int((outcome == "bfgs_failed").sum())
    return counts


def _finite_mean(values: np.ndarray) -> float:
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    return float(v.mean()) if v.size else float("nan")


def _primary_state(arrays: Mapping[str, np.ndarray], attrs: Mapping[str, Any], over: str, value: Any
                   ) -> dict[str, Any]:
    """The primary method's per-problem state a sweep point compares: its final state, or the
    checkpoint at ``value`` steps (``over == "steps"``; the final state where ``value`` is its
    step budget and no checkpoint)."""
    steps = list(np.asarray(arrays.get("checkpoint_step", np.zeros(0, dtype=np.int64))).tolist())
    info = ((attrs.get("provenance") or {}).get("info") or {})
    converged_at = info.get("converged_at")
    stopped = bool((np.asarray(arrays["solve_status"]) == CONVERGED).all())
    final_step = int(np.max(arrays["iterations"]))
    if over == "steps" and int(value) in steps:
        c = steps.index(int(value))
        x, loss = arrays["checkpoint_x"][c], arrays["checkpoint_loss"][c]
        ok = np.isfinite(loss) & np.isfinite(x.reshape(x.shape[0], -1)).all(axis=1)
        state = {"loss": loss, "ok": ok, "evaluations": arrays["checkpoint_evaluations"][c],
                 "step": int(arrays["checkpoint_at"][c])}
    else:
        state = {"loss": arrays["loss"], "ok": np.asarray(arrays["problem_status"]) == STATUS_OK,
                 "evaluations": arrays["evaluations"], "step": final_step}
    state["converged_at"] = float("nan") if converged_at is None else float(converged_at)
    state["stopped"] = stopped and state["step"] == final_step  # stopped there by its convergence rule
    state["flat"] = converged_at is not None and converged_at <= state["step"]
    return state


def _read_runs(paths: Iterable[str | PathLike]) -> dict[tuple[str, str, int, int], tuple[dict, dict]]:
    out = {}
    for path in paths:
        arrays, attrs = read_h5(path, "run")
        out[(str(attrs["experiment"]), str(attrs["solver"]), int(attrs["n"]), int(attrs["seed"]))] = (arrays, attrs)
    return out


def sweep_rows(sweeps: Mapping[str, Mapping[str, Any]], points: Mapping[str, list[Mapping[str, Any]]],
               roles: Mapping[str, str], runs: Mapping[tuple[str, str, int, int], tuple[dict, dict]],
               rtol: float = 1e-3) -> pd.DataFrame:
    """The ``sweep`` frame from loaded runs ((experiment, solver, n, seed) -> (arrays, attrs))."""
    rows = []
    for name, sweep in sweeps.items():
        for point in points[name]:
            e, n = point["experiment"], int(point["n"])
            seeds = sorted({k[3] for k in runs if k[0] == e and k[1] == roles["primary"] and k[2] == n})
            for seed in seeds:
                m_arrays, m_attrs = runs[(e, roles["primary"], n, seed)]
                b_arrays, _ = runs[(e, roles["baseline"], n, seed)]
                c_arrays, _ = runs[(e, roles["multistart"], n, seed)]
                m = _primary_state(m_arrays, m_attrs, sweep["over"], point["value"])
                common = {"experiment": sweep["experiment"], "sweep": name, "over": sweep["over"],
                          "value": point["value"], "point": e, "n": n, "seed": seed, "method": roles["primary"],
                          "step": m["step"],
                          "converged_at": m["converged_at"], "stopped": m["stopped"], "flat": m["flat"],
                          "evaluations_method": float(np.mean(m["evaluations"])),
                          "mean_loss_method": _finite_mean(np.where(m["ok"], m["loss"], np.nan))}
                ok_b = np.asarray(b_arrays["problem_status"]) == STATUS_OK
                rows.append({**common, "against": "baseline", "classical": roles["baseline"],
                             **outcome_counts(m["loss"], m["ok"], b_arrays["loss"], ok_b, rtol),
                             "evaluations_classical": float(np.mean(b_arrays["evaluations"])),
                             "starts": 1.0, "matched": float("nan"),
                             "mean_loss_classical": _finite_mean(np.where(ok_b, b_arrays["loss"], np.nan))})
                best, spent, k, matched = matched_starts(c_arrays["start_loss"], c_arrays["start_evaluations"],
                                                         m["evaluations"])
                rows.append({**common, "against": "multistart", "classical": roles["multistart"],
                             **outcome_counts(m["loss"], m["ok"], best, np.isfinite(best), rtol),
                             "evaluations_classical": float(spent.mean()), "starts": float(k.mean()),
                             "matched": float(matched.mean()), "mean_loss_classical": _finite_mean(best)})
    columns = KEYS + ["n_beat", "n_tie", "n_lose", "failed", "classical_failed", "n_compared", *OUTCOMES,
                      "evaluations_method", "evaluations_classical", "starts", "matched", "step", "converged_at",
                      "stopped", "flat", "mean_loss_method", "mean_loss_classical"]
    frame = pd.DataFrame(rows)
    if frame.empty:
        return pd.DataFrame(columns=columns)
    frame["n_compared"] = frame[["n_beat", "n_tie", "n_lose"]].sum(axis=1)
    for k in OUTCOMES:
        frame[k] = frame[f"n_{k}"] / frame["n_compared"].where(frame["n_compared"] > 0)
    return frame[columns]


def wilson(successes: int, total: int, alpha: float = ALPHA) -> tuple[float, float]:
    """The Wilson score interval of a binomial proportion (SciPy); (NaN, NaN) for no trials."""
    from scipy.stats import binomtest

    if total <= 0:
        return float("nan"), float("nan")
    ci = binomtest(int(successes), int(total)).proportion_ci(1 - alpha, method="wilson")
    return float(ci.low), float(ci.high)


def verdict(beat: int, lose: int, alpha: float = ALPHA) -> tuple[str, float]:
    """(verdict, p): a two-sided sign test of ``beat`` against ``lose`` problems (ties left out);
    ``holds`` / ``fails`` where p < alpha and the method is better / worse more often."""
    from scipy.stats import binomtest

    if beat + lose == 0:
        return "undecided", 1.0
    p = float(binomtest(int(beat), int(beat + lose), 0.5).pvalue)
    if p < alpha:
        return ("holds" if beat > lose else "fails"), p
    return "undecided", p


def summarize_sweeps(frame: pd.DataFrame) -> pd.DataFrame:
    """The ``sweep_summary`` frame (see the module docstring) from the ``sweep`` frame."""
    rows = []
    for key, grp in frame.groupby(SUMMARY_KEYS, sort=False):
        row: dict[str, Any] = dict(zip(SUMMARY_KEYS, key))
        row["points"] = ",".join(dict.fromkeys(grp["point"]))
        row["n"] = int(grp["n"].iloc[0])
        row["n_seeds"] = int(grp["seed"].nunique())
        for q in (*OUTCOMES, "evaluations_method", "evaluations_classical", "starts", "step", "mean_loss_method",
                  "mean_loss_classical"):
            v = grp[q].to_numpy(dtype=np.float64)
            v = v[np.isfinite(v)]
            row[f"{q}_mean"] = float(v.mean()) if v.size else float("nan")
            row[f"{q}_std"] = float(v.std(ddof=1)) if v.size > 1 else float("nan")
        beat, tie, lose = (int(grp[f"n_{k}"].sum()) for k in OUTCOMES)
        total = beat + tie + lose
        row.update(n_beat=beat, n_tie=tie, n_lose=lose, n_compared=total,
                   failed=int(grp["failed"].sum()), classical_failed=int(grp["classical_failed"].sum()))
        row["beat_pooled"] = beat / total if total else float("nan")
        row["lose_pooled"] = lose / total if total else float("nan")
        row["beat_ci_low"], row["beat_ci_high"] = wilson(beat, total)
        row["lose_ci_low"], row["lose_ci_high"] = wilson(lose, total)
        row["verdict"], row["p_value"] = verdict(beat, lose)
        row["matched_min"] = float(grp["matched"].min()) if grp["matched"].notna().any() else float("nan")
        row["step_min"], row["step_max"] = int(grp["step"].min()), int(grp["step"].max())
        conv = grp["converged_at"].to_numpy(dtype=np.float64)
        row["converged_at_min"] = float(np.nanmin(conv)) if np.isfinite(conv).any() else float("nan")
        row["converged_at_max"] = float(np.nanmax(conv)) if np.isfinite(conv).any() else float("nan")
        row["flat_fraction"] = float(grp["flat"].astype(bool).mean())
        row["stopped_fraction"] = float(grp["stopped"].astype(bool).mean())
        rows.append(row)
    return pd.DataFrame(rows)


def landscape_minima(sweeps: Mapping[str, Mapping[str, Any]], points: Mapping[str, list[Mapping[str, Any]]],
                     data_paths: Iterable[str | PathLike]) -> pd.DataFrame:
    """Per point of every parameter sweep: the local minima of the loss along the first unknown
    (the others at the truth, its bounds on a :data:`~invnet.figures.landscape.KS_GRID_POINTS`
    grid, the target y*), for the first :data:`LANDSCAPE_PROBLEMS` problems of the point's data
    artifact (first seed): the roughness that a sweep of the horizon or the noise changes. The
    computation of the ``ks_roughness`` figure (:mod:`invnet.figures.landscape`), for any family.
    Loads torch and the family (only where a sweep varies a family parameter)."""
    import torch

    from .figures.landscape import KS_GRID_POINTS, count_local_minima, landscape_along
    from .problems import family_from_description

    data = {}
    for path in data_paths:
        arrays, attrs = read_h5(path, "data")
        data[(str(attrs["experiment"]), int(attrs["n"]))] = (arrays, attrs)
    rows = []
    torch.set_num_threads(1)
    for name, sweep in sweeps.items():
        if sweep["over"] in ("steps", "n"):
            continue
        for point in points[name]:
            arrays, attrs = data[(point["experiment"], int(point["n"]))]
            family = family_from_description(attrs["problem"])
            m = min(LANDSCAPE_PROBLEMS, int(arrays["x_true"].shape[0]))
            lo, hi = (float(v) for v in family.bounds[0])
            grid = np.linspace(lo, hi, KS_GRID_POINTS)
            gamma = arrays["gamma"][:m] if "gamma" in arrays else None
            loss = landscape_along(family, arrays["x_true"][:m], gamma, arrays["y_target"][:m], grid)
            minima = count_local_minima(loss)
            rows.append({"sweep": name, "value": point["value"], "along": family.param_names[0], "problems": m,
                         "minima_median": float(np.median(minima)), "minima_min": int(minima.min()),
                         "minima_max": int(minima.max())})
    return pd.DataFrame(rows, columns=["sweep", "value", "along", "problems", "minima_median", "minima_min",
                                       "minima_max"])


def sweep_frames(sweeps: Mapping[str, Mapping[str, Any]], points: Mapping[str, list[Mapping[str, Any]]],
                 roles: Mapping[str, str], run_paths: Iterable[str | PathLike], rtol: float = 1e-3,
                 labels: Mapping[str, str] | None = None, solver_labels: Mapping[str, str] | None = None,
                 data_paths: Iterable[str | PathLike] = (),
                 ) -> dict[str, pd.DataFrame]:
    """Both frames of :data:`invnet.sweeps.SWEEP_TABLES` from the run artifacts a sweep job reads
    (and, for parameter sweeps, the data artifacts of their points' first seed: the landscape's
    local minima, :func:`landscape_minima`); the summary gets the experiment's and the solvers'
    labels (``labels``, ``solver_labels``: name -> label; default the names) for the generated text."""
    frame = sweep_rows(sweeps, points, roles, _read_runs(run_paths), rtol)
    summary = summarize_sweeps(frame)
    data_paths = list(data_paths)
    if data_paths and not summary.empty:
        minima = landscape_minima(sweeps, points, data_paths)
        summary = summary.merge(minima, on=["sweep", "value"], how="left")
    if not summary.empty:
        labels, solver_labels = dict(labels or {}), dict(solver_labels or {})
        summary.insert(1, "label", [labels.get(e, e) for e in summary["experiment"]])
        summary["method_label"] = [solver_labels.get(m, m) for m in summary["method"]]
        summary["classical_label"] = [solver_labels.get(c, c) for c in summary["classical"]]
    return {"sweep": frame, "sweep_summary": summary}


__all__ = ["matched_starts", "outcome_counts", "summarize_sweeps", "sweep_frames", "sweep_rows", "verdict", "wilson"]
