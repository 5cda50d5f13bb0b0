"""The Snakemake workflow itself: what only a real Snakemake run can show (slow tier). The jobs,
their params, reruns and resources are the plan's, tested in-process in tests/test_plan.py;
here Snakemake must schedule exactly the plan's jobs, run the smoke DAG end to end, reschedule
what the plan says after a code edit and keep presets apart; the SLURM profile must parse (the
SLURM runs themselves: tests/test_slurm.py). Each test runs in a temporary copy of the workflow
(helpers.copy_workflow).
"""

from __future__ import annotations

import csv
import os
import re
import subprocess
import sys
import time

import pytest
import yaml

from invnet.jobs import read_cpu_line

from helpers import REPO, command_rules, copy_workflow, job_counts, plan_of, smoke_config, snakemake, tool


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
    commands = command_rules()
    missing = [p for j in plan.jobs for p in j.output_files if not (work / p).is_file()]
    assert not missing, f"missing outputs: {missing}"
    exact, sampled, warm = 0.0, 0.0, 0
    servers: dict[bool, set[str]] = {True: set(), False: set()}  # by rule kind: job command or script
    for job in plan.jobs:  # one log and one benchmark per job (benchmarks/profile.py reads them)
        assert (work / job.log).is_file(), job.log
        assert (work / job.benchmark).is_file(), job.benchmark
        # Each log ends with the job's exact CPU; Snakemake's sampled cpu_time is a lower bound of it
        # (up to the interpreter's exit after the line). A job forked from the warm interpreter
        # (invnet.warm) logs the forked process's CPU, and the benchmark samples the process that
        # handed it over: the two add up.
        text = (work / job.log).read_text()
        assert text.count("job_cpu_s=") == 1, job.log
        logged = read_cpu_line(work / job.log)
        cpu = logged["job_cpu_s"]
        with (work / job.benchmark).open() as f:
            value = list(csv.DictReader(f, delimiter="\t"))[-1]["cpu_time"]
        if logged["warm"]:
            warm += 1
            servers[job.rule in commands].add(re.search(r"warm interpreter \(invnet.warm\) of key (\w+)", text)[1])
        elif value != "NA" and "started the warm interpreter" not in text:
            # (a job that started the warm interpreter has it as its child while it runs)
            assert float(value) <= cpu + 0.25, (job.log, value, cpu)
            exact, sampled = exact + cpu, sampled + float(value)
    assert exact >= sampled
    # Only the jobs that start before the warm interpreter is up (seconds) start an interpreter
    if sys.platform.startswith("linux") and os.environ.get("INVNET_WARM", "1") != "0":
        assert warm >= len(plan.jobs) // 2, (warm, len(plan.jobs))
        # both kinds of rule run with one import path (job.py), so they share the warm interpreter
        assert servers[False] and servers[False] <= servers[True], servers
    assert not list((work / "results").rglob(".*.tmp.*")), "temporary files left behind"

    # Nothing left to do: neither for the default target nor for any named target (one dry run
    # for all of them: nothing to do for the union means nothing for each).
    targets = ["all", *plan.named_targets()]
    dry = snakemake(work, *targets, "-n", "--configfile", "config/smoke.yaml", pythonpath=work / "src")
    assert dry.returncode == 0, dry.stderr[-3000:]
    assert "Nothing to be done" in dry.stdout + dry.stderr, (dry.stdout + dry.stderr)[-3000:]
    measured(f"smoke DAG: {len(plan.jobs)} jobs, {run.wall_s:.0f} s wall, {warm} forked from the warm interpreter; "
             f"the others' CPU {exact:.0f} s exact, {sampled:.0f} s in the benchmark files' samples")


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
    Snakemake: with `device: cuda` every solve job (and test-set solve and shared surrogate fit
    job, which compute on the device too) asks for one GPU, even on a submit host without one,
    and no other job does."""
    work = copy_workflow(tmp_path / "wf")
    gpu = snakemake(work, "-n", "--workflow-profile", "profiles/slurm", "--configfile", "config/smoke.yaml",
                    "--config", "device=cuda")
    output = gpu.stdout + gpu.stderr
    assert gpu.returncode == 0, output[-3000:]
    assert "Using workflow specific profile profiles/slurm" in gpu.stderr
    blocks = re.split(r"\n\s*(?:local)?rule ", output)[1:]
    solving = ("solve:", "solve_test:", "fit_surrogate:")
    solves = [b for b in blocks if b.startswith(solving)]
    assert solves and all("gpu=1" in b and "runtime=" in b for b in solves), output[-3000:]
    assert any(b.startswith("solve_test:") for b in solves)
    assert not [b for b in blocks if not b.startswith(solving) and "gpu=1" in b]


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


# ------------------------------------------------------------------------------ report, bundle

def _png_width(data: bytes) -> int:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return int.from_bytes(data[16:20], "big")


@pytest.mark.slow
def test_report_opens_in_a_browser_with_every_figure_and_table(smoke_run, measured):
    """`snakemake --report` of the smoke run, opened in headless Chromium and read as a person
    would: the front page shows the verdict first (on the first screen), and every figure and
    table of the run is in the report, under its experiment, with its caption; every figure's
    image loads (naturalWidth > 0, the PNG's own width) and every table shows its HTML page."""
    import base64
    import os

    import browser

    work, run = smoke_run
    assert run.returncode == 0, run.stderr[-3000:]
    t0 = time.perf_counter()
    rep = snakemake(work, "--report", "results/report.html", "--configfile", "config/smoke.yaml",
                    pythonpath=work / "src")
    assert rep.returncode == 0, rep.stderr[-3000:]
    report_s = time.perf_counter() - t0
    if browser.executable() is None:
        if os.environ.get("CI"):
            pytest.fail("no Chromium: .ci/run installs the Debian package chromium")
        pytest.skip("no Chromium on this machine (apt-get install chromium)")
    shown = browser.read_report(work / "results/report.html", work / "results/report-front.png")
    errors = shown["errors"]
    browser_s = time.perf_counter() - t0 - report_s
    assert not errors, errors

    front = shown["front"]
    assert front.startswith("invnet results")
    assert front.index("Verdict") < front.index("Status") < front.index("Configuration") < front.index(
        "Software and provenance")
    assert 0 <= shown["verdictTop"] < shown["height"]  # the verdict is on the first screen
    import pandas as pd

    verdict = pd.read_csv(work / "results/tables/verdict.csv")
    for rec in verdict.to_dict("records"):
        assert f"{rec['beat']:.2f} [{rec['beat_low']:.2f}, {rec['beat_high']:.2f}]" in front

    plan = plan_of(smoke_config())
    expected = {}
    from types import SimpleNamespace

    for job in plan.jobs:
        wc = SimpleNamespace(**job.wildcards)
        if job.rule in ("plot_experiment_figure", "plot_combined_figure"):
            expected[(plan.report_category(wc), "Figures", job.wildcards["figure"])] = job.outputs["png"]
        elif job.rule in ("make_table", "study_table"):
            expected[(plan.report_category(wc), "Tables", job.wildcards["table"])] = job.outputs.get(
                "html", job.outputs.get("csv"))
    got = {}
    for item in shown["seen"]:
        sub = item["sub"] or ("Figures" if item["kind"] == "img" else "Tables")
        got[(item["category"], sub, item["name"])] = item
    assert set(got) == set(expected)  # every figure and table, under its experiment and kind
    for key, path in expected.items():
        item, data = got[key], (work / path).read_bytes()
        if path.endswith(".png"):
            assert item["kind"] == "img" and item["naturalWidth"] == _png_width(data) > 0, (key, item)
        elif path.endswith(".html"):
            assert item["kind"] == "iframe" and item["src"].startswith("data:text/html"), (key, item)
            assert base64.b64decode(item["src"].split("base64,", 1)[1]) == data and b"<table" in data
        else:
            assert item["href"].startswith("data:text/csv")
        spec = plan.figures.get(key[2]) if key[1] == "Figures" else plan.tables.get(key[2])
        doc = spec.doc if spec is not None else next(s.doc for s in plan.studies.values() if s.table == key[2])
        assert doc in item["caption"], (key, item["caption"][:500])  # its own declaration's caption
    size = (work / "results/report.html").stat().st_size
    measured(f"report: {size / 1e6:.1f} MB, {len(expected)} figures and tables; --report {report_s:.0f} s, "
             f"browser {browser_s:.0f} s")


@pytest.mark.slow
def test_restored_bundle_runs_no_data_or_solve_job(smoke_run, tmp_path, measured):
    """`snakemake bundle` of the smoke run, restored into a fresh copy of the workflow with
    `invnet bundle restore`: the next run's dry-run lists only aggregate (and sweep), figure, table
    and report jobs (all of them), and a table rebuilt from the restored artifacts is byte-identical."""
    import os
    import sys

    work, run = smoke_run
    assert run.returncode == 0, run.stderr[-3000:]
    t0 = time.perf_counter()
    made = snakemake(work, "bundle", "--cores", "1", "--configfile", "config/smoke.yaml", pythonpath=work / "src")
    assert made.returncode == 0, made.stderr[-3000:]
    bundle = work / "results/bundle/results.tar.gz"

    clone = copy_workflow(tmp_path / "clone", with_src=True)
    env = dict(os.environ, PYTHONPATH=str(clone / "src"))
    restored = subprocess.run([sys.executable, "-m", "invnet", "bundle", "restore", str(bundle), "--configfile",
                               "config/smoke.yaml"], cwd=clone, env=env, capture_output=True, text=True, timeout=300)
    assert restored.returncode == 0, restored.stderr[-3000:]
    dry = snakemake(clone, "-n", "--configfile", "config/smoke.yaml", pythonpath=clone / "src")
    assert dry.returncode == 0, dry.stderr[-3000:]
    counts = job_counts(dry.stdout + dry.stderr)
    light = ("aggregate", "sweep", "figure_panels", "plot_experiment_figure", "plot_combined_figure", "make_table",
             "study_table", "report_page")  # sweep: beat fractions from the restored runs, like an aggregate
    plan_counts = plan_of(smoke_config()).counts()
    assert counts == {"all": 1, **{r: plan_counts[r] for r in light}}, (dry.stdout + dry.stderr)[-3000:]

    table = snakemake(clone, "results/tables/table2.csv", "--cores", "2", "--configfile", "config/smoke.yaml",
                      pythonpath=clone / "src")
    assert table.returncode == 0, table.stderr[-3000:]
    for name in ("table2.csv", "table2.md", "table2.tex", "table2.html"):
        assert (clone / "results/tables" / name).read_bytes() == (work / "results/tables" / name).read_bytes()
    measured(f"bundle: {bundle.stat().st_size / 1e6:.1f} MB; bundle, restore, dry run and table2 "
             f"{time.perf_counter() - t0:.0f} s")
