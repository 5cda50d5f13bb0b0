"""Inference on new problems (docs/experiments.md §2.5): per-problem methods solve each seed's test
set once per seed (solve_test jobs); the network methods' test predictions are compared with them
per problem. The outcomes, fractions and costs of the aggregate and the table are recomputed here
from the artifacts with the comparison rule written in this file; the figure names every network
method and reference; the plan schedules one test run per (experiment, test solver, seed)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from helpers import plan_of, tiny_wavepacket
from invnet.artifacts import read_h5
from invnet.config import InvalidConfig, resolve_config
from invnet.figures import FigureInputs, figures
from invnet.solver_info import SolverInfo, SolverSet

RTOL = 1e-3
NA_STEPS = 20
SOLVERS = {"bfgs": {"maxiter": 30}, "lbfgsb": {"maxiter": 30}, "jpo": {"hidden": [8], "steps": 40},
           "neural_adjoint": {"samples": 48, "hidden": [8], "surrogate_steps": 20, "steps": NA_STEPS}}
SIZES, SEEDS, N_TEST = [4, 8], [0, 1], 6


def config() -> dict:
    cfg = tiny_wavepacket(SOLVERS, compare_rtol=RTOL)
    cfg["experiments"]["wavepacket"].update(n=SIZES, seeds=SEEDS, n_test=N_TEST, test_solvers=["bfgs", "lbfgsb"])
    return cfg


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    """The plan's data, solve, test-run and aggregate jobs, the generalisation figure and table,
    run in-process: (root, plan)."""
    root = tmp_path_factory.mktemp("generalisation")
    plan = plan_of(config())
    jobs = [j for j in plan.jobs if j.rule in ("generate_data", "fit_surrogate", "solve", "solve_test", "aggregate")
            or j.wildcards.get("figure") == "generalisation" or j.wildcards.get("table") == "generalisation"]
    plan.run(jobs, root)
    return root, plan


def _loss(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The wave packet's loss, written here: u(t) = A exp(-(t - t0)² / 2σ²) sin(2πf(t - t0))."""
    t = np.linspace(0.0, 1.0, y.shape[1])
    d = t[None, :] - x[:, :1]
    u = x[:, 1:] * np.exp(-d**2 / (2 * 0.1**2)) * np.sin(2 * np.pi * 10.0 * d)
    return ((u - y) ** 2).mean(axis=1)


def _outcome(loss: float, reference: float, reference_ok: bool) -> str:
    """The rule of §2.2, written here: beat below (1 - rtol)·L_ref, lose above (1 + rtol)·L_ref."""
    if not math.isfinite(loss):
        return "failed"
    if not reference_ok or not math.isfinite(reference):
        return "bfgs_failed"
    return "beat" if loss < reference * (1 - RTOL) else "lose" if loss > reference * (1 + RTOL) else "tie"


def _run(root, solver, n, seed):
    return read_h5(root / f"results/runs/wavepacket/{solver}/n{n}/seed{seed}.h5", "run")[0]


def _test_run(root, solver, seed):
    return read_h5(root / f"results/runs/wavepacket/{solver}/test/seed{seed}.h5", "test_run")


def test_the_plan_runs_each_test_solver_once_per_seed_on_the_smallest_n_data(study):
    _, plan = study
    jobs = plan.rule_jobs("solve_test")
    assert sorted((j.wildcards["solver"], j.wildcards["seed"]) for j in jobs) == sorted(
        (s, str(seed)) for s in ("bfgs", "lbfgsb") for seed in SEEDS)
    for job in jobs:
        seed = job.wildcards["seed"]
        assert job.inputs == {"data": [f"results/data/wavepacket/n{min(SIZES)}/seed{seed}.h5"]}
        assert job.outputs == {"run": f"results/runs/wavepacket/{job.wildcards['solver']}/test/seed{seed}.h5"}
    aggregate = plan.job("aggregate", {"experiment": "wavepacket"})
    assert sorted(aggregate.inputs["test_runs"]) == sorted(j.outputs["run"] for j in jobs)


