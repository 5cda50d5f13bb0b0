"""Comparison against BFGS, seed spread, aggregation and tables on hand-made data."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from invnet import analysis
from invnet.artifacts import write_h5
from invnet.errors import ArtifactError
from invnet.solvers import solver_set
from invnet.tables import TableInputs, write_table
from invnet.tables import render as tables
from invnet.tables import tables as tables_registry

SOLVERS = solver_set(["bfgs", "bfgs_multistart", "gd", "jpo", "jpo_bfgs"], {"bfgs_multistart": {"starts": 3, "budget": [1, 2, 3]}})


def _write_table(name, frames, out, labels=None, rtol=1e-3):
    """Render table ``name`` from in-memory frames and write its three files; the numeric frame."""
    inputs = TableInputs(list(labels or {"wavepacket": "wavepacket"}), dict(labels or {}), frames, SOLVERS,
                         {"compare_rtol": rtol})
    rendered = tables_registry()[name].render(inputs)
    write_table(rendered, out["csv"], out["tex"], out["md"])
    return rendered.numeric

# ------------------------------------------------------------------------------ compare


def test_compare_basic():
    out = analysis.compare([0.5, 1.0, 1.5], [1.0, 1.0, 1.0], rtol=1e-3)
    assert list(out) == ["beat", "tie", "lose"]


@pytest.mark.parametrize(
    ("loss", "expected"),
    [
        (0.5, "tie"),  # exactly L_BFGS * (1 - rtol): not strictly below
        (0.49999, "beat"),
        (0.75, "tie"),
        (1.5, "tie"),  # exactly L_BFGS * (1 + rtol): not strictly above
        (1.50001, "lose"),
        (0.0, "beat"),
    ],
)
def test_compare_rtol_boundaries(loss, expected):
    # rtol = 0.5 and L_BFGS = 1 make both thresholds exact binary fractions
    assert analysis.compare([loss], [1.0], rtol=0.5)[0] == expected


def test_compare_default_rtol_edges():
    base = 0.2
    rtol = 1e-3
    just_below = np.nextafter(base * (1 - rtol), -np.inf)
    just_above = np.nextafter(base * (1 + rtol), np.inf)
    out = analysis.compare(
        [just_below, base * (1 - rtol), base * 0.9995, base * (1 + rtol), just_above],
        [base] * 5,
        rtol=rtol,
    )
    assert list(out) == ["beat", "tie", "tie", "tie", "lose"]


def test_compare_zero_rtol_and_zero_baseline():
    assert list(analysis.compare([1.0, 0.999, 1.001], [1.0] * 3, rtol=0.0)) == ["tie", "beat", "lose"]
    # a BFGS loss of exactly zero cannot be beaten; any positive loss loses
    assert list(analysis.compare([0.0, 1e-12], [0.0, 0.0])) == ["tie", "lose"]


def test_compare_nan():
    nan = float("nan")
    inf = float("inf")
    out = analysis.compare([nan, 1.0, nan, inf, 1.0, inf], [1.0, nan, nan, 1.0, inf, inf])
    # a non-finite loss is never a win, a loss or a tie (issue 11: NaN BFGS losses were "beaten")
    assert list(out) == ["failed", "bfgs_failed", "failed", "failed", "bfgs_failed", "failed"]
    assert all(np.isnan(v) for v in analysis.outcome_fractions(out).values())


def test_compare_broadcasts_and_checks_rtol():
    assert list(analysis.compare([0.1, 10.0], 1.0)) == ["beat", "lose"]
    with pytest.raises(ValueError, match="rtol"):
        analysis.compare([1.0], [1.0], rtol=1.0)
    with pytest.raises(ValueError, match="rtol"):
        analysis.compare([1.0], [1.0], rtol=-0.1)


def test_outcome_fractions():
    fr = analysis.outcome_fractions(["beat", "beat", "tie", "lose"])
    assert fr == {"beat": 0.5, "tie": 0.25, "lose": 0.25}
    assert all(math.isnan(v) for v in analysis.outcome_fractions([]).values())


# ------------------------------------------------------------------------------ seed spread


def test_seed_spread():
    s = analysis.seed_spread([0.2, 0.4, 0.6])
    assert s["mean"] == pytest.approx(0.4)
    assert s["std"] == pytest.approx(0.2)  # sample std, ddof = 1
    assert (s["min"], s["max"], s["count"]) == (0.2, 0.6, 3)
    one = analysis.seed_spread([0.7])
    assert one["mean"] == 0.7 and math.isnan(one["std"]) and one["count"] == 1
    assert analysis.seed_spread([np.nan, 1.0, 3.0])["mean"] == 2.0
    assert analysis.seed_spread([])["count"] == 0


def _problems(losses: dict[tuple[str, int], list[float]], n: int = 4) -> pd.DataFrame:
    rows = []
    for (solver, seed), values in losses.items():
        assert len(values) == n
        for i, v in enumerate(values):
            rows.append(
                {"experiment": "wavepacket", "solver": solver, "n": n, "seed": seed, "problem": i, "loss": v}
            )
    return pd.DataFrame(rows)


def test_outcomes_fractions_summary():
    problems = _problems(
        {
            ("bfgs", 0): [1.0, 1.0, 1.0, 1.0],
            ("bfgs", 1): [1.0, 1.0, 1.0, 1.0],
            ("jpo", 0): [0.1, 0.1, 1.0, 2.0],  # beat 2, tie 1, lose 1
            ("jpo", 1): [0.1, 0.1, 0.1, 0.1],  # beat 4
            ("gd", 0): [1.0, 1.0, 1.0, 1.0],  # tie 4
            ("gd", 1): [3.0, 3.0, 3.0, 1.0],  # lose 3, tie 1
        }
    )
    outcomes = analysis.with_outcomes(problems, SOLVERS, rtol=1e-3)
    assert list(outcomes["solver"].unique()) == ["bfgs", "gd", "jpo"]  # canonical order
    assert outcomes.loc[outcomes["solver"] == "bfgs", "outcome"].isna().all()
    assert (outcomes["loss_bfgs"] == 1.0).all()

    frac = analysis.fractions(outcomes, SOLVERS)
    jpo = frac[frac["solver"] == "jpo"].set_index("seed")
    assert jpo.loc[0, ["beat", "tie", "lose"]].tolist() == [0.5, 0.25, 0.25]
    assert jpo.loc[1, ["beat", "tie", "lose"]].tolist() == [1.0, 0.0, 0.0]
    assert frac.loc[frac["solver"] == "bfgs", "beat"].isna().all()

    summary = analysis.summarize(frac, solvers=SOLVERS).set_index("solver")
    assert summary.loc["jpo", "beat_mean"] == pytest.approx(0.75)
    assert summary.loc["jpo", "beat_std"] == pytest.approx(np.std([0.5, 1.0], ddof=1))
    assert (summary.loc["jpo", "beat_min"], summary.loc["jpo", "beat_max"]) == (0.5, 1.0)
    assert summary.loc["gd", "lose_mean"] == pytest.approx(0.375)
    assert summary.loc["gd", "tie_min"] == pytest.approx(0.25)
    assert summary.loc["jpo", "n_seeds"] == 2


def test_missing_bfgs_run_is_an_error():
    problems = _problems({("bfgs", 0): [1.0] * 4, ("jpo", 1): [0.5] * 4})
    with pytest.raises(ArtifactError, match="no BFGS run.*seed=1"):
        analysis.with_outcomes(problems, SOLVERS)


def test_history_band_holds_last_value():
    history = pd.DataFrame(
        {
            "experiment": "wavepacket",
            "solver": "bfgs",
            "n": 8,
            "seed": [0, 0, 1, 1, 1],
            "step": [0, 2, 0, 1, 3],
            "loss": [4.0, 2.0, 6.0, 3.0, 1.0],
        }
    )
    band = analysis.history_band(history, "wavepacket", 8, list(SOLVERS))
    assert band["step"].tolist() == [0, 1, 2, 3]
    # seed 0 on the grid: 4 4 2 2; seed 1: 6 3 3 1
    assert band["mean"].tolist() == [5.0, 3.5, 2.5, 1.5]
    assert band["min"].tolist() == [4.0, 3.0, 2.0, 1.0]
    assert band["max"].tolist() == [6.0, 4.0, 3.0, 2.0]
    assert band["std"].iloc[0] == pytest.approx(np.std([4.0, 6.0], ddof=1))
    assert band["n_seeds"].tolist() == [2, 2, 2, 2]


# ------------------------------------------------------------------------------ artifacts


def write_run(path, datasets, attrs):
    """A run artifact of the current schema: what a test leaves out is filled in (all problems
    finite, one history entry)."""
    n = len(datasets["loss"])
    full = {"problem_status": np.zeros(n, np.int64), "iterations": np.ones(n, np.int64),
            "evaluations": np.ones(n, np.int64), "loss_history": np.array([1.0]),
            "history_step": np.array([0]), **datasets}
    write_h5(path, full, {"kind": "run", "config": {}, **attrs})


def _fake_artifacts(tmp_path):
    """Two seeds, n = 3, solvers bfgs and jpo, with known per-problem losses."""
    runs, data = [], []
    losses = {
        ("bfgs", 0): [1.0, 1.0, 1.0],
        ("jpo", 0): [0.5, 1.0, 2.0],
        ("bfgs", 1): [0.2, 0.2, 0.2],
        ("jpo", 1): [0.1, 0.1, 0.3],
    }
    for seed in (0, 1):
        path = tmp_path / f"data_seed{seed}.h5"
        write_h5(
            path,
            {"x_true": np.full((3, 2), seed, dtype=float), "y_target": np.zeros((3, 5))},
            {"kind": "data", "experiment": "wavepacket", "n": 3, "seed": seed, "n_test": 0,
             "problem": {"param_names": ["t0", "A"]}, "provenance": {}},
        )
        data.append(path)
    for (solver, seed), loss in losses.items():
        path = tmp_path / f"{solver}_seed{seed}.h5"
        write_run(
            path,
            {
                "x": np.ones((3, 2)),
                "loss": np.array(loss),
                "iterations": np.array([3, 4, 5]),
                "evaluations": np.array([4, 5, 6]),
                "loss_history": np.array([2.0, 1.0]),
                "history_step": np.array([0, 5]),
                **({"test_loss": np.array([0.3, 0.4])} if solver == "jpo" else {}),
            },
            {
                "experiment": "wavepacket",
                "solver": solver,
                "n": 3,
                "seed": seed,
                "provenance": {"wall_time_s": 1.5},
            },
        )
        runs.append(path)
    return runs, data


def test_aggregate_from_artifacts(tmp_path):
    runs, data = _fake_artifacts(tmp_path)
    frames = analysis.aggregate(runs, data, SOLVERS, rtol=1e-3)
    out = frames["outcomes"]
    assert len(out) == 12
    assert {"x_t0", "x_A", "x_true_t0", "x_true_A"} <= set(out.columns)
    jpo = out[out["solver"] == "jpo"]
    assert jpo["outcome"].tolist() == ["beat", "tie", "lose", "beat", "beat", "lose"]
    frac = frames["fractions"].set_index(["solver", "seed"])
    assert frac.loc[("jpo", 0), "beat"] == pytest.approx(1 / 3)
    assert frac.loc[("jpo", 1), "beat"] == pytest.approx(2 / 3)
    assert frac.loc[("jpo", 0), "wall_time_s"] == 1.5
    summary = frames["summary"].set_index("solver")
    assert summary.loc["jpo", "beat_mean"] == pytest.approx(0.5)
    assert summary.loc["jpo", "lose_std"] == pytest.approx(0.0)
    assert len(frames["history"]) == 8
    assert len(frames["test"]) == 4 and set(frames["test"]["solver"]) == {"jpo"}


def test_duplicate_run_is_an_error(tmp_path):
    runs, data = _fake_artifacts(tmp_path)
    with pytest.raises(ArtifactError, match="second run artifact"):
        analysis.load_runs(runs + runs[:1], data)


# ------------------------------------------------------------------------------ tables


def test_mean_pm_std_and_escape():
    assert tables.mean_pm_std(0.4213, 0.0512) == "0.42 ± 0.05"
    assert tables.mean_pm_std(0.5, float("nan")) == "0.50"
    assert tables.mean_pm_std(float("nan"), 0.1) == "–"
    assert tables.latex_escape("jpo_bfgs & 50%") == r"jpo\_bfgs \& 50\%"


def test_booktabs_and_markdown():
    df = pd.DataFrame({"Method": ["JPO", "GD"], "n": [16, 64]})
    tex = tables.to_booktabs(df)
    assert tex.splitlines()[0] == r"\begin{tabular}{lr}"
    assert r"\toprule" in tex and r"\midrule" in tex and r"\bottomrule" in tex
    assert r"JPO & 16 \\" in tex
    md = tables.to_markdown(df)
    assert md.splitlines()[0].startswith("| Method")
    assert "| JPO" in md


def test_write_table2(tmp_path):
    runs, data = _fake_artifacts(tmp_path)
    frac = analysis.aggregate(runs, data, SOLVERS)["fractions"]
    out = {ext: tmp_path / f"table2.{ext}" for ext in ("csv", "tex", "md")}
    numeric = _write_table("table2", {"fractions": frac}, out)
    assert numeric["solver"].tolist() == ["jpo"]  # BFGS, the baseline, is left out
    back = pd.read_csv(out["csv"])
    assert back.loc[0, "beat_mean"] == pytest.approx(0.5)
    assert back.loc[0, "beat_std"] == pytest.approx(np.std([1 / 3, 2 / 3], ddof=1))
    tex = out["tex"].read_text()
    assert r"\begin{tabular}{llrcccrrrrr}" in tex and r"0.50 $\pm$ 0.24" in tex
    # what each spent, next to the fractions: jpo 5 evaluations per problem, bfgs 5 too
    assert back.loc[0, "mean_evaluations_mean"] == 5 and back.loc[0, "bfgs_evaluations_mean"] == 5
    md = out["md"].read_text()
    assert "0.50 ± 0.24" in md and "JPO" in md
    assert not list(tmp_path.glob(".*.tmp.*"))  # atomic writes leave no temporary files


def _multistart_artifact(tmp_path, seed: int, start_loss, start_evals):
    start_loss, start_evals = np.asarray(start_loss, float), np.asarray(start_evals)
    path = tmp_path / f"bfgs_multistart_seed{seed}.h5"
    write_run(
        path,
        {"x": np.ones((3, 2)), "loss": start_loss.min(axis=1), "iterations": np.ones(3, int),
         "evaluations": start_evals.sum(axis=1), "loss_history": np.array([1.0]),
         "history_step": np.array([0]), "start_loss": start_loss, "start_evaluations": start_evals},
        {"experiment": "wavepacket", "solver": "bfgs_multistart", "n": 3, "seed": seed,
         "provenance": {"wall_time_s": 2.0}, "config": {"solver": {"budget": [1, 2, 3]}}},
    )
    return path


def test_budget_frame_compares_every_method_with_best_of_k_starts(tmp_path):
    runs, data = _fake_artifacts(tmp_path)
    # seed 0: jpo losses [0.5, 1.0, 2.0]; starts per problem (x0 first, then two prior draws)
    runs.append(_multistart_artifact(tmp_path, 0, [[1.0, 0.4, 0.1], [1.0, 2.0, 1.0], [3.0, 3.0, 1.5]],
                                     [[5, 6, 7], [5, 5, 5], [4, 4, 4]]))
    runs.append(_multistart_artifact(tmp_path, 1, [[0.2, 0.2, 0.2]] * 3, [[1, 1, 1]] * 3))
    bud = analysis.aggregate(runs, data, SOLVERS)["budget"]
    jpo0 = bud[(bud["solver"] == "jpo") & (bud["seed"] == 0)].set_index("starts")
    # k = 1: [1, 1, 3] -> jpo beats, ties, beats; k = 2: [0.4, 1, 3] -> lose, tie, beat;
    # k = 3: [0.1, 1, 1.5] -> lose, tie, lose
    assert jpo0.loc[1, ["beat", "tie", "lose"]].tolist() == pytest.approx([2 / 3, 1 / 3, 0])
    assert jpo0.loc[2, ["beat", "tie", "lose"]].tolist() == pytest.approx([1 / 3, 1 / 3, 1 / 3])
    assert jpo0.loc[3, ["beat", "tie", "lose"]].tolist() == pytest.approx([0, 1 / 3, 2 / 3])
    assert jpo0["evaluations_classical"].tolist() == pytest.approx([14 / 3, 29 / 3, 45 / 3])
    assert jpo0["evaluations_method"].tolist() == pytest.approx([5, 5, 5])
    assert jpo0.loc[3, "mean_loss_classical"] == pytest.approx((0.1 + 1.0 + 1.5) / 3)
    # bfgs itself is a method compared with the multi-start too; k = 1 (x0) equals it here
    bfgs0 = bud[(bud["solver"] == "bfgs") & (bud["seed"] == 0)].set_index("starts")
    assert bfgs0.loc[1, "tie"] == pytest.approx(2 / 3)
    assert set(bud["solver"]) == {"bfgs", "jpo"}


def test_write_table4(tmp_path):
    runs, data = _fake_artifacts(tmp_path)
    summary = analysis.aggregate(runs, data, SOLVERS)["summary"]
    out = {ext: tmp_path / f"table4.{ext}" for ext in ("csv", "tex", "md")}
    numeric = _write_table("table4", {"summary": summary}, out, labels={"wavepacket": "Wave packet"})
    assert numeric["solver"].tolist() == ["bfgs", "jpo"]
    assert numeric["mean_evaluations_mean"].tolist() == [5, 5]
    assert numeric["wall_time_s_mean"].tolist() == [1.5, 1.5]
    md = out["md"].read_text()
    assert "Wave packet" in md and "Evals / problem" in md and "1.50 ± 0.00" in md


def test_refinements_count_the_run_they_start_from(tmp_path):
    runs, data = _fake_artifacts(tmp_path)
    path = tmp_path / "jpo_bfgs_seed0.h5"
    write_run(path, {"x": np.ones((3, 2)), "loss": np.array([0.5, 1.0, 2.0]), "evaluations": np.array([1, 2, 3])},
             {"experiment": "wavepacket", "solver": "jpo_bfgs", "n": 3, "seed": 0, "provenance": {"wall_time_s": 0.1}})
    frac = analysis.aggregate(runs + [path], data, SOLVERS)["fractions"].set_index(["solver", "seed"])
    assert frac.loc[("jpo_bfgs", 0), "mean_evaluations"] == 2  # its own BFGS evaluations
    assert frac.loc[("jpo_bfgs", 0), "mean_total_evaluations"] == 2 + 5  # plus JPO's 5 per problem
    assert frac.loc[("jpo", 0), "mean_total_evaluations"] == 5
