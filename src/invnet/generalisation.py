"""Inference on new problems (docs/experiments.md §2.5): the network methods' predictions on each
seed's held-out test set against per-problem methods run on the same new problems (test runs,
:mod:`invnet.test_runs`), next to the same comparison on the training ("known") problems and what
each side spent. Two aggregate frames (``analysis.AGGREGATE_TABLES``):

- ``test_outcomes``: (experiment, solver, n, seed, reference, problem): the network ``solver``'s
  test loss (trained on the n problems of that seed), the ``reference`` method's loss on the same
  test problem, the outcome by the rule of §2.2 (``analysis.compare``: beat / tie / lose, failed
  when the network's loss is not finite, ``bfgs_failed`` when the reference failed on it: its
  ``problem_status`` is not finite) and the reference's evaluations on it.
- ``generalisation``: (experiment, solver, n, seed, reference): the fractions of new problems
  (``*_new``) and of training problems (``*_known``, the same rule on the training set of that
  n and seed) on which the network beats / ties / loses to the reference, mean and median losses,
  and the cost: the reference's evaluations per new problem and per known problem, the network's
  evaluations per training problem, the same amortised over every problem it answers
  (``evaluations_network · n / (n + n_test)``), its passes per new problem (1 network forward
  pass; a method declares others in its run info as ``inference_passes``), and wall times.
"""

from __future__ import annotations

from collections.abc import Iterable
from os import PathLike

import numpy as np
import pandas as pd

from .analysis import OUTCOMES, compare, outcome_fractions, sort_frame
from .artifacts import STATUS_OK, check_artifact, read_h5
from .errors import ArtifactError
from .solver_info import SolverSet

KEYS = ["experiment", "solver", "n", "seed", "reference"]
TEST_OUTCOME_COLUMNS = KEYS + ["problem", "test_loss", "reference_loss", "outcome", "reference_evaluations"]
COLUMNS = KEYS + [
    "n_test", "n_compared_new", *(f"{o}_new" for o in OUTCOMES), "failed_new", "reference_failed_new",
    "n_compared_known", *(f"{o}_known" for o in OUTCOMES),
    "mean_loss_new", "median_loss_new", "mean_reference_loss_new", "median_reference_loss_new",
    "mean_loss_known", "mean_reference_loss_known",
    "evaluations_reference_new", "evaluations_reference_known", "evaluations_network", "amortised_evaluations",
    "inference_passes", "wall_time_s", "reference_wall_time_s_new",
]


