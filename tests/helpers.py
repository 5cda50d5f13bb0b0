"""Helpers shared by the test modules (imported as ``helpers``; no test module imports another).

- running Snakemake in a temporary copy of the workflow (the checkout's results/ and .snakemake/
  are never touched), and reading its dry-run job counts;
- building the job plan of a config in-process and running its jobs (no Snakemake);
- comparing the numeric contents of HDF5 artifacts bit for bit.
"""

from __future__ import annotations

import copy
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
COPIED = ("Snakefile", "workflow", "config", "profiles", "envs")
BIN = Path(sys.executable).parent


def tool(name: str) -> list[str]:
    """The command of a console tool of this environment (venv first)."""
    exe = BIN / name
    if exe.exists():
        return [str(exe)]
    found = shutil.which(name)
    return [found] if found else [sys.executable, "-m", name]


SNAKEMAKE = tool("snakemake")


def copy_workflow(dest: Path, with_src: bool = False) -> Path:
    """A copy of the workflow in ``dest``; ``with_src`` copies the package too (to edit it)."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in COPIED + (("src",) if with_src else ()):
        src = REPO / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        else:
            shutil.copy2(src, dest / name)
    return dest


def snakemake(cwd: Path, *args: str, timeout: float = 600, pythonpath: Path | None = None) -> subprocess.CompletedProcess:
    """Run Snakemake in ``cwd``; ``pythonpath`` goes first on the path of the DAG and the jobs."""
    env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    if pythonpath is not None:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(pythonpath), os.environ.get("PYTHONPATH")]))
    return subprocess.run([*SNAKEMAKE, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env)


def job_counts(output: str) -> dict[str, int]:
    """The 'Job stats' table of a dry run as {rule: count} (empty when nothing is to be done)."""
    counts, inside = {}, False
    for line in output.splitlines():
        if line.startswith("job ") and "count" in line:
            inside = True
            continue
        if inside:
            parts = line.split()
            if len(parts) == 2 and parts[1].isdigit():
                if parts[0] != "total":
                    counts[parts[0]] = int(parts[1])
            elif parts and not parts[0].startswith("-"):
                break
    return counts


def command_rules() -> set[str]:
    """The rules whose directive is the job command (``shell: JOB_COMMAND``, invnet.job_command)
    in the rule files; the others run workflow/scripts/job.py as a ``script:``."""
    rules, current = set(), None
    for path in (REPO / "workflow" / "rules").glob("*.smk"):
        for line in path.read_text().splitlines():
            if line.startswith("rule "):
                current = line.split()[1].rstrip(":")
            elif line.strip() == "JOB_COMMAND" and current:
                rules.add(current)
    return rules


def tiny_wavepacket(solvers: dict[str, Any], history_points: int = 20, **globals_: Any) -> dict[str, Any]:
    """A tiny config: the wave-packet experiment with 8 problems, one seed, 4 test problems and
    the given ``solvers`` blocks (plus top-level keys ``globals_``)."""
    return {
        "history_points": history_points,
        **globals_,
        "experiments": {"wavepacket": {"family": "wavepacket", "n": [8], "seeds": [0], "n_test": 4,
                                       "solvers": copy.deepcopy(solvers)}},
    }


def smoke_config() -> dict[str, Any]:
    return yaml.safe_load((REPO / "config" / "smoke.yaml").read_text())


def set_key(config: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """``config`` (a copy) with the value at dotted key ``path`` set (None deletes it)."""
    config = copy.deepcopy(config)
    *parents, last = path.split(".")
    node = config
    for key in parents:
        node = node.setdefault(key, {})
    if value is None:
        node.pop(last, None)
    else:
        node[last] = value
    return config


def plan_of(config: dict[str, Any], measured: dict | None = None):
    """The job plan of a raw config (resolved without the CUDA check)."""
    from invnet.config import resolve_config
    from invnet.plan import Plan

    return Plan(resolve_config(config, check_cuda=False), measured)


def run_plan(config: dict[str, Any], root: Path, rules: tuple[str, ...] = ("generate_data", "solve")):
    """Run the jobs of ``rules`` of a config's plan in-process under ``root``; the plan.
    "solve" brings the test-set solves with it (the aggregate reads them) and the per-seed parts
    solvers share across n (the solve jobs read them)."""
    plan = plan_of(config)
    if "solve" in rules:
        rules = (*rules, "solve_test", "fit_surrogate")
    plan.run([j for j in plan.jobs if j.rule in rules], root)
    return plan


def h5_contents(path: Path) -> dict[str, Any]:
    """Every dataset (dtype, shape, raw bytes) and every attribute but ``provenance`` (host,
    SLURM job id, wall time) of an HDF5 artifact."""
    import h5py

    with h5py.File(path, "r") as f:
        out = {f"attr:{k}": str(v) for k, v in f.attrs.items() if k != "provenance"}
        for name in f:
            d = f[name][()]
            out[f"data:{name}"] = (str(d.dtype), d.shape, d.tobytes())
    return out


def numeric_datasets(root: Path, pattern: str = "**/*.h5") -> dict[str, Any]:
    """Every numeric dataset of every HDF5 artifact under ``root/results`` (path:name -> array)."""
    import h5py

    out = {}
    for path in sorted((root / "results").glob(pattern)):
        if path.name.startswith("."):
            continue
        with h5py.File(path, "r") as f:
            for name, obj in f.items():
                if isinstance(obj, h5py.Dataset) and obj.dtype.kind in "fiub":
                    out[f"{path.relative_to(root)}:{name}"] = obj[()]
    return out


def assert_same_artifacts(local: Path, other: Path, pattern: str = "**/*.h5") -> int:
    """The contents of every HDF5 artifact under ``other`` equal ``local``'s bit for bit."""
    files = sorted(p.relative_to(other) for p in (other / "results").glob(pattern))
    assert files, f"no artifacts under {other}/results"
    for rel in files:
        a, b = h5_contents(local / rel), h5_contents(other / rel)
        assert a.keys() == b.keys(), f"{rel}: {sorted(a.keys() ^ b.keys())}"
        differ = [k for k in a if a[k] != b[k]]
        assert not differ, f"{rel}: {differ} differ"
    return len(files)


