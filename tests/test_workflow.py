"""The Snakemake workflow itself: what only a real Snakemake run can show (slow tier). The jobs,
their params, reruns and resources are the plan's, tested in-process in tests/test_plan.py;
here Snakemake must schedule exactly the plan's jobs, run the smoke DAG end to end, reschedule
what the plan says after a code edit and keep presets apart; the SLURM profile must parse (the
SLURM runs themselves: tests/test_slurm.py). Each test runs in a temporary copy of the workflow
(helpers.copy_workflow).
"""

from __future__ import annotations

import re
import subprocess
import time

import pytest
import yaml

from helpers import REPO, copy_workflow, job_counts, plan_of, smoke_config, snakemake, tool


def dry_run_jobs(output: str) -> set[tuple[str, tuple[str, ...]]]:
    """(rule, sorted outputs) of every job of a ``snakemake -n`` listing (target rules have none)."""
    jobs = set()
    for block in re.split(r"\n\[[^\]\n]+\]\n", output):
        rule = re.search(r"^(?:local)?rule (\w+):", block, re.M)
        out = re.search(r"^\s+output: (.*)$", block, re.M)
        if rule and out:
            jobs.add((rule.group(1), tuple(sorted(p.strip() for p in out.group(1).split(",")))))
    return jobs


def plan_jobs(plan) -> set[tuple[str, tuple[str, ...]]]:
    return {(j.rule, tuple(sorted(j.output_files))) for j in plan.jobs}


# ------------------------------------------------------------------------------ smoke DAG


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    """The smoke DAG run once in a copy of the workflow and of the package (src/ first on the
    path, so tests can edit the package's code and see what Snakemake reschedules)."""
    work = copy_workflow(tmp_path_factory.mktemp("smoke") / "wf", with_src=True)
    t0 = time.perf_counter()
    run = snakemake(work, "--cores", "2", "--configfile", "config/smoke.yaml", timeout=900, pythonpath=work / "src")
    run.wall_s = time.perf_counter() - t0
    return work, run


@pytest.mark.slow
def test_snakemake_schedules_exactly_the_plans_jobs(tmp_path):
    """A forced dry run of the smoke preset lists the plan's jobs: same rules, same outputs."""
    work = copy_workflow(tmp_path / "wf")
    dry = snakemake(work, "-n", "--forceall", "--configfile", "config/smoke.yaml")
    assert dry.returncode == 0, dry.stderr[-3000:]
    assert dry_run_jobs(dry.stdout) == plan_jobs(plan_of(smoke_config()))


@pytest.mark.slow
def test_smoke_dag_end_to_end(smoke_run, measured):
    work, run = smoke_run
    assert run.returncode == 0, run.stderr[-5000:]
    assert "Using workflow specific profile profiles/default" in run.stderr
    plan = plan_of(smoke_config())
    missing = [p for j in plan.jobs for p in j.output_files if not (work / p).is_file()]
    assert not missing, f"missing outputs: {missing}"
    for job in plan.jobs:  # one log and one benchmark per job (benchmarks/profile.py reads them)
        assert (work / job.log).is_file(), job.log
        assert (work / job.benchmark).is_file(), job.benchmark
    assert not list((work / "results").rglob(".*.tmp.*")), "temporary files left behind"

    # Nothing left to do: neither for the default target nor for any named target (one dry run
    # for all of them: nothing to do for the union means nothing for each).
    targets = ["all", *plan.named_targets()]
    dry = snakemake(work, *targets, "-n", "--configfile", "config/smoke.yaml", pythonpath=work / "src")
    assert dry.returncode == 0, dry.stderr[-3000:]
    assert "Nothing to be done" in dry.stdout + dry.stderr, (dry.stdout + dry.stderr)[-3000:]
    measured(f"smoke DAG: {len(plan.jobs)} jobs, {run.wall_s:.0f} s wall")


