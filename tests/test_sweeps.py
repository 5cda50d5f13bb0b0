"""Robustness sweeps (docs/experiments.md §2.6): the config block and its expansion into sweep
points, the plan's sweep job, the frames it writes (recomputed here from the run artifacts
without the code under test), the claim-map figure and the generated claims section."""

from __future__ import annotations

import copy
import math

import h5py
import numpy as np
import pandas as pd
import pytest

from helpers import REPO, plan_of
from invnet import paths
from invnet.claims import BEGIN, END, claims_markdown, replace_block
from invnet.config import resolve_config
from invnet.errors import ConfigError
from invnet.sweep_frame import matched_starts, summarize_sweeps, verdict, wilson

SOLVERS = {
    "bfgs": {"maxiter": 40},
    "bfgs_multistart": {"maxiter": 40, "starts": 12, "budget": [1, 12]},
    "gd": {"steps": 20},
    "jpo": {"hidden": [16], "steps": 200, "until": "converged", "converge_window": 15, "converge_rtol": 1e-2,
            "checkpoints": [10, 40]},
}


def sweep_config():
    return {
        "history_points": 20,
        "experiments": {"wavepacket": {"family": "wavepacket", "n": [6, 12], "seeds": [0, 1], "n_test": 2,
                                       "solvers": copy.deepcopy(SOLVERS)}},
        "sweeps": {
            "length": {"experiment": "wavepacket", "over": "steps", "values": [10, 40, 200], "n": 12},
            "size": {"experiment": "wavepacket", "over": "n"},
            "noise": {"experiment": "wavepacket", "over": "noise", "values": [0.03, 0.1], "n": 6},
        },
    }


# ------------------------------------------------------------------------------ config


def test_a_parameter_sweep_derives_experiments_that_change_one_thing():
    """Fairness by construction: a sweep point is its base experiment with the swept parameter,
    the sizes, the label and the problem draws changed, and every solver block as declared."""
    config = resolve_config(sweep_config(), check_cuda=False)
    assert list(config["experiments"]) == ["wavepacket", "wavepacket_noise0p03"]  # 0.1 is the base's own
    base, point = config["experiments"]["wavepacket"], config["experiments"]["wavepacket_noise0p03"]
    assert point["solvers"] == base["solvers"]
    assert point["problem"] == {**base["problem"], "noise": 0.03}
    assert point["n"] == [6] and point["draws"] == "wavepacket" and base["draws"] == ""
    assert {k for k in base if base[k] != point[k]} == {"problem", "n", "label", "draws"}
    assert config["sweeps"]["size"]["values"] == [6, 12] and config["sweeps"]["noise"]["n"] == 6
    assert resolve_config(config, check_cuda=False) == config  # the resolved config resolves to itself


@pytest.mark.parametrize("path, value, key, words", [
    ("experiment", "ks", "sweeps.noise.experiment", "allowed: wavepacket"),
    ("over", "speed", "sweeps.noise.over", "allowed: steps, n, n_samples, sigma, frequency, noise"),
    ("values", [], "sweeps.noise.values", "required"),
    ("values", [-0.1], "sweeps.noise.values", ">= 0"),
])
def test_bad_sweeps_name_the_key(path, value, key, words):
    config = sweep_config()
    config["sweeps"]["noise"][path] = value
    with pytest.raises(ConfigError) as err:
        resolve_config(config, check_cuda=False)
    assert key in str(err.value) and words in str(err.value), str(err.value)


def test_a_sweep_needs_checkpoints_and_the_matched_baseline():
    config = sweep_config()
    config["sweeps"]["length"]["values"] = [10, 20]
    with pytest.raises(ConfigError, match=r"sweeps.length.values.*\[20\].*reachable: \[10, 40, 200\]"):
        resolve_config(config, check_cuda=False)
    config = sweep_config()
    del config["experiments"]["wavepacket"]["solvers"]["bfgs_multistart"]
    with pytest.raises(ConfigError, match=r"sweeps.length.experiment.*no multi-start of bfgs"):
        resolve_config(config, check_cuda=False)


