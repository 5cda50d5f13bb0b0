"""The job command (invnet.job_command, workflow/scripts/job.py): a job's description reads back
with the same types and bits for every job the presets plan, a description that would not (or
would not fit a command line) is refused naming its rule, and a job run from its command line
writes the artifacts an in-process run writes, bit for bit, in a fresh interpreter and forked
from the warm one."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from helpers import REPO, assert_same_artifacts, command_rules, plan_of, run_plan, tiny_wavepacket

from invnet.job_command import MAX_DESCRIPTION, decode, encode, shell_command

JOB_SCRIPT = REPO / "workflow" / "scripts" / "job.py"


@pytest.mark.parametrize("preset", ["config.yaml", "paper.yaml", "robustness.yaml"])
def test_every_planned_job_command_reads_back_with_its_types(preset):
    plan = plan_of(yaml.safe_load((REPO / "config" / preset).read_text()))
    rules = command_rules()
    assert {"solve", "generate_data", "figure_panels", "plot_experiment_figure"} <= rules
    checked = 0
    for job in plan.jobs:
        if job.rule not in rules:
            continue
        text = plan.command_function(job.rule)(job.wildcards)
        back = decode(text)
        # repr tells a tuple from a list and prints every bit of a float: equal reprs, same job
        want = {"rule": job.rule, "params": job.params, "log": job.log, "inputs": job.inputs, "outputs": job.outputs}
        assert repr(back) == repr(want)
        assert len(text) <= MAX_DESCRIPTION
        checked += 1
    assert checked > 100


def test_a_description_that_would_not_read_back_or_fit_is_refused_naming_its_rule():
    for bad in ({"rule": "solve", "params": {"tol": float("nan")}},  # nan != nan: no literal reads it back
                {"rule": "solve", "params": {"x": object()}}):
        with pytest.raises(ValueError, match="rule solve: its job description is no Python literal"):
            encode(bad)
    with pytest.raises(ValueError, match=r"rule aggregate: .* more than the 100000 .* script: directive"):
        encode({"rule": "aggregate", "inputs": {"runs": ["results/runs/x.h5"] * 10_000}})
    job = {"rule": "solve", "params": {"settings": {"hidden": (8, 8), "lr": 0.1 + 0.2, "tol": 1e-300}}}
    assert repr(decode(encode(job))) == repr(job)


def test_the_shell_command_quotes_paths_and_escapes_format_braces():
    command = shell_command("/opt/my python/bin/python", "/w/{x}/job.py")
    assert command == "'/opt/my python/bin/python' '/w/{{x}}/job.py' {threads} {params.command:q}"
    assert shell_command("python", "/w/job.py").startswith("python /w/job.py ")  # the environment's python


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the warm interpreter is Linux-only")
@pytest.mark.parametrize("warm", ["0", "1"])
def test_a_job_run_from_its_command_line_writes_the_in_process_artifacts(tmp_path, warm):
    config = tiny_wavepacket({"bfgs": {"maxiter": 20}, "gd": {"lr": 0.01, "steps": 30}})
    here, there = tmp_path / "here", tmp_path / "there"
    plan = run_plan(config, here)
    env = {**os.environ, "PYTHONPATH": str(REPO / "src"), "MPLBACKEND": "Agg", "INVNET_WARM": warm,
           "INVNET_WARM_IDLE_S": "5", "TEST_NAME": tmp_path.name}
    jobs = [j for j in plan.jobs if j.rule == "generate_data"] + [j for j in plan.jobs if j.rule == "solve"]
    for job in jobs:
        for path in [*job.output_files, job.log]:
            (there / path).parent.mkdir(parents=True, exist_ok=True)
        # as Snakemake runs it: `bash -c` with the formatted command, in the working directory
        command = shell_command(sys.executable, str(JOB_SCRIPT)).replace("{threads}", "1").replace(
            "{params.command:q}", shlex.quote(plan.command_function(job.rule)(job.wildcards)))
        run = subprocess.run(["bash", "-c", command], cwd=there, env=env, capture_output=True, text=True,
                             timeout=300)
        assert run.returncode == 0, (job.log, run.stderr[-3000:], (there / job.log).read_text()[-3000:])
        assert (there / job.log).read_text().count("job_cpu_s=") == 1
    assert assert_same_artifacts(here, there, "**/*.h5") == len(jobs)