@pytest.mark.slow
def test_a_code_edit_reschedules_what_the_plan_says(smoke_run, monkeypatch):
    """Editing a solver module in the run's copy of the package: Snakemake's dry run reruns
    the jobs the plan predicts in-process (tests/test_plan.py has every module's counts)."""
    work, run = smoke_run
    assert run.returncode == 0, run.stderr[-3000:]
    module = "solvers/gd.py"
    path = work / "src" / "invnet" / module
    original = path.read_text()
    try:
        path.write_text(original + "\n_EDITED = True\n")
        dry = snakemake(work, "-n", "--configfile", "config/smoke.yaml", pythonpath=work / "src")
    finally:
        path.write_text(original)
    assert dry.returncode == 0, dry.stderr[-3000:]
    counts = job_counts(dry.stdout + dry.stderr)

    from invnet import fingerprint

    target = (fingerprint.ROOT / module).resolve()
    before = plan_of(smoke_config())
    code = fingerprint._code
    monkeypatch.setattr(fingerprint, "_code", lambda p: code(p) + ("#edited" if p == target else ""))
    after = plan_of(smoke_config())
    changed = [j for j in after.jobs if before.job(j.rule, j.wildcards).params != j.params]
    predicted: dict[str, int] = {"all": 1}
    for job in after.downstream(changed):
        predicted[job.rule] = predicted.get(job.rule, 0) + 1
    assert counts == predicted, (dry.stdout + dry.stderr)[-3000:]


@pytest.mark.slow
def test_preset_does_not_leak_the_default_config(tmp_path):
    """--configfile replaces config/config.yaml: an experiment only the default lists never runs."""
    work = copy_workflow(tmp_path / "wf")
    default = yaml.safe_load((work / "config" / "config.yaml").read_text())
    default["experiments"]["leaky"] = {"family": "wavepacket", "solvers": {"bfgs": {}}}
    (work / "config" / "config.yaml").write_text(yaml.safe_dump(default))

    smoke = snakemake(work, "-n", "--configfile", "config/smoke.yaml")
    assert smoke.returncode == 0, smoke.stderr[-3000:]
    assert "leaky" not in smoke.stdout + smoke.stderr
    counts = job_counts(smoke.stdout + smoke.stderr)
    assert counts["solve"] == plan_of(smoke_config()).counts()["solve"]

    plain = snakemake(work, "-n")  # without --configfile the default (with 'leaky') is the config
    assert plain.returncode == 0, plain.stderr[-3000:]
    assert "results/runs/leaky/bfgs/n16/seed0.h5" in plain.stdout


@pytest.mark.slow
def test_slurm_profile_dry_run(tmp_path):
    """The SLURM profile parses (plugin installed, keys known) and the plan's resources reach
    Snakemake: with `device: cuda` every solve job asks for one GPU, even on a submit host
    without one, and no other job does."""
    work = copy_workflow(tmp_path / "wf")
    gpu = snakemake(work, "-n", "--workflow-profile", "profiles/slurm", "--configfile", "config/smoke.yaml",
                    "--config", "device=cuda")
    output = gpu.stdout + gpu.stderr
    assert gpu.returncode == 0, output[-3000:]
    assert "Using workflow specific profile profiles/slurm" in gpu.stderr
    blocks = re.split(r"\n\s*(?:local)?rule ", output)[1:]
    solves = [b for b in blocks if b.startswith("solve:")]
    assert solves and all("gpu=1" in b and "runtime=" in b for b in solves), output[-3000:]
    assert not [b for b in blocks if not b.startswith("solve:") and "gpu=1" in b]


@pytest.mark.slow
def test_snakemake_lint_is_clean(tmp_path):
    work = copy_workflow(tmp_path / "wf")
    run = snakemake(work, "--lint")
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-3000:]
    assert "Lints for" not in output, output[-3000:]


def test_snakefmt_check():
    run = subprocess.run([*tool("snakefmt"), "--check", "."], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, (run.stdout + run.stderr)[-3000:]


def test_no_rule_file_reads_the_config_or_names_a_plugin():
    """The rules are thin: no `snakemake.config` and no experiment, family, solver, figure or
    table name anywhere under workflow/ or in the Snakefile."""
    from invnet.figures import figures
    from invnet.problems import families
    from invnet.solvers import solvers
    from invnet.tables import tables

    names = set(families()) | set(solvers()) | set(figures()) | set(tables())
    for path in [REPO / "Snakefile", *(REPO / "workflow").rglob("*.smk"), *(REPO / "workflow").rglob("*.py")]:
        text = path.read_text()
        assert "snakemake.config" not in text, path
        text = re.sub(r"#[^\n]*", "", re.sub(r'"""(?:.|\n)*?"""', "", text))  # code only
        words = set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", text))
        assert not words & names, (path, words & names)