def test_the_plan_runs_each_sweep_from_the_runs_of_its_points():
    plan = plan_of(sweep_config())
    job = plan.job("sweep", {"experiment": "wavepacket"})
    expected = {paths.run_file(e, s, n, seed) for s in ("jpo", "bfgs", "bfgs_multistart") for seed in (0, 1)
                for e, n in (("wavepacket", 12), ("wavepacket", 6), ("wavepacket_noise0p03", 6))}
    assert set(job.inputs["runs"]) == expected
    assert job.outputs == {t: f"results/aggregate/wavepacket/{t}.csv" for t in ("sweep", "sweep_summary")}
    # the point's experiment has the base's solvers at its one n; the claim map is drawn for the base only
    assert {j.wildcards["solver"] for j in plan.rule_jobs("solve") if j.wildcards["experiment"] != "wavepacket"} \
        == set(SOLVERS) | {"bfgs_multistart"}
    assert plan.figure_experiments("claim_map") == ["wavepacket"]
    # the data of a point are drawn from its base's stream
    assert plan.job("generate_data", {"experiment": "wavepacket_noise0p03", "n": 6, "seed": 0}).params["draws"] \
        == "wavepacket"
    assert "draws" not in plan.job("generate_data", {"experiment": "wavepacket", "n": 6, "seed": 0}).params


def test_nothing_in_the_workflow_names_a_sweep():
    text = "".join(p.read_text() for p in [REPO / "Snakefile", *sorted((REPO / "workflow").rglob("*.smk"))])
    for name in ("steps", "horizon", "noise", "training_length", "claim_map"):
        assert name not in text, name


# ------------------------------------------------------------------------------ numbers


def test_matched_starts_take_the_fewest_starts_that_reach_the_target():
    rng = np.random.default_rng(0)
    loss = rng.uniform(0, 1, (40, 9))
    loss[3, :4] = np.nan  # failed starts are skipped
    evals = rng.integers(1, 30, (40, 9))
    target = rng.integers(1, 200, 40)
    best, spent, k, matched = matched_starts(loss, evals, target)
    for i in range(40):  # a plain loop as the reference
        total, j = 0, 0
        while j < 9 and total < target[i]:
            total += evals[i, j]
            j += 1
        assert k[i] == j and matched[i] == (total >= target[i]) and spent[i] == total
        first = loss[i, :j][~np.isnan(loss[i, :j])]
        assert (best[i] == first.min()) if first.size else np.isnan(best[i])


def test_wilson_interval_and_sign_test_against_their_formulas():
    z = 1.959963984540054
    for k, n in [(0, 10), (7, 10), (23, 32), (50, 50)]:
        p = k / n
        centre, half = (p + z * z / (2 * n)) / (1 + z * z / n), z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
        assert wilson(k, n) == pytest.approx((centre - half, centre + half), abs=1e-9)
    for beat, lose in [(23, 7), (7, 23), (12, 10), (0, 0)]:
        m = beat + lose
        tail = sum(math.comb(m, j) for j in range(0, min(beat, lose) + 1)) / 2**m if m else 1.0
        expected = min(1.0, 2 * tail)
        decided = "holds" if beat > lose else "fails"
        assert verdict(beat, lose) == (decided if expected < 0.05 else "undecided", pytest.approx(expected))


@pytest.fixture(scope="module")
def swept(tmp_path_factory):
    """The tiny sweep config run in-process: data, solves, the sweep job and the claim map."""
    root = tmp_path_factory.mktemp("sweeps")
    plan = plan_of(sweep_config())
    rules = ("generate_data", "solve", "sweep")
    plan.run([j for j in plan.jobs if j.rule in rules or j.wildcards.get("figure") == "claim_map"], root)
    return plan, root