def test_a_test_run_solves_the_seeds_test_set_shared_by_every_n(study):
    root, _ = study
    for seed in SEEDS:
        data = [read_h5(root / f"results/data/wavepacket/n{n}/seed{seed}.h5", "data")[0] for n in SIZES]
        assert all(np.array_equal(d["test_y_target"], data[0]["test_y_target"]) for d in data)  # the same set
        arrays, attrs = _test_run(root, "bfgs", seed)
        assert attrs["n"] == N_TEST and attrs["data_n"] == min(SIZES) and attrs["kind"] == "test_run"
        np.testing.assert_allclose(arrays["loss"], _loss(arrays["x"], data[0]["test_y_target"]), rtol=1e-10)
        assert (arrays["evaluations"] >= 1).all()
        # BFGS from x0 improves on x0 on every new problem it did not stop at
        x0 = np.broadcast_to([0.5, 1.0], arrays["x"].shape)
        assert (arrays["loss"] <= _loss(x0, data[0]["test_y_target"]) + 1e-15).all()
    with pytest.raises(Exception, match="expected a run artifact"):  # no reader takes it for a training run
        read_h5(root / "results/runs/wavepacket/bfgs/test/seed0.h5", "run")


def test_per_problem_outcomes_recomputed_from_the_artifacts(study):
    root, _ = study
    got = pd.read_csv(root / "results/aggregate/wavepacket/test_outcomes.csv")
    expected = []
    for solver in ("jpo", "neural_adjoint"):
        for n in SIZES:
            for seed in SEEDS:
                net = _run(root, solver, n, seed)
                for reference in ("bfgs", "lbfgsb"):
                    ref, _ = _test_run(root, reference, seed)
                    for i in range(N_TEST):
                        expected.append({"solver": solver, "n": n, "seed": seed, "reference": reference, "problem": i,
                                         "outcome": _outcome(net["test_loss"][i], ref["loss"][i],
                                                             ref["problem_status"][i] == 0),
                                         "test_loss": net["test_loss"][i], "reference_loss": ref["loss"][i],
                                         "reference_evaluations": ref["evaluations"][i]})
    expected = pd.DataFrame(expected)
    keys = ["solver", "n", "seed", "reference", "problem"]
    merged = expected.merge(got, on=keys, suffixes=("", "_got"), validate="one_to_one")
    assert len(merged) == len(expected) == len(got)
    assert (merged["outcome"] == merged["outcome_got"]).all()
    for col in ("test_loss", "reference_loss", "reference_evaluations"):
        np.testing.assert_allclose(merged[col], merged[f"{col}_got"], rtol=1e-12)
    assert set(got["outcome"]) >= {"beat", "lose"}  # both outcomes occur: the comparison is not degenerate


def test_fractions_and_costs_recomputed_from_the_artifacts(study):
    root, _ = study
    gen = pd.read_csv(root / "results/aggregate/wavepacket/generalisation.csv").set_index(
        ["solver", "n", "seed", "reference"])
    assert len(gen) == 2 * len(SIZES) * len(SEEDS) * 2
    for (solver, n, seed, reference), row in gen.iterrows():
        net, ref, train_ref = _run(root, solver, n, seed), _test_run(root, reference, seed)[0], _run(root, reference, n, seed)
        new = [_outcome(a, b, s == 0) for a, b, s in zip(net["test_loss"], ref["loss"], ref["problem_status"])]
        known = [_outcome(a, b, s == 0) for a, b, s in zip(net["loss"], train_ref["loss"], train_ref["problem_status"])]
        for outcome in ("beat", "tie", "lose"):
            assert row[f"{outcome}_new"] == pytest.approx(new.count(outcome) / sum(o in ("beat", "tie", "lose") for o in new))
            assert row[f"{outcome}_known"] == pytest.approx(known.count(outcome) / len(known))
        assert row["evaluations_reference_new"] == pytest.approx(ref["evaluations"].mean())
        assert row["evaluations_reference_known"] == pytest.approx(train_ref["evaluations"].mean())
        assert row["evaluations_network"] == pytest.approx(net["evaluations"].mean())
        assert row["amortised_evaluations"] == pytest.approx(net["evaluations"].sum() / (n + N_TEST))
        assert row["inference_passes"] == (NA_STEPS if solver == "neural_adjoint" else 1)
        assert row["mean_loss_new"] == pytest.approx(net["test_loss"].mean())
        assert row["n_test"] == N_TEST


