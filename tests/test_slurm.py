"""The workflow on a real SLURM cluster (slow tier): batched submissions whose artifacts equal,
bit for bit, what the job plan writes for the same jobs in-process, and a batch cancelled by
`scancel` that the next invocation finishes. Each test runs in a temporary copy of the workflow
(helpers.copy_workflow). Apart from tests/test_workflow.py so that, under pytest-xdist, these
mostly waiting tests run beside the local smoke DAG instead of after it.
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

from helpers import BIN, SNAKEMAKE, assert_same_artifacts, copy_workflow, h5_contents, job_counts, plan_of, smoke_config, snakemake

# ------------------------------------------------------------------------------ SLURM
# Part of the smoke preset through the real `slurm` executor on a running cluster
# (cluster/slurm-local-up.sh starts a single-node one): skipped without a cluster, except in CI
# (CI set), where a missing cluster fails. Flags for a cluster without accounting (no slurmdbd,
# so no sacct).
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


def jobs_for(plan, targets: tuple[str, ...]) -> list:
    """The plan's jobs that write ``targets`` and every job they read from, transitively."""
    needed, todo = {}, [plan.producers[t] for t in targets]
    while todo:
        job = todo.pop()
        if job.key not in needed:
            needed[job.key] = job
            todo += [plan.producers[p] for p in job.input_files if p in plan.producers]
    return list(needed.values())


def expected_submissions(work: Path, config: dict, targets: tuple[str, ...]) -> int:
    """sbatch calls for ``targets`` and what they need: one per batch of the group 'batch'
    (problem sets and study chunks, SLURM_BATCH at a time) plus one per job of the other rules
    that are not local."""
    from invnet.plan import LOCAL_RULES

    profile = yaml.safe_load((work / "profiles" / "slurm" / "config.yaml").read_text())
    grouped = {g.split("=")[0] for g in profile["groups"]}
    assert any(c.startswith("batch=") for c in profile["group-components"])  # the test's override
    size = SLURM_BATCH
    rules = [j.rule for j in jobs_for(plan_of(config), targets)]
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


@pytest.fixture(scope="module")
def local_reference(tmp_path_factory):
    """The SLURM run's jobs run in-process by the job plan (no Snakemake), for comparison."""
    root = tmp_path_factory.mktemp("local")
    plan = plan_of(slurm_config())
    plan.run(jobs_for(plan, SLURM_TARGETS), root)
    return root


@pytest.mark.slow
def test_slurm_run_equals_local_run(local_reference, slurm_run, measured):
    """Two wave-packet problem sets of the smoke preset with four solvers through sbatch: one
    submission per batch (a problem set and its solves), and every artifact bit for bit what
    the same jobs write when the job plan runs them in this process (same config blocks, seeds
    and `threads`)."""
    local = local_reference
    work, run = slurm_run
    assert run.returncode == 0, run.stderr[-5000:]
    assert "Using workflow specific profile profiles/slurm" in run.stderr
    submitted = SUBMITTED.findall(run.stderr)
    assert len(submitted) == expected_submissions(work, slurm_config(), SLURM_TARGETS), run.stderr[-5000:]
    checked = assert_same_artifacts(local, work)
    assert checked == 2 + len(SLURM_TARGETS)  # the two problem sets and every targeted run
    dry = snakemake(work, "-n", *SLURM_TARGETS, "--configfile", "config/slurm.yaml", pythonpath=work / "src")
    assert "Nothing to be done" in dry.stdout + dry.stderr, (dry.stdout + dry.stderr)[-3000:]
    measured(f"SLURM run: {run.wall_s:.0f} s wall, {len(submitted)} sbatch submissions; "
             f"{checked} HDF5 artifacts identical to the in-process run")


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
    cfg.pop("sweeps", None)  # the smoke sweeps name the wave packet, which this config leaves out
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