def _read(root, experiment, solver, n, seed):
    with h5py.File(root / paths.run_file(experiment, solver, n, seed), "r") as f:
        return {k: f[k][()] for k in f}


def test_the_sweep_frame_recounts_from_the_run_artifacts(swept):
    """Every row's counts recomputed from the HDF5 runs: the comparison rule of §2.2 written out
    here, the checkpoint for a training length, the multi-start's first starts summed by hand."""
    plan, root = swept
    frame = pd.read_csv(root / "results/aggregate/wavepacket/sweep.csv")
    assert len(frame) == 2 * 2 * (3 + 2 + 2)  # (seeds) x (against) x (values of the three sweeps)
    for row in frame.to_dict("records"):
        jpo = _read(root, row["point"], "jpo", row["n"], row["seed"])
        if row["over"] == "steps" and row["value"] in jpo["checkpoint_step"]:
            c = list(jpo["checkpoint_step"]).index(row["value"])
            loss, evals = jpo["checkpoint_loss"][c], jpo["checkpoint_evaluations"][c]
        else:
            loss, evals = jpo["loss"], jpo["evaluations"]
        if row["against"] == "baseline":
            other = _read(root, row["point"], "bfgs", row["n"], row["seed"])["loss"]
        else:
            ms = _read(root, row["point"], "bfgs_multistart", row["n"], row["seed"])
            other = []
            for i in range(len(loss)):
                spent = np.cumsum(ms["start_evaluations"][i])
                k = int(np.searchsorted(spent, evals[i])) + 1
                other.append(np.min(ms["start_loss"][i, : min(k, spent.size)]))
            other = np.array(other)
        beat = int((loss < other * (1 - 1e-3)).sum())
        lose = int((loss > other * (1 + 1e-3)).sum())
        assert (row["n_beat"], row["n_lose"], row["n_tie"]) == (beat, lose, len(loss) - beat - lose), row
        assert row["evaluations_method"] == pytest.approx(np.mean(evals))
    steps = frame[(frame["over"] == "steps") & (frame["against"] == "baseline")].sort_values(["seed", "value"])
    stop = {s: int(_read(root, "wavepacket", "jpo", 12, s)["iterations"][0]) for s in (0, 1)}
    assert steps["step"].tolist() == [10, 40, stop[0], 10, 40, stop[1]]  # 200 is the cap: the converged stop


def test_the_summary_pools_the_seeds(swept):
    _, root = swept
    frame = pd.read_csv(root / "results/aggregate/wavepacket/sweep.csv")
    summary = pd.read_csv(root / "results/aggregate/wavepacket/sweep_summary.csv")
    again = summarize_sweeps(frame)
    for row in summary.to_dict("records"):
        grp = frame[(frame["sweep"] == row["sweep"]) & (frame["value"] == row["value"]) & (frame["against"] == row["against"])]
        assert row["n_beat"] == grp["n_beat"].sum() and row["beat_mean"] == pytest.approx(grp["beat"].mean())
        assert row["beat_std"] == pytest.approx(grp["beat"].std(ddof=1))
    assert len(again) == len(summary) and summary["label"].eq("Wave packet").all()


