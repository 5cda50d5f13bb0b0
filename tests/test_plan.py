"""The job plan, asked in-process: which jobs a config produces, what they read and write, what a
code or config change reschedules and what each job asks a cluster for. (That Snakemake runs
exactly these jobs is tests/test_workflow.py's slow tier.)"""

from __future__ import annotations

import math
import re

import pytest
import yaml

from helpers import REPO, plan_of, set_key, smoke_config
from invnet import paths
from invnet.figures import figures
from invnet.sweeps import SWEEP_TABLES
from invnet.tables import tables


@pytest.fixture(scope="module")
def smoke_plan():
    return plan_of(smoke_config())


def test_data_and_solve_jobs_follow_the_config(smoke_plan):
    """One data job per (experiment, n, seed) and one solve job per configured solver on it."""
    blocks = smoke_config()["experiments"]
    counts = smoke_plan.counts()
    assert counts["generate_data"] == sum(len(b["n"]) * len(b["seeds"]) for b in blocks.values())
    assert counts["solve"] == sum(len(b["n"]) * len(b["seeds"]) * len(b["solvers"]) for b in blocks.values())
    assert counts["aggregate"] == len(blocks)
    assert counts["make_table"] == len(tables()) and {f"table{k}" for k in range(1, 6)} <= set(tables())
    for e, b in blocks.items():
        for n in b["n"]:
            for seed in b["seeds"]:
                data = smoke_plan.job("generate_data", {"experiment": e, "n": n, "seed": seed})
                assert data.outputs == {"data": f"results/data/{e}/n{n}/seed{seed}.h5"}
                for s in b["solvers"]:
                    job = smoke_plan.job("solve", {"experiment": e, "solver": s, "n": n, "seed": seed})
                    assert job.outputs == {"run": f"results/runs/{e}/{s}/n{n}/seed{seed}.h5"}
                    assert job.inputs["data"] == [data.outputs["data"]]
                    assert job.params["settings"]["maxiter" if "maxiter" in job.params["settings"] else "steps"]


def test_refinements_read_the_run_they_start_from(smoke_plan):
    job = smoke_plan.job("solve", {"experiment": "wavepacket", "solver": "jpo_bfgs", "n": 8, "seed": 1})
    assert job.inputs["init"] == ["results/runs/wavepacket/jpo/n8/seed1.h5"]
    assert "init" not in smoke_plan.job("solve", {"experiment": "wavepacket", "solver": "jpo", "n": 8, "seed": 1}).inputs


def test_every_input_is_made_by_exactly_one_job_and_every_path_follows_the_layout(smoke_plan):
    outputs = [p for j in smoke_plan.jobs for p in j.output_files]
    assert len(outputs) == len(set(outputs))
    made = set(outputs)
    for job in smoke_plan.jobs:
        missing = [p for p in job.input_files if p not in made]
        assert not missing, (job.rule, job.wildcards, missing)
    templates = [paths.DATA, paths.RUN, paths.TEST_RUN, paths.SURROGATE, paths.AGGREGATE, paths.PANELS,
                 paths.EXPERIMENT_FIGURE, paths.COMBINED_FIGURE, paths.TABLE, paths.STUDY_CHUNK, paths.STUDY_TABLE,
                 paths.REPORT_PAGE, paths.REPORT_CAPTIONS]
    patterns = [re.compile("^" + re.sub(r"\\\{\w+\\\}", r"[^/]+", re.escape(t)) + "$") for t in templates]
    assert all(any(p.match(path) for p in patterns) for path in outputs)
    for target in smoke_plan.all_targets():
        assert target in made, target