def test_the_table_column_is_the_seed_mean_of_the_recomputed_fractions(study):
    root, _ = study
    table = pd.read_csv(root / "results/tables/generalisation.csv").set_index(["solver", "n"])
    assert set(table.index) == {(s, n) for s in ("jpo", "neural_adjoint") for n in SIZES}  # against BFGS only
    for (solver, n), row in table.iterrows():
        beat_new, beat_known, bfgs_evals = [], [], []
        for seed in SEEDS:
            net, ref, train_ref = _run(root, solver, n, seed), _test_run(root, "bfgs", seed)[0], _run(root, "bfgs", n, seed)
            beat_new.append(np.mean([_outcome(a, b, s == 0) == "beat"
                                     for a, b, s in zip(net["test_loss"], ref["loss"], ref["problem_status"])]))
            beat_known.append(np.mean([_outcome(a, b, s == 0) == "beat"
                                       for a, b, s in zip(net["loss"], train_ref["loss"], train_ref["problem_status"])]))
            bfgs_evals.append(ref["evaluations"].mean())
        assert row["beat_new_mean"] == pytest.approx(np.mean(beat_new))
        assert row["beat_new_std"] == pytest.approx(np.std(beat_new, ddof=1))
        assert row["beat_known_mean"] == pytest.approx(np.mean(beat_known))
        assert row["evaluations_reference_new_mean"] == pytest.approx(np.mean(bfgs_evals))
    md = (root / "results/tables/generalisation.md").read_text()
    assert "Beats BFGS: new" in md and "Neural adjoint" in md


def test_the_figure_names_every_network_method_and_reference_and_a_plugin_network(study):
    """A network method the package does not know (a copy of JPO's rows under another name and
    label) is drawn like the others: the figure picks networks by their role."""
    root, plan = study
    tables = {t: pd.read_csv(root / f"results/aggregate/wavepacket/{t}.csv") for t in ("generalisation", "test_outcomes")}
    plugin = SolverInfo(name="my_net", label="My net", order=45, method="my_net", network=True,
                        style={"color": [0.8, 0.1, 0.5]})
    for name in tables:
        copy = tables[name][tables[name]["solver"] == "jpo"].assign(solver="my_net")
        tables[name] = pd.concat([tables[name], copy], ignore_index=True)
    solvers = SolverSet.merge(plan.experiments["wavepacket"].solvers, [plugin])
    inputs = FigureInputs(["wavepacket"], {"wavepacket": "Wave packet"}, {"wavepacket": "wavepacket"}, tables,
                          solvers=solvers)
    fig = figures()["generalisation"].plot(inputs, root / "g.pdf", root / "g.png")
    texts = [t.get_text() for leg in fig.legends for t in leg.get_texts()]
    for label in ("JPO", "Neural adjoint", "My net", "BFGS", "L-BFGS-B"):
        assert any(t.startswith(label) for t in texts), (label, texts)
    assert any(f"{NA_STEPS} network passes per new problem" in t for t in texts)
    # (a): known (solid) and new (dashed) curves for each of the three networks
    ax_a = fig.axes[0]
    assert len([line for line in ax_a.get_lines() if line.get_linestyle() in ("-", "--")]) >= 6
    assert (root / "results/figures/wavepacket/generalisation.png").is_file()


def test_the_figure_says_when_nothing_was_run_on_new_problems(tmp_path):
    empty = {"generalisation": pd.DataFrame(), "test_outcomes": pd.DataFrame()}
    solvers = SolverSet([SolverInfo("bfgs", "BFGS", 0, "bfgs", baseline=True)])
    fig = figures()["generalisation"].plot(FigureInputs(["e"], {"e": "E"}, {"e": "f"}, empty, solvers=solvers),
                                           tmp_path / "g.pdf", tmp_path / "g.png")
    assert any("test_solvers" in t.get_text() for ax in fig.axes for t in ax.texts)


@pytest.mark.parametrize("value, needle", [
    (["jpo"], "'jpo' is a network method"),
    (["jpo_bfgs"], "'jpo_bfgs' is a refinement of 'jpo'"),
    (["gd"], "'gd' is not a configured solver"),
])
def test_test_solvers_must_be_configured_per_problem_methods_from_x0(value, needle):
    cfg = tiny_wavepacket({"bfgs": {}, "jpo": {}, "jpo_bfgs": {}})
    cfg["experiments"]["wavepacket"]["test_solvers"] = value
    with pytest.raises(InvalidConfig) as err:
        resolve_config(cfg, check_cuda=False)
    assert err.value.lines[0].startswith("experiments.wavepacket.test_solvers[0]:") and needle in err.value.lines[0]
    assert "allowed: bfgs" in err.value.lines[0]