def test_the_claim_map_draws_a_column_per_sweep(swept):
    import matplotlib.pyplot as plt
    from invnet.figures import FigureInputs, figures

    plan, root = swept
    assert (root / "results/figures/wavepacket/claim_map.png").stat().st_size > 0
    job = plan.job("plot_experiment_figure", {"experiment": "wavepacket", "figure": "claim_map"})
    tables = {t: [str(root / p) for p in job.inputs["tables"] if p.endswith(f"/{t}.csv")] for t in job.params["reads"]}
    from invnet.solver_info import SolverSet

    inputs = FigureInputs.load(["wavepacket"], job.params["labels"], job.params["families"], tables,
                               solvers=SolverSet(job.params["solvers"]))
    fig = figures()["claim_map"].plot(inputs, root / "c.pdf", root / "c.png")
    titles = [ax.get_title(loc="left") for ax in fig.axes[:3]]
    assert titles == ["(a) length, $n = 12$", "(b) size", "(c) noise, $n = 6$"]
    assert [ax.get_xlabel().split("\n")[0] for ax in fig.axes[3:6]] == ["training steps of JPO", "problems n", "noise"]
    assert "loss flat from step" in fig.axes[3].get_xlabel()  # where JPO's loss flattened, marked
    # the top row draws each sweep's pooled beat fractions: recomputed from the summary
    summary = inputs.tables["sweep_summary"]
    for col, sweep in enumerate(("length", "size", "noise")):
        lines = [ln for ln in fig.axes[col].get_lines() if ln.get_linestyle() in ("-", "--")]
        for against, line in zip(("baseline", "multistart"), lines):
            sel = summary[(summary["sweep"] == sweep) & (summary["against"] == against)].sort_values("value")
            np.testing.assert_allclose(line.get_ydata(), sel["beat_pooled"])
    plt.close(fig)


# ------------------------------------------------------------------------------ generated section


def _summary_rows():
    """A given sweep_summary frame: training length with a verdict that changes, not matched."""
    rows = []
    for value, (vb, vm), flat in [(300, ("fails", "fails"), 0.0), (1000, ("undecided", "fails"), 0.5),
                                  (3000, ("holds", "fails"), 1.0)]:
        for against, v, classical in (("baseline", vb, "bfgs"), ("multistart", vm, "bfgs_multistart")):
            rows.append({
                "experiment": "ks", "label": "Kuramoto–Sivashinsky", "sweep": "length", "over": "steps",
                "value": value, "against": against, "method": "jpo", "classical": classical,
                "method_label": "JPO", "classical_label": {"bfgs": "BFGS"}.get(classical, "BFGS multi-start"),
                "n": 64, "n_seeds": 2, "beat_mean": 0.4, "beat_std": 0.05, "n_beat": 50, "n_tie": 0, "n_lose": 78,
                "n_compared": 128, "beat_ci_low": 0.31, "beat_ci_high": 0.48, "verdict": v,
                "evaluations_method_mean": value + 1.0, "evaluations_classical_mean": 90.0 if against == "baseline" else value,
                "starts_mean": 1.0 if against == "baseline" else value / 25, "matched_min": np.nan if against == "baseline"
                else (0.9 if value == 3000 else 1.0), "step_min": value, "step_max": value, "flat_fraction": flat,
                "mean_loss_method_mean": 0.9, "mean_loss_classical_mean": 0.7 if against == "baseline" else 0.2,
            })
    return pd.DataFrame(rows)


def test_the_claims_section_states_where_the_claim_holds_and_where_it_depends_on_budget():
    text = claims_markdown(_summary_rows())
    assert "**Kuramoto–Sivashinsky** (`ks`)" in text
    assert "- `length`, JPO vs BFGS: holds at steps = 3000; fails at steps = 300; undecided at steps = 1000." in text
    assert "- `length`, JPO vs BFGS multi-start at matched evaluations: fails at steps = 300, 1000, 3000." in text
    assert "**Depends on the budget**: the verdict changes with JPO's training length." in text
    assert text.count("Depends on the budget") == 1  # not for the multi-start: its verdict never changes
    assert "had not flattened (by its convergence rule) at steps = 300, 1000" in text
    assert "⚠ At steps = 3000 the multi-start" in text
    row = next(line for line in text.splitlines() if line.startswith("| 3000 |"))
    assert row.startswith("| 3000 | 64 | 0.40 ± 0.05 (50/128, [0.31, 0.48]) | holds |")
    assert row.endswith("| 3,001, 90, 3,000 (120.0) ⚠ | 0.9, 0.7, 0.2 | 3,000 (yes) |")
    assert "No sweep results yet" in claims_markdown(pd.DataFrame())