def test_figures_draw_the_experiments_they_apply_to(smoke_plan):
    blocks = smoke_config()["experiments"]
    for name, spec in figures().items():
        drawn = smoke_plan.figure_experiments(name)
        if spec.standalone:
            assert drawn == []
            continue
        matching = [e for e, b in blocks.items() if spec.applies_to(smoke_plan.experiments[e].family)]
        if set(spec.reads) & set(SWEEP_TABLES):  # drawn from sweeps: only where an experiment has them
            matching = [e for e in matching if any(s["experiment"] == e for s in smoke_config().get("sweeps", {}).values())]
        expected = matching if spec.per_experiment or spec.max_experiments is None else matching[: spec.max_experiments]
        assert drawn == expected, name
        panels = [j for j in smoke_plan.rule_jobs("figure_panels") if j.wildcards["figure"] == name]
        assert len(panels) == (len(drawn) if spec.panels is not None else 0), name
    # a panel step reads the representative problem set: largest n, first seed, every run on it
    job = next(j for j in smoke_plan.rule_jobs("figure_panels") if j.wildcards["experiment"] == "ks")
    assert job.inputs["data"] == ["results/data/ks/n16/seed0.h5"]
    assert sorted(job.inputs["runs"]) == sorted(f"results/runs/ks/{s}/n16/seed0.h5" for s in blocks["ks"]["solvers"])


def test_named_targets_list_their_files_and_the_artifacts_behind_them(smoke_plan):
    targets = smoke_plan.named_targets()
    assert set(tables()) <= set(targets)
    assert targets["table2"][:len(paths.TABLE_FORMATS)] == paths.table_files("table2")
    assert "results/runs/fluid/jpo/n8/seed0.h5" in targets["table2"]
    assert "results/figures/fig3.pdf" in targets["fig3"] and "results/data/wavepacket/n16/seed1.h5" in targets["fig3"]
    assert not any("/ks/" in p for p in targets["fig3"])  # Figure 3 draws the wave packet only
    assert "results/studies/alignment/abcd/chunk0.h5" in targets["fig2"]


def test_every_shipped_preset_builds_a_plan():
    for preset in ("config.yaml", "smoke.yaml", "paper.yaml", "robustness.yaml"):
        plan = plan_of(yaml.safe_load((REPO / "config" / preset).read_text()))
        made = {p for j in plan.jobs for p in j.output_files}
        assert {p for j in plan.jobs for p in j.input_files} <= made, preset
        assert set(plan.all_targets()) <= made, preset


# ------------------------------------------------------------------------------ what reruns


def _changed(before, after) -> dict[str, int]:
    """Jobs (per rule) Snakemake reruns going from plan ``before`` to ``after``: those whose
    params changed, and everything downstream of them."""
    changed = [j for j in after.jobs if before.job(j.rule, j.wildcards).params != j.params]
    counts: dict[str, int] = {}
    for job in after.downstream(changed):
        counts[job.rule] = counts.get(job.rule, 0) + 1
    return counts


def test_a_thread_change_reruns_the_solve_jobs_and_what_reads_them(smoke_plan):
    """JPO's reductions may depend on the torch thread count (machine- and build-specific):
    `threads` is a param of every solve job (and test-set solve job, and shared surrogate fit), and
    of no other job but the report page (which shows the whole config)."""
    other = plan_of({**smoke_config(), "threads": 2})
    changed = [j for j in other.jobs if smoke_plan.job(j.rule, j.wildcards).params != j.params]
    solving = ("solve", "solve_test", "fit_surrogate")
    assert {j.rule for j in changed} == {*solving, "report_page"}
    assert len(changed) == sum(smoke_plan.counts()[r] for r in solving) + 1
    assert all(j.threads == 2 and j.resources["cpus_per_task"] == 2 for r in solving for j in other.rule_jobs(r))


def test_a_setting_change_reruns_only_that_solver(smoke_plan):
    cfg = set_key(smoke_config(), "experiments.ks.solvers.gd.lr", 0.02)
    counts = _changed(smoke_plan, plan_of(cfg))
    assert counts["solve"] == 4  # ks: 2 n x 2 seeds
    assert "generate_data" not in counts and counts["aggregate"] == 1
    rtol = _changed(smoke_plan, plan_of({**smoke_config(), "compare_rtol": 0.01}))
    assert "solve" not in rtol and "generate_data" not in rtol and rtol["aggregate"] == 4


