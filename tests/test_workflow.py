"""The Snakemake workflow itself: what only a real Snakemake run can show (slow tier). The jobs,
their params, reruns and resources are the plan's, tested in-process in tests/test_plan.py;
here Snakemake must schedule exactly the plan's jobs, run the smoke DAG end to end, reschedule
what the plan says after a code edit, keep presets apart, and run on SLURM bit for bit like
locally. Each test runs in a temporary copy of the workflow (helpers.copy_workflow).
"""

from __future__ import annotations

import math
import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from helpers import (
    BIN, REPO, SNAKEMAKE, assert_same_artifacts, copy_workflow, h5_contents, job_counts, plan_of, smoke_config,
    snakemake, tool,
)

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
    run.wall_s = time.perf_counter() - t0  # reported next to the SLURM run's (test_slurm_*)
    return work, run


@pytest.mark.slow
def test_snakemake_schedules_exactly_the_plans_jobs(tmp_path):
    """A forced dry run of the smoke preset lists the plan's jobs: same rules, same outputs."""
    work = copy_workflow(tmp_path / "wf")
    dry = snakemake(work, "-n", "--forceall", "--configfile", "config/smoke.yaml")
    assert dry.returncode == 0, dry.stderr[-3000:]
    assert dry_run_jobs(dry.stdout) == plan_jobs(plan_of(smoke_config()))


@pytest.mark.slow
def test_smoke_dag_end_to_end(smoke_run):
    work, run = smoke_run
    assert run.returncode == 0, run.stderr[-5000:]
    assert "Using workflow specific profile profiles/default" in run.stderr
    plan = plan_of(smoke_config())
    missing = [p for j in plan.jobs for p in j.output_files if not (work / p).is_file()]
    assert not missing, f"missing outputs: {missing}"
    for job in plan.jobs:  # one log per job; a benchmark per computing job
        assert (work / job.log).is_file(), job.log
        if job.rule in ("generate_data", "solve", "aggregate", "figure_panels", "study_chunk"):
            assert (work / job.benchmark).is_file(), job.benchmark
    assert not list((work / "results").rglob(".*.tmp.*")), "temporary files left behind"

    # Nothing left to do: neither for the default target nor for any named target (one dry run
    # for all of them: nothing to do for the union means nothing for each).
    targets = ["all", *plan.named_targets()]
    dry = snakemake(work, *targets, "-n", "--configfile", "config/smoke.yaml", pythonpath=work / "src")
    assert dry.returncode == 0, dry.stderr[-3000:]
    assert "Nothing to be done" in dry.stdout + dry.stderr, (dry.stdout + dry.stderr)[-3000:]


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


# ------------------------------------------------------------------------------ SLURM
# A subset of the smoke DAG (the wave-packet experiment, every solver, and the alignment study)
# through the real `slurm` executor on a running cluster (cluster/slurm-local-up.sh starts a
# single-node one): skipped without a cluster, except in CI (CI set), where a missing cluster
# fails. The local smoke run holds the same artifacts (same blocks, same paths), so they are
# compared bit for bit. Flags for a cluster without accounting (no slurmdbd, so no sacct).
SLURM_FLAGS = (
    "--workflow-profile", "profiles/slurm",
    "--slurm-status-command", "squeue",
    "--slurm-init-seconds-before-status-checks", "2",
    "--latency-wait", "5",
)
SUBMITTED = re.compile(r"submitted with SLURM jobid (\d+)")


def slurm_config() -> dict:
    cfg = smoke_config()
    cfg["experiments"] = {"wavepacket": cfg["experiments"]["wavepacket"]}
    return cfg