def test_the_claims_block_is_replaced_between_its_markers_only():
    doc = f"# head\nkeep\n{BEGIN}\nold text\n{END}\ntail\n"
    once = replace_block(doc, "new\n")
    assert once == f"# head\nkeep\n{BEGIN}\nnew\n{END}\ntail\n"
    assert replace_block(once, "new\n") == once
    with pytest.raises(ValueError, match="README.md: needs one"):
        replace_block("no markers", "x", "README.md")
    for doc in ("docs/experiments.md", "README.md"):  # the documents carry the block
        text = (REPO / doc).read_text()
        assert text.count(BEGIN) == 1 and text.count(END) == 1, doc


@pytest.mark.parametrize("family, params, exact", [("wavepacket", {}, True), ("ks", {"horizon": 2.0}, True),
                                                   ("billiards", {}, True),
                                                   ("fluid", {"n_grid": 16, "horizon": 0.5, "dt": 0.1}, False)])
def test_a_large_multistart_batch_in_chunks_is_the_same_run(monkeypatch, family, params, exact):
    """The matched multi-start of the sweeps runs K·n rows; evaluated in chunks of rows (bounded
    memory) the run is bit for bit the one evaluated at once, except for the fluid, whose batched
    FFTs round differently with the batch size (measured: 1 ulp): there the same to 1e-12."""
    import torch

    from invnet.problems import make_family
    from invnet.seeding import numpy_rng
    from invnet.solvers import SolveProblem, build_solver, solve
    from invnet.solvers import compose

    fam = make_family(family, params)
    train = fam.sample(5, numpy_rng(0, f"{family}/train/n5"))

    def run():
        torch.set_num_threads(1)
        return solve(build_solver("bfgs_multistart", {"starts": 7, "budget": [1, 7], "maxiter": 30}),
                     SolveProblem(fam, train))

    whole = run()
    monkeypatch.setattr(compose, "MAX_ROWS_PER_CALL", 4)  # 35 rows in 9 calls per round
    chunked = run()
    same = np.testing.assert_array_equal if exact else lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-12)
    for key in ("x", "loss", "iterations", "evaluations", "status"):
        (same if key in ("x", "loss") else np.testing.assert_array_equal)(getattr(chunked, key), getattr(whole, key))
    for key in ("start_loss", "start_evaluations", "start_x"):
        same(chunked.extras[key], whole.extras[key])


def test_a_family_can_bound_the_rows_of_one_call(monkeypatch):
    """A family whose rows hold much memory (the fluid: ~9 MB each) declares ``max_rows_per_call``:
    no forward/backward call of a multi-start on it sees more rows, and the run is the same."""
    import torch

    from invnet.problems import make_family
    from invnet.seeding import numpy_rng
    from invnet.solvers import SolveProblem, build_solver, solve

    fam = make_family("wavepacket", {})
    train = fam.sample(5, numpy_rng(0, "wavepacket/train/n5"))
    sizes: list[int] = []
    forward = type(fam).forward

    def counted(self, x, gamma):
        if x.requires_grad:
            sizes.append(x.shape[0])
        return forward(self, x, gamma)

    def run():
        torch.set_num_threads(1)
        return solve(build_solver("bfgs_multistart", {"starts": 7, "budget": [1, 7], "maxiter": 30}),
                     SolveProblem(fam, train))

    monkeypatch.setattr(type(fam), "forward", counted)
    whole = run()
    assert max(sizes) == 35  # 7 starts x 5 problems in one call
    sizes.clear()
    monkeypatch.setattr(fam, "max_rows_per_call", 3, raising=False)
    chunked = run()
    assert sizes and max(sizes) <= 3 and 3 in sizes
    for key in ("x", "loss", "iterations", "evaluations"):
        np.testing.assert_array_equal(getattr(chunked, key), getattr(whole, key))
    fluid = make_family("fluid", {})  # the default 32², T = 2: calls of ~2.5 GB (measured ~9.4 MB per row)
    assert fluid.max_rows_per_call == 265 and make_family("fluid", {"n_grid": 64}).max_rows_per_call == 66