def test_a_surrogate_without_identifiers_is_fitted_once_per_seed_and_read_at_every_n():
    """The neural adjoint on the wave packet (no γ) shares its surrogate across n: one
    fit_surrogate job per seed, read by that seed's neural-adjoint solve job at every n and by no
    other solve job; on billiards (γ: its surrogate depends on n) each run fits its own. The fit's
    params are its solve jobs' without what depends on the problem set (its code fingerprint is
    theirs), so a change of the solver's settings reruns the fit and every run that reads it."""
    na = {"samples": 32, "hidden": [8], "surrogate_steps": 5, "steps": 5}
    cfg = {"experiments": {
        "wavepacket": {"family": "wavepacket", "n": [4, 8], "seeds": [0, 1],
                       "solvers": {"bfgs": {}, "neural_adjoint": na}},
        "billiards": {"family": "billiards", "n": [4, 8], "seeds": [0],
                      "solvers": {"bfgs": {}, "neural_adjoint": dict(na)}},
    }}
    plan = plan_of(cfg)
    fits = {tuple(j.wildcards.values()): j for j in plan.rule_jobs("fit_surrogate")}
    assert set(fits) == {("wavepacket", "neural_adjoint", "0"), ("wavepacket", "neural_adjoint", "1")}
    for (e, s, seed), fit in fits.items():
        assert fit.inputs == {} and fit.outputs == {"surrogate": f"results/surrogates/{e}/{s}/seed{seed}.h5"}
        for n in (4, 8):
            solve = plan.job("solve", {"experiment": e, "solver": s, "n": n, "seed": seed})
            assert solve.inputs == {"data": [f"results/data/{e}/n{n}/seed{seed}.h5"],
                                    "shared": [fit.outputs["surrogate"]]}
            assert fit.params == {k: v for k, v in solve.params.items()
                                  if k not in ("n", "n_test", "history_points", "start_from")}
            assert fit.threads == solve.threads and fit.resources["gpu"] == solve.resources["gpu"]
    reading = {tuple(j.wildcards.values()) for j in plan.rule_jobs("solve") if "shared" in j.inputs}
    assert reading == {("wavepacket", "neural_adjoint", str(n), str(seed)) for n in (4, 8) for seed in (0, 1)}
    assert all(j.inputs == {"data": [paths.data_file("billiards", int(j.wildcards["n"]), 0)]}
               for j in plan.rule_jobs("solve") if j.wildcards["experiment"] == "billiards")
    changed = _changed(plan, plan_of(set_key(cfg, "experiments.wavepacket.solvers.neural_adjoint.surrogate_steps", 6)))
    assert changed["fit_surrogate"] == 2 and changed["solve"] == 4
    # priority: a fit starts before the runs that wait for it
    assert all(plan.priorities[f.key] > plan.priorities[plan.job("solve", {**f.wildcards, "n": n}).key]
               for f in fits.values() for n in (4, 8))


