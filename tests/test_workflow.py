"""The Snakemake workflow: smoke DAG end to end, config validation, lint and formatting.

Each test runs Snakemake in a temporary copy of the workflow (Snakefile, workflow/, config/,
profiles/, envs/), so results/ and .snakemake/ of the checkout are never touched. The package
itself is imported from the installed (editable) invnet.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
COPIED = ("Snakefile", "workflow", "config", "profiles", "envs")
BIN = Path(sys.executable).parent


def _tool(name: str) -> list[str]:
    exe = BIN / name
    if exe.exists():
        return [str(exe)]
    found = shutil.which(name)
    if found:
        return [found]
    return [sys.executable, "-m", name]


SNAKEMAKE = _tool("snakemake")


def _copy_workflow(dest: Path) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    for name in COPIED:
        src = REPO / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(src, dest / name)
    return dest


def _snakemake(cwd: Path, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    return subprocess.run(
        [*SNAKEMAKE, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env
    )


def _expected_outputs(config: dict) -> list[str]:
    """Every file the default target must produce for ``config``."""
    paths = []
    for experiment, block in config["experiments"].items():
        for n in block["n"]:
            for seed in block["seeds"]:
                paths.append(f"results/data/{experiment}/n{n}/seed{seed}.h5")
                paths += [
                    f"results/runs/{experiment}/{solver}/n{n}/seed{seed}.h5"
                    for solver in block["solvers"]
                ]
        paths += [
            f"results/aggregate/{experiment}/{t}.csv"
            for t in ("outcomes", "fractions", "summary", "history", "test")
        ]
    if "wavepacket" in config["experiments"]:
        paths += [
            "results/aggregate/wavepacket/landscape.h5",
            "results/figures/fig3.pdf",
            "results/figures/fig3.png",
        ]
    paths += [f"results/tables/table2.{ext}" for ext in ("csv", "tex", "md")]
    return paths


# ------------------------------------------------------------------------------ smoke DAG


@pytest.mark.slow
def test_smoke_dag_end_to_end(tmp_path):
    work = _copy_workflow(tmp_path / "wf")
    run = _snakemake(work, "--cores", "2", "--configfile", "config/smoke.yaml", timeout=900)
    assert run.returncode == 0, run.stderr[-5000:]
    assert "Using workflow specific profile profiles/default" in run.stderr

    smoke = yaml.safe_load((work / "config" / "smoke.yaml").read_text())
    missing = [p for p in _expected_outputs(smoke) if not (work / p).is_file()]
    assert not missing, f"missing outputs: {missing}"
    for rule_dir in ("generate_data", "solve", "aggregate"):
        assert list((work / "logs" / rule_dir).rglob("*.log")), f"no logs for {rule_dir}"
        assert list((work / "results" / "benchmarks" / rule_dir).rglob("*.tsv"))
    assert not list((work / "results").rglob(".*.tmp.*")), "temporary files left behind"

    # Nothing left to do: neither for the default target nor for the named targets.
    for target in ((), ("fig3",), ("table2",)):
        dry = _snakemake(work, *target, "-n", "--configfile", "config/smoke.yaml")
        assert dry.returncode == 0, dry.stderr[-3000:]
        assert "Nothing to be done" in dry.stdout + dry.stderr, (dry.stdout + dry.stderr)[-3000:]


# ------------------------------------------------------------------------------ bad configs

BAD_CONFIGS = {
    "wrong_type": ("threads: two\n", ["threads", "integer"]),
    "negative_n": ("experiments:\n  wavepacket:\n    n: [-4, 16]\n", ["experiments.wavepacket.n[0]", "-4"]),
    "zero_n_test": ("experiments:\n  wavepacket:\n    n_test: 0\n", ["experiments.wavepacket.n_test"]),
    "negative_seed": ("experiments:\n  wavepacket:\n    seeds: [0, -1]\n", ["experiments.wavepacket.seeds[1]"]),
    "empty_seeds": ("experiments:\n  wavepacket:\n    seeds: []\n", ["experiments.wavepacket.seeds"]),
    "unknown_solver": (
        "experiments:\n  wavepacket:\n    solvers:\n      bfsg: {gtol: 1.0e-5}\n",
        ["bfsg", "allowed", "bfgs", "jpo"],
    ),
    "unknown_setting": (
        "experiments:\n  wavepacket:\n    solvers:\n      jpo: {hiden: [8]}\n",
        ["experiments.wavepacket.solvers.jpo.hiden", "hidden"],
    ),
    "unknown_experiment": ("experiments:\n  billiard: {}\n", ["billiard", "wavepacket"]),
    "bad_enum": (
        "experiments:\n  wavepacket:\n    solvers:\n      jpo: {activation: swish}\n",
        ["activation", "swish", "relu"],
    ),
    "semantic_range": (
        "experiments:\n  wavepacket:\n    problem: {t0_range: [0.9, 0.1]}\n",
        ["experiments.wavepacket.problem.t0_range"],
    ),
}


@pytest.fixture(scope="module")
def config_workdir(tmp_path_factory):
    return _copy_workflow(tmp_path_factory.mktemp("badconfig"))


@pytest.mark.parametrize("case", sorted(BAD_CONFIGS))
def test_bad_config_fails_before_any_job(config_workdir, case):
    text, needles = BAD_CONFIGS[case]
    bad = config_workdir / f"bad_{case}.yaml"
    bad.write_text(text)
    run = _snakemake(config_workdir, "-n", "--configfile", bad.name)
    output = run.stdout + run.stderr
    assert run.returncode != 0, output[-3000:]
    assert "Invalid configuration" in output, output[-3000:]
    for needle in needles:
        assert needle in output, f"{needle!r} not in:\n{output[-3000:]}"
    assert "Building DAG" not in output and "rule " not in run.stdout
    assert not (config_workdir / "results").exists()
    assert "Traceback (most recent call last)" not in output  # a message, not a wall of traceback


def test_missing_dependency_solver_fails(config_workdir):
    bad = config_workdir / "bad_dependency.yaml"
    bad.write_text(
        "experiments:\n  wavepacket:\n    n: [4]\n    seeds: [0]\n"
        "    solvers:\n      bfgs: {}\n      jpo_bfgs: {}\n"
    )
    run = _snakemake(config_workdir, "-n", "--replace-workflow-config", "--configfile", bad.name)
    output = run.stdout + run.stderr
    assert run.returncode != 0
    assert "jpo_bfgs" in output and "'jpo'" in output, output[-3000:]


def test_presets_dry_run(config_workdir):
    """Every shipped preset parses, validates and builds a DAG."""
    for preset in ("config/config.yaml", "config/smoke.yaml", "config/paper.yaml"):
        run = _snakemake(config_workdir, "-n", "--configfile", preset)
        assert run.returncode == 0, f"{preset}:\n{run.stderr[-3000:]}"


def test_slurm_profile_dry_run(config_workdir):
    """The SLURM profile parses (plugin installed, keys known) and resources evaluate.

    --sdm env-modules replaces the profile's conda deployment so no conda is needed here.
    """
    run = _snakemake(
        config_workdir,
        "-n",
        "--workflow-profile",
        "profiles/slurm",
        "--sdm",
        "env-modules",
        "--configfile",
        "config/paper.yaml",
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert "Using workflow specific profile profiles/slurm" in run.stderr
    assert "runtime=" in run.stdout + run.stderr


# ------------------------------------------------------------------------------ lint and format


def test_snakemake_lint_is_clean(config_workdir):
    run = _snakemake(config_workdir, "--lint")
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-3000:]
    assert "Lints for" not in output, output[-3000:]


def test_snakefmt_check():
    run = subprocess.run(
        [*_tool("snakefmt"), "--check", "."], cwd=REPO, capture_output=True, text=True, timeout=300
    )
    assert run.returncode == 0, (run.stdout + run.stderr)[-3000:]