# The SLURM run's targets: two problem sets of the smoke preset's wave packet, each with a
# per-problem solver, the multi-start, a network and a refinement (a job reading another run of
# the same problem set): 10 jobs in two batches (one problem set and its solves per sbatch),
# enough to show batching and bit-identity without paying the ~9 s of Snakemake and interpreter
# start-up of each of the 36 wave-packet jobs. One problem set per batch (the profile packs 4)
# lets the two batches run side by side on the 2-CPU test node and finish before the plugin's
# status checks, which back off by 10 s each time no job has finished, grow far apart.
SLURM_SOLVERS = ("bfgs", "bfgs_multistart", "jpo", "jpo_bfgs")
SLURM_TARGETS = tuple(f"results/runs/wavepacket/{s}/n8/seed{seed}.h5" for seed in (0, 1) for s in SLURM_SOLVERS)
SLURM_BATCH = 1  # problem sets per sbatch in the test (--group-components batch=1)


def _slurm_running() -> bool:
    if shutil.which("sbatch") is None or shutil.which("scontrol") is None:
        return False
    return subprocess.run(["scontrol", "ping"], capture_output=True, timeout=30).returncode == 0


def _require_slurm() -> None:
    if _slurm_running():
        return
    if os.environ.get("CI", "").lower() not in ("", "0", "false"):
        pytest.fail("CI: no SLURM cluster answers `scontrol ping` (start one with cluster/slurm-local-up.sh)")
    pytest.skip("no SLURM cluster here (start one with cluster/slurm-local-up.sh)")


def _slurm_snakemake(work: Path, *args: str, limit: int = 1500, log: Path | None = None):
    """Snakemake with the SLURM profile; stopped by SIGINT (which cancels its SLURM jobs) after
    ``limit`` seconds: SIGTERM would leave it waiting. With ``log``: started, not waited for."""
    env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
               PYTHONPATH=os.pathsep.join(filter(None, [str(work / "src"), os.environ.get("PYTHONPATH")])))
    cmd = ["timeout", "-s", "INT", "-k", "60", str(limit), *SNAKEMAKE, *args, *SLURM_FLAGS]
    if log is not None:
        return subprocess.Popen(cmd, cwd=work, env=env, stdout=subprocess.DEVNULL, stderr=log.open("w"), text=True)
    return subprocess.run(cmd, cwd=work, env=env, capture_output=True, text=True, timeout=limit + 120)


def expected_submissions(work: Path, config: dict, targets: tuple[str, ...]) -> int:
    """sbatch calls for ``targets`` and what they need: one per batch of the group 'batch'
    (problem sets and study chunks, SLURM_BATCH at a time) plus one per job of the other rules
    that are not local."""
    from invnet.plan import LOCAL_RULES

    profile = yaml.safe_load((work / "profiles" / "slurm" / "config.yaml").read_text())
    grouped = {g.split("=")[0] for g in profile["groups"]}
    assert any(c.startswith("batch=") for c in profile["group-components"])  # the test's override
    size = SLURM_BATCH
    plan = plan_of(config)
    needed, todo = {}, [plan.producers[t] for t in targets]
    while todo:
        job = todo.pop()
        if job.key not in needed:
            needed[job.key] = job
            todo += [plan.producers[p] for p in job.input_files if p in plan.producers]
    rules = [j.rule for j in needed.values()]
    components = rules.count("generate_data") + rules.count("study_chunk")
    return math.ceil(components / size) + sum(r not in grouped | set(LOCAL_RULES) for r in rules)


@pytest.fixture(scope="module")
def slurm_run(tmp_path_factory):
    _require_slurm()
    work = copy_workflow(tmp_path_factory.mktemp("slurm") / "wf", with_src=True)
    (work / "config" / "slurm.yaml").write_text(yaml.safe_dump(slurm_config()))
    t0 = time.perf_counter()
    run = _slurm_snakemake(work, *SLURM_TARGETS, "--group-components", f"batch={SLURM_BATCH}",
                           "--configfile", "config/slurm.yaml")
    run.wall_s = time.perf_counter() - t0
    return work, run