def _config_with(config: dict[str, Any], experiment: str, n: int, seed: int) -> dict[str, Any]:
    """``config`` with (n, seed) among the experiment's sizes and seeds (so the plan has the job)."""
    config = copy.deepcopy(config)
    block = config["experiments"][experiment]
    block["n"] = sorted(set(block.get("n", [16, 64, 256])) | {n})
    block["seeds"] = sorted(set(block.get("seeds", [0, 1, 2, 3, 4])) | {seed})
    return config


def generate_data(config: dict[str, Any], experiment: str, n: int, seed: int, out) -> None:
    """Run the data job of (experiment, n, seed) of ``config``'s plan in-process, writing ``out``."""
    from invnet.jobs import run_job

    job = plan_of(_config_with(config, experiment, n, seed)).job(
        "generate_data", {"experiment": experiment, "n": n, "seed": seed})
    run_job(job.rule, job.params, {}, {"data": str(out)})


def run_solver(config: dict[str, Any], experiment: str, solver: str, n: int, seed: int, data, out, init=None) -> None:
    """Run the solve job of (experiment, solver, n, seed) of ``config``'s plan in-process on the
    data artifact ``data`` (and the run it starts from, ``init``), writing ``out``."""
    from invnet.jobs import run_job

    job = plan_of(_config_with(config, experiment, n, seed)).job(
        "solve", {"experiment": experiment, "solver": solver, "n": n, "seed": seed})
    inputs = {"data": [str(data)], **({"init": [str(init)]} if init is not None else {})}
    run_job(job.rule, job.params, inputs, {"run": str(out)})