def load_test_runs(paths: Iterable[str | PathLike]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Test-run artifacts as (per problem: experiment, reference, seed, problem, loss, status,
    evaluations; per run: experiment, reference, seed, n_test, wall_time_s)."""
    problems, runs = [], []
    seen: set[tuple] = set()
    for path in paths:
        arrays, attrs = read_h5(path, "test_run")
        key = (str(attrs["experiment"]), str(attrs["solver"]), int(attrs["seed"]))
        if key in seen:
            raise ArtifactError(f"{path}: a second test-run artifact for {key}")
        seen.add(key)
        n = int(attrs["n"])
        problems.append(pd.DataFrame({
            "experiment": key[0], "reference": key[1], "seed": key[2], "problem": np.arange(n),
            "loss": np.asarray(arrays["loss"], dtype=np.float64),
            "status": np.asarray(arrays["problem_status"], dtype=np.int64),
            "evaluations": np.asarray(arrays["evaluations"], dtype=np.float64),
        }))
        prov = attrs.get("provenance") if isinstance(attrs.get("provenance"), dict) else {}
        runs.append({"experiment": key[0], "reference": key[1], "seed": key[2], "n_test": n,
                     "wall_time_s": float(prov.get("wall_time_s", np.nan))})
    cols = ["experiment", "reference", "seed", "problem", "loss", "status", "evaluations"]
    return (pd.concat(problems, ignore_index=True) if problems else pd.DataFrame(columns=cols),
            pd.DataFrame(runs, columns=["experiment", "reference", "seed", "n_test", "wall_time_s"]))


def inference_passes(run_paths: Iterable[str | PathLike], networks: Iterable[str]) -> dict[tuple, float]:
    """(experiment, solver, n, seed) -> network passes per new problem of each network run: its
    run info's ``inference_passes`` (neural adjoint: its inversion steps), else 1."""
    wanted = set(networks)
    out = {}
    for path in run_paths:
        attrs = check_artifact(path, "run")
        if str(attrs["solver"]) not in wanted:
            continue
        info = (attrs.get("provenance") or {}).get("info") or {}
        key = (str(attrs["experiment"]), str(attrs["solver"]), int(attrs["n"]), int(attrs["seed"]))
        out[key] = float(info.get("inference_passes", 1))
    return out


def test_outcomes(test: pd.DataFrame, test_problems: pd.DataFrame, rtol: float,
                  solvers: SolverSet | None = None) -> pd.DataFrame:
    """Per problem: every network test prediction (frame ``test``) against every reference's loss
    on that test problem (``test_problems`` of :func:`load_test_runs`)."""
    if test.empty or test_problems.empty:
        return pd.DataFrame(columns=TEST_OUTCOME_COLUMNS)
    ref = test_problems.rename(columns={"loss": "reference_loss", "status": "reference_status",
                                        "evaluations": "reference_evaluations"})
    merged = test.merge(ref, on=["experiment", "seed", "problem"], how="inner")
    outcome = compare(merged["test_loss"].to_numpy(), merged["reference_loss"].to_numpy(), rtol)
    ref_failed = (merged["reference_status"] != STATUS_OK).to_numpy()
    outcome[ref_failed & (outcome != "failed")] = "bfgs_failed"
    merged["outcome"] = outcome
    return sort_frame(merged[TEST_OUTCOME_COLUMNS], ["reference", "problem"], solvers=solvers)


def _known(outcomes: pd.DataFrame, networks: set[str], references: set[str], rtol: float) -> pd.DataFrame:
    """Per (experiment, solver, n, seed, reference): beat / tie / lose of each network solver
    against each reference on the training problems (problems either failed on are left out)."""
    keys = ["experiment", "n", "seed", "problem"]
    ok = outcomes.assign(ok=outcomes["status"] == STATUS_OK)[keys + ["solver", "loss", "ok", "evaluations"]]
    ref = ok[ok["solver"].isin(references)].rename(columns={
        "solver": "reference", "loss": "reference_loss", "ok": "reference_ok", "evaluations": "reference_evaluations"})
    pairs = ok[ok["solver"].isin(networks)].merge(ref, on=keys)
    rows = []
    for key, grp in pairs.groupby(KEYS, sort=False):
        both = grp[grp["ok"] & grp["reference_ok"]]
        out = compare(both["loss"].to_numpy(), both["reference_loss"].to_numpy(), rtol)
        row = dict(zip(KEYS, key))
        row.update({f"{k}_known": v for k, v in outcome_fractions(out).items()})
        row["n_compared_known"] = int(np.isin(out, OUTCOMES).sum())
        row["mean_loss_known"] = float(grp.loc[grp["ok"], "loss"].mean())
        row["mean_reference_loss_known"] = float(grp.loc[grp["reference_ok"], "reference_loss"].mean())
        row["evaluations_reference_known"] = float(grp["reference_evaluations"].mean())
        rows.append(row)
    return pd.DataFrame(rows)


def generalisation(outcomes_new: pd.DataFrame, outcomes: pd.DataFrame, runs: pd.DataFrame,
                   test_runs: pd.DataFrame, passes: dict[tuple, float], rtol: float,
                   solvers: SolverSet | None = None) -> pd.DataFrame:
    """Per (experiment, network solver, n, seed, reference): see the module docstring.
    ``outcomes``: the aggregate's per-problem training frame; ``runs``: per run wall time and mean
    evaluations (``analysis.load_runs``); ``test_runs``: per test run (:func:`load_test_runs`)."""
    if outcomes_new.empty:
        return pd.DataFrame(columns=COLUMNS)
    known = _known(outcomes, set(outcomes_new["solver"]), set(outcomes_new["reference"]), rtol)
    run = runs.set_index(["experiment", "solver", "n", "seed"])
    ref_runs = test_runs.set_index(["experiment", "reference", "seed"])
    rows = []
    for key, grp in outcomes_new.groupby(KEYS, sort=False):
        row = dict(zip(KEYS, key))
        experiment, solver, n, seed, reference = key
        out = grp["outcome"].to_numpy()
        n_test = int(ref_runs.loc[(experiment, reference, seed), "n_test"])
        row.update(n_test=n_test, n_compared_new=int(np.isin(out, OUTCOMES).sum()),
                   failed_new=int((out == "failed").sum()), reference_failed_new=int((out == "bfgs_failed").sum()))
        row.update({f"{k}_new": v for k, v in outcome_fractions(out).items()})
        loss = grp["test_loss"].to_numpy(dtype=np.float64)
        loss = loss[np.isfinite(loss)]
        ref = grp.loc[out != "bfgs_failed", "reference_loss"].to_numpy(dtype=np.float64)
        ref = ref[np.isfinite(ref)]
        row.update(mean_loss_new=float(loss.mean()) if loss.size else np.nan,
                   median_loss_new=float(np.median(loss)) if loss.size else np.nan,
                   mean_reference_loss_new=float(ref.mean()) if ref.size else np.nan,
                   median_reference_loss_new=float(np.median(ref)) if ref.size else np.nan,
                   evaluations_reference_new=float(grp["reference_evaluations"].mean()))
        evals = float(run.loc[(experiment, solver, n, seed), "mean_evaluations"])
        row.update(evaluations_network=evals, amortised_evaluations=evals * n / (n + n_test),
                   inference_passes=passes.get((experiment, solver, n, seed), 1.0),
                   wall_time_s=float(run.loc[(experiment, solver, n, seed), "wall_time_s"]),
                   reference_wall_time_s_new=float(ref_runs.loc[(experiment, reference, seed), "wall_time_s"]))
        rows.append(row)
    frame = pd.DataFrame(rows)
    if not known.empty:
        frame = frame.merge(known, on=KEYS, how="left")
    return sort_frame(frame.reindex(columns=COLUMNS), ["reference"], solvers=solvers)


def frames(run_paths: Iterable[str | PathLike], test_run_paths: Iterable[str | PathLike], test: pd.DataFrame,
           outcomes: pd.DataFrame, runs: pd.DataFrame, solvers: SolverSet, rtol: float) -> dict[str, pd.DataFrame]:
    """The ``test_outcomes`` and ``generalisation`` frames of one experiment."""
    test_problems, test_runs = load_test_runs(test_run_paths)
    new = test_outcomes(test, test_problems, rtol, solvers)
    passes = inference_passes(run_paths, set(new["solver"])) if not new.empty else {}
    return {"test_outcomes": new,
            "generalisation": generalisation(new, outcomes, runs, test_runs, passes, rtol, solvers)}