@pytest.mark.slow
def test_slurm_run_equals_local_run(smoke_run, slurm_run, capsys):
    """Two wave-packet problem sets of the smoke DAG with four solvers through sbatch: one
    submission per batch (a problem set and its solves), and every artifact bit for bit the
    local run's (same config blocks, seeds and `threads`)."""
    local, local_run = smoke_run
    work, run = slurm_run
    assert local_run.returncode == 0, local_run.stderr[-3000:]
    assert run.returncode == 0, run.stderr[-5000:]
    assert "Using workflow specific profile profiles/slurm" in run.stderr
    submitted = SUBMITTED.findall(run.stderr)
    assert len(submitted) == expected_submissions(work, slurm_config(), SLURM_TARGETS), run.stderr[-5000:]
    checked = assert_same_artifacts(local, work)
    assert checked == 2 + len(SLURM_TARGETS)  # the two problem sets and every targeted run
    dry = snakemake(work, "-n", *SLURM_TARGETS, "--configfile", "config/slurm.yaml", pythonpath=work / "src")
    assert "Nothing to be done" in dry.stdout + dry.stderr, (dry.stdout + dry.stderr)[-3000:]
    with capsys.disabled():
        print(f"\nSLURM run: {run.wall_s:.0f} s wall, {len(submitted)} sbatch submissions; "
              f"local smoke run: {local_run.wall_s:.0f} s wall; {checked} HDF5 artifacts identical")


@pytest.mark.slow
def test_slurm_scancel_then_rerun(tmp_path):
    """A batch killed by `scancel` while a solver computes leaves no complete-looking output;
    the next invocation reruns what had not finished, and the artifacts equal those of the same
    target run locally without interruption. (Billiards of the smoke preset, with a JPO of 1000
    steps so that the solve lasts long enough to be caught running; the target is that JPO run
    alone, so the batch holds its problem set and the JPO solve.)"""
    _require_slurm()
    cfg = smoke_config()
    cfg["experiments"] = {"billiards": cfg["experiments"]["billiards"]}
    cfg["experiments"]["billiards"]["solvers"]["jpo"]["steps"] = 1000
    cfg.pop("studies", None)
    target = ("results/runs/billiards/jpo/n8/seed0.h5", "--configfile", "config/killed.yaml")
    local = copy_workflow(tmp_path / "local", with_src=True)
    work = copy_workflow(tmp_path / "wf", with_src=True)
    for where in (local, work):
        (where / "config" / "killed.yaml").write_text(yaml.safe_dump(cfg))
    uninterrupted = snakemake(local, *target, "--cores", "2", pythonpath=local / "src")
    assert uninterrupted.returncode == 0, uninterrupted.stderr[-3000:]

    log = tmp_path / "first.log"
    first = _slurm_snakemake(work, *target, "--retries", "0", limit=900, log=log)
    jpo_log = work / "logs/solve/billiards/jpo/n8/seed0.log"
    jpo_out = work / "results/runs/billiards/jpo/n8/seed0.h5"
    killed, deadline = [], time.monotonic() + 600
    while not killed and first.poll() is None and time.monotonic() < deadline:
        if jpo_log.exists() and "settings" in jpo_log.read_text() and not jpo_out.exists():
            killed = sorted(set(SUBMITTED.findall(log.read_text())))
            subprocess.run(["scancel", *killed], check=True, timeout=60)
        time.sleep(0.2)
    assert killed, "the JPO solve was not seen running:\n" + log.read_text()[-3000:]
    assert first.wait(timeout=900) != 0, "the cancelled run reported success"
    assert not jpo_out.exists(), "the cancelled solve left its output"
    for h5 in (work / "results").rglob("*.h5"):  # whatever exists is complete
        assert h5_contents(h5)["attr:complete"] == "True", h5
    runs_left = len(list((work / "results" / "runs").rglob("*.h5")))
    data_left = len(list((work / "results" / "data").rglob("*.h5")))

    second = _slurm_snakemake(work, *target)
    assert second.returncode == 0, second.stderr[-5000:]
    rerun = job_counts(second.stdout + second.stderr)
    assert rerun.get("solve", 0) == 1 - runs_left == 1, second.stderr[-3000:]
    assert rerun.get("generate_data", 0) == 1 - data_left, second.stderr[-3000:]
    assert assert_same_artifacts(local, work) == 1 + 1  # the data set and the JPO run
