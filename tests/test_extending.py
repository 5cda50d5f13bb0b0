"""docs/extending.md stays true: its worked examples (an experiment, a solver, a figure and a
table), copied into a scratch copy of the repository as the files the page says to touch (2, 2,
1 and 1), are scheduled by the job plan without any edit to the workflow, and Snakemake runs
them."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from helpers import REPO, copy_workflow, snakemake

DOC = REPO / "docs" / "extending.md"
BLOCK = re.compile(r"<!-- (file|config): (\S+) -->\n```\w*\n(.*?)```", re.S)
EXAMPLES = {  # kind -> the files (and config blocks) the page's table says it touches
    "experiment": {"src/invnet/problems/oscillator.py", "experiments.oscillator"},
    "solver": {"src/invnet/solvers/heavy_ball.py", "experiments.wavepacket.solvers.heavy_ball"},
    "figure": {"src/invnet/figures/loss_distribution.py"},
    "table": {"src/invnet/tables/median_loss.py"},
}


def doc_blocks() -> dict[str, tuple[str, str]]:
    return {target: (kind, body) for kind, target, body in BLOCK.findall(DOC.read_text())}


def touched_counts() -> dict[str, int]:
    """The page's own table: files touched per kind of plug-in."""
    counts = {}
    for kind in ("an experiment", "a solver", "a figure", "a table"):
        row = next(line for line in DOC.read_text().splitlines() if line.startswith(f"| {kind} "))
        counts[kind.split()[1]] = int(re.search(r"\(\*\*(\d)\*\*", row).group(1))
    return counts


@pytest.fixture(scope="module")
def extended(tmp_path_factory):
    """A copy of workflow and package with the page's files added and a config using them."""
    work = copy_workflow(tmp_path_factory.mktemp("extending") / "wf", with_src=True)
    config = {"history_points": 20, "experiments": {}}
    for target, (kind, body) in doc_blocks().items():
        if kind == "file":
            (work / target).write_text(body)
        else:
            config["experiments"].update(yaml.safe_load(body))
    # smoke-sized: one n and seed of the page's experiment, small budgets (its own blocks otherwise)
    osc = config["experiments"]["oscillator"]
    osc.update(n=[16], seeds=[0], n_test=4)
    for solver, budget in (("bfgs", {"maxiter": 50}), ("gd", {"steps": 50}), ("jpo", {"hidden": [16], "steps": 50})):
        osc["solvers"][solver] = {**osc["solvers"][solver], **budget}
    config["experiments"]["wavepacket"] = {  # the solver's config key, in a second experiment
        "family": "wavepacket", "n": [8], "seeds": [0], "n_test": 4,
        "solvers": {"bfgs": {"maxiter": 20}, "heavy_ball": {"steps": 20}},
    }
    (work / "config" / "extended.yaml").write_text(yaml.safe_dump(config))
    return work, config


def test_the_page_has_every_worked_example_with_its_file_count():
    """Each example is on the page (the solver's second file is its key in a config block, which
    the fixture adds), and the page's table counts exactly the files the fixture touches."""
    blocks = set(doc_blocks())
    assert set().union(*EXAMPLES.values()) - blocks == {"experiments.wavepacket.solvers.heavy_ball"}
    assert touched_counts() == {k: len(v) for k, v in EXAMPLES.items()} == {
        "experiment": 2, "solver": 2, "figure": 1, "table": 1}


def _plan_in(work: Path) -> dict:
    """The job plan of the extended config, built by the copied package (a fresh Python)."""
    code = (
        "import json, yaml\n"
        "from invnet.config import resolve_config\n"
        "from invnet.plan import Plan\n"
        "plan = Plan(resolve_config(yaml.safe_load(open('config/extended.yaml')), check_cuda=False))\n"
        "print(json.dumps({'jobs': [[j.rule, j.wildcards] for j in plan.jobs], 'targets': list(plan.named_targets()),"
        " 'labels': {s: i.label for s, i in plan.experiments['wavepacket'].solvers.items()}}))\n"
    )
    env = dict(os.environ, PYTHONPATH=str(work / "src"))
    out = subprocess.run([sys.executable, "-c", code], cwd=work, env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.splitlines()[-1])


def test_examples_are_scheduled_without_workflow_edits(extended):
    work, config = extended
    plan = _plan_in(work)
    jobs = [(rule, wc) for rule, wc in plan["jobs"]]
    osc = config["experiments"]["oscillator"]
    data = [wc for rule, wc in jobs if rule == "generate_data" and wc["experiment"] == "oscillator"]
    assert len(data) == len(osc["n"]) * len(osc["seeds"])
    solves = {(wc["experiment"], wc["solver"]) for rule, wc in jobs if rule == "solve"}
    assert {("oscillator", s) for s in osc["solvers"]} <= solves and ("wavepacket", "heavy_ball") in solves
    figures = {(wc.get("experiment"), wc["figure"]) for rule, wc in jobs if rule == "plot_experiment_figure"}
    assert {("oscillator", "loss_distribution"), ("wavepacket", "loss_distribution")} <= figures
    assert ("make_table", {"table": "median_loss"}) in jobs
    assert {"median_loss", "loss_distribution"} <= set(plan["targets"])
    assert plan["labels"]["heavy_ball"] == "Heavy ball"


@pytest.mark.slow
def test_examples_run(extended):
    work, _ = extended
    targets = ["results/runs/oscillator/jpo/n16/seed0.h5", "results/runs/wavepacket/heavy_ball/n8/seed0.h5",
               "results/figures/wavepacket/loss_distribution.png", "median_loss"]
    # targets first: after --configfile Snakemake would read them as further config files
    run = snakemake(work, *targets, "--cores", "2", "--configfile", "config/extended.yaml", pythonpath=work / "src")
    assert run.returncode == 0, run.stderr[-4000:]
    from invnet.artifacts import read_h5

    for target in targets[:2]:
        arrays, attrs = read_h5(work / target)
        assert arrays["loss"].shape == (int(Path(target).parent.name[1:]),)
        assert (arrays["loss"] >= 0).all() and attrs["provenance"]["code_fingerprint"]
    md = (work / "results" / "tables" / "median_loss.md").read_text()
    assert "Heavy ball" in md and "Damped oscillator" in md and "Median loss" in md