# Editing one module reschedules exactly the jobs whose results it can change (smoke config:
# wavepacket 2 n x 2 seeds = 4 problem sets, 9 solvers; billiards 1 problem set and ks 4, each with
# bfgs, gd, jpo; fluid 2 problem sets with bfgs, gd, jpo; BFGS on each seed's test set (6 jobs:
# wavepacket 2, billiards 1, ks 2, fluid 1); the alignment study in one chunk). A figure's panel
# step reads every run of the representative problem set, so it follows any solver change.
# Per-experiment figures: scatter, beat_fraction, budget, loss_ecdf, example_solutions,
# training_curves, cost_scaling, outcome_bars and generalisation for all four (loss_ecdf and
# example_solutions with a panel step), trajectories for billiards, ks_roughness for ks. Tables:
# table1 ... table5, generalisation and the verdict; the wave packet's training-length sweep (one
# sweep job) and its claim_map.
CODE_CHANGES = {
    "problems/wavepacket.py": {  # and the wave packet's sweeps (the sweep job and its claim map)
        "generate_data": 4, "fit_surrogate": 2, "solve": 36, "solve_test": 2, "aggregate": 1, "figure_panels": 3,
        "plot_combined_figure": 1, "plot_experiment_figure": 10, "make_table": 7, "sweep": 1,
    },
    "problems/billiards.py": {
        "generate_data": 1, "solve": 3, "solve_test": 1, "aggregate": 1, "figure_panels": 4,
        "plot_combined_figure": 1, "plot_experiment_figure": 10, "make_table": 7,
    },
    "problems/ks.py": {
        "generate_data": 4, "solve": 12, "solve_test": 2, "aggregate": 1, "figure_panels": 4,
        "plot_combined_figure": 1, "plot_experiment_figure": 10, "make_table": 7,
    },
    "problems/fluid.py": {
        "generate_data": 2, "solve": 6, "solve_test": 1, "aggregate": 1, "figure_panels": 3,
        "plot_combined_figure": 1, "plot_experiment_figure": 9, "make_table": 7,
    },
    "solvers/gd.py": {  # wavepacket 4 + billiards 1 + ks 4 + fluid 2 runs
        "solve": 11, "aggregate": 4, "figure_panels": 14, "plot_combined_figure": 4,
        "plot_experiment_figure": 38, "make_table": 7,
    },
    "solvers/network_training.py": {  # jpo and supervised, and the refinements started from them
        "solve": 23, "aggregate": 4, "figure_panels": 14, "plot_combined_figure": 4,
        "plot_experiment_figure": 39, "make_table": 7, "sweep": 1,
    },
    "solvers/neural_adjoint.py": {  # its 2 surrogates (one per seed), 4 wavepacket runs and what reads them
        "fit_surrogate": 2, "solve": 4, "aggregate": 1, "figure_panels": 3, "plot_combined_figure": 1,
        "plot_experiment_figure": 9, "make_table": 7,
    },
    "figures/scatter.py": {"plot_experiment_figure": 4},
    "figures/fig3.py": {"figure_panels": 1, "plot_combined_figure": 1},
    "figures/fig1.py": {"plot_combined_figure": 1},
    "figures/fig2.py": {"plot_combined_figure": 1},
    "figures/fig4.py": {"figure_panels": 1, "plot_combined_figure": 1},
    "figures/fig5.py": {"figure_panels": 1, "plot_combined_figure": 1},  # no figure imports another
    "figures/fig_fluid.py": {"figure_panels": 1, "plot_combined_figure": 1},
    # helper modules: only the figures that import them
    "figures/roles.py": {"figure_panels": 4, "plot_combined_figure": 3, "plot_experiment_figure": 1},  # fig3, 5, fluid, trajectories
    # fig5, fluid, ks_roughness; the sweep job (local minima of a parameter sweep) and its claim map
    "figures/landscape.py": {"figure_panels": 3, "plot_combined_figure": 2, "plot_experiment_figure": 2, "sweep": 1},
    "figures/data_view.py": {"figure_panels": 4, "plot_experiment_figure": 4},  # example_solutions
    "figures/log_ticks.py": {"plot_experiment_figure": 8},  # training_curves, cost_scaling
    "figures/loss_ecdf.py": {"figure_panels": 4, "plot_experiment_figure": 4},
    # what tables and figures know about solvers: no solve job (it changes no number of a run)
    "solver_info.py": {"aggregate": 4, "figure_panels": 14, "plot_experiment_figure": 39, "plot_combined_figure": 6,
                       "make_table": 7, "sweep": 1},
    "studies/alignment.py": {"study_chunk": 1, "study_table": 1, "plot_combined_figure": 1},
    "tables/table1.py": {"make_table": 1},
    "tables/table2.py": {"make_table": 1},
    "tables/table3.py": {"make_table": 1},
    "tables/table4.py": {"make_table": 1},
    "tables/table5.py": {"make_table": 1},
    "tables/generalisation.py": {"make_table": 1},
    "figures/generalisation.py": {"plot_experiment_figure": 4},
    "tables/reading.py": {"make_table": 2},  # Tables 1 and 5
    "tables/render.py": {"make_table": 7},  # Tables 1-5, the verdict and generalisation
    "tables/verdict.py": {"make_table": 1},
    "bootstrap.py": {"make_table": 1},  # the verdict's intervals
    "report.py": {},  # the report page alone (below)
    # every aggregate, and what reads them; not the figures drawn from panels or studies alone
    # (trajectories, ks_roughness, example_solutions, fig1, fig2), whose panel steps need no analysis
    "analysis.py": {"aggregate": 4, "figure_panels": 4, "plot_experiment_figure": 33, "plot_combined_figure": 4,
                    "make_table": 5, "sweep": 1},  # Tables 2, 3, 4, the verdict and generalisation
    "generalisation.py": {"aggregate": 4, "figure_panels": 4, "plot_experiment_figure": 33, "plot_combined_figure": 4,
                          "make_table": 5, "sweep": 1},  # the aggregate's generalisation frames; what imports analysis
    # the robustness sweeps: the sweep job of the wave packet and its claim map
    "sweep_frame.py": {"sweep": 1, "plot_experiment_figure": 1},
    "figures/claim_map.py": {"plot_experiment_figure": 1},
}
# ... and every edit redoes the report page: its inputs are every artifact, its code every
# figure's and table's module (their captions)
for _counts in CODE_CHANGES.values():
    _counts["report_page"] = 1


@pytest.fixture
def edit(monkeypatch):
    """``edit("figures/fig3.py")`` makes the fingerprints see that file as changed."""
    from invnet import fingerprint

    original = fingerprint._code

    def apply(module: str) -> None:
        target = (fingerprint.ROOT / module).resolve()
        assert target.is_file(), module
        monkeypatch.setattr(fingerprint, "_code", lambda path: original(path) + ("#edited" if path == target else ""))

    return apply


@pytest.mark.parametrize("module", sorted(CODE_CHANGES))
def test_a_code_change_reschedules_what_it_changes(smoke_plan, edit, module):
    edit(module)
    assert _changed(smoke_plan, plan_of(smoke_config())) == CODE_CHANGES[module]


# ------------------------------------------------------------------------------ resources


def test_resource_requests_follow_the_measured_table():
    """Requests come from workflow/resources.yaml: 2 min + 3 x the measured wall time, scaled
    linearly in n above the measured n and by the configured budget (steps) over the measured;
    doubled on a retry."""
    table = yaml.safe_load((REPO / "workflow" / "resources.yaml").read_text())
    measured = table["solve"]["wavepacket"]["jpo"]
    m = max(measured)
    cfg = {"experiments": {"wavepacket": {"family": "wavepacket", "n": [4 * m], "seeds": [0],
                                          "solvers": {"bfgs": {}, "jpo": {"steps": 2 * measured[m]["steps"]}}}}}
    plan = plan_of(cfg, table)
    job = plan.job("solve", {"experiment": "wavepacket", "solver": "jpo", "n": 4 * m, "seed": 0})
    runtime = 2 + math.ceil(3 * measured[m]["s"] * 4 * 2 / 60)
    mem = 100 * math.ceil((1.5 * measured[m]["max_rss_mb"] + 500) / 100)
    assert job.resources["runtime"] == runtime and job.resources["mem_mb"] == mem
    functions = plan.resource_functions("solve")
    wildcards = dict(job.wildcards)
    assert functions["runtime"](wildcards, 2) == 2 * runtime and functions["mem_mb"](wildcards, 3) == 3 * mem
    # not measured: the cost classes (KS forward ~ 60x the wave packet) size the request
    ks = plan_of({"experiments": {"ks": {"family": "ks", "n": [64], "seeds": [0], "solvers": {"bfgs": {}}}}}, {})
    assert ks.job("solve", {"experiment": "ks", "solver": "bfgs", "n": 64, "seed": 0}).resources["mem_mb"] == 2000


def test_solve_jobs_ask_for_a_gpu_only_when_the_config_computes_on_cuda():
    cuda = plan_of({**smoke_config(), "device": "cuda"})
    solving = ("solve", "solve_test", "fit_surrogate")
    assert all(j.resources["gpu"] == 1 for j in cuda.jobs if j.rule in solving)
    assert all("gpu" not in j.resources for j in cuda.jobs if j.rule not in solving)
    cpu = plan_of({**smoke_config(), "device": "cpu"})
    assert all(j.resources["gpu"] == 0 for j in cpu.jobs if j.rule in solving)


def test_wildcard_constraints_match_exactly_the_configured_names(smoke_plan):
    constraints = smoke_plan.wildcard_constraints()
    experiment = re.compile(f"^(?:{constraints['experiment']})$")
    assert all(experiment.match(e) for e in smoke_config()["experiments"])
    assert not experiment.match("billiards_chain")  # not in the smoke config
    assert not re.match(f"^(?:{smoke_plan.figure_constraint(per_experiment=True)})$", "fig3")
