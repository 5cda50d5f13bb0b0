"""The Snakemake workflow: smoke DAG end to end, config validation, lint and formatting.

Each test runs Snakemake in a temporary copy of the workflow (Snakefile, workflow/, config/,
profiles/, envs/), so results/ and .snakemake/ of the checkout are never touched. The package
itself is imported from the installed (editable) invnet.
"""

from __future__ import annotations

import math
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
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


def _copy_workflow(dest: Path, with_src: bool = False) -> Path:
    """A copy of the workflow in ``dest``; ``with_src`` copies the package too (to edit it)."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in COPIED + (("src",) if with_src else ()):
        src = REPO / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        else:
            shutil.copy2(src, dest / name)
    return dest


def _snakemake(
    cwd: Path, *args: str, timeout: float = 600, pythonpath: Path | None = None
) -> subprocess.CompletedProcess:
    env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    if pythonpath is not None:  # jobs and the DAG import invnet (or a plug-in) from here first
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(pythonpath), os.environ.get("PYTHONPATH")]))
    return subprocess.run(
        [*SNAKEMAKE, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env
    )


def _expected_outputs(config: dict, combined: dict[str, tuple[str, ...]]) -> list[str]:
    """Every file the default target must produce for ``config``; ``combined`` maps each
    figure drawn over several experiments to the families it applies to (``()``: a figure not
    drawn from experiments, e.g. from a study's table or from nothing)."""
    from invnet.config import resolve_config
    from invnet.figures import figures
    from invnet.studies import studies

    paths = []
    families = {}
    for experiment, block in config["experiments"].items():
        families[experiment] = block["family"]
        for n in block.get("n", [16, 64, 256]):
            for seed in block.get("seeds", [0, 1, 2, 3, 4]):
                paths.append(f"results/data/{experiment}/n{n}/seed{seed}.h5")
                paths += [
                    f"results/runs/{experiment}/{solver}/n{n}/seed{seed}.h5"
                    for solver in block["solvers"]
                ]
        paths += [
            f"results/aggregate/{experiment}/{t}.csv"
            for t in ("outcomes", "fractions", "summary", "history", "test", "budget")
        ]
        for name, spec in figures().items():
            if spec.per_experiment and spec.applies_to(block["family"]):  # generic or its family's
                paths += [f"results/figures/{experiment}/{name}.{ext}" for ext in ("pdf", "png")]
                if spec.panels is not None:
                    paths.append(f"results/aggregate/{experiment}/panels/{name}.h5")
    for name, fams in combined.items():
        if fams == ():
            paths += [f"results/figures/{name}.{ext}" for ext in ("pdf", "png")]
            continue
        matching = [e for e, f in families.items() if f in fams]
        if matching:
            paths += [f"results/figures/{name}.{ext}" for ext in ("pdf", "png")]
            paths += [f"results/aggregate/{e}/panels/{name}.h5" for e in matching[:1]]
    paths += [f"results/tables/{t}.{ext}" for t in ("table2", "table4") for ext in ("csv", "tex", "md")]
    for name, settings in resolve_config(config, check_cuda=False)["studies"].items():
        spec = studies()[name]
        paths.append(f"results/tables/{spec.table}.csv")
        paths += [
            f"results/studies/{name}/{part}/chunk{k}.h5"
            for part in spec.parts(settings)
            for k in range(len(spec.chunks(settings)))
        ]
    return paths


def _job_counts(output: str) -> dict[str, int]:
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


# ------------------------------------------------------------------------------ smoke DAG


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    """The smoke DAG run once in a copy of the workflow and of the package (src/ first on the
    path, so tests can edit the package's code and see what Snakemake reschedules)."""
    work = _copy_workflow(tmp_path_factory.mktemp("smoke") / "wf", with_src=True)
    t0 = time.perf_counter()
    run = _snakemake(work, "--cores", "2", "--configfile", "config/smoke.yaml", timeout=900,
                     pythonpath=work / "src")
    run.wall_s = time.perf_counter() - t0  # reported next to the SLURM run's (test_slurm_*)
    return work, run


@pytest.mark.slow
def test_smoke_dag_end_to_end(smoke_run):
    work, run = smoke_run
    assert run.returncode == 0, run.stderr[-5000:]
    assert "Using workflow specific profile profiles/default" in run.stderr

    smoke = yaml.safe_load((work / "config" / "smoke.yaml").read_text())
    combined = {"fig3": ("wavepacket",), "fig4": ("billiards", "billiards_chain"), "fig5": ("ks",), "fig_fluid": ("fluid",),
                "fig1": (), "fig2": ()}
    missing = [p for p in _expected_outputs(smoke, combined) if not (work / p).is_file()]
    assert not missing, f"missing outputs: {missing}"
    for rule_dir in ("generate_data", "solve", "aggregate", "figure_panels", "studies"):
        assert list((work / "logs" / rule_dir).rglob("*.log")), f"no logs for {rule_dir}"
        assert list((work / "results" / "benchmarks" / rule_dir).rglob("*.tsv"))
    assert not list((work / "results").rglob(".*.tmp.*")), "temporary files left behind"

    # Nothing left to do: neither for the default target nor for the named targets. One dry run
    # for all of them (nothing to do for the union means nothing for each; a Snakemake start-up
    # per target cost 45 s of CI time).
    targets = ("all", "fig3", "fig4", "fig5", "table2", "table4", "scatter", "trajectories", "ks_roughness",
               "fig_fluid", "fig1", "fig2")
    dry = _snakemake(work, *targets, "-n", "--configfile", "config/smoke.yaml", pythonpath=work / "src")
    assert dry.returncode == 0, dry.stderr[-3000:]
    assert "Nothing to be done" in dry.stdout + dry.stderr, (dry.stdout + dry.stderr)[-3000:]


# Editing one module reschedules exactly the jobs whose results it can change (smoke config:
# wavepacket 2 n x 2 seeds = 4 problem sets, 8 solvers; billiards 1 problem set and ks 4, each with
# bfgs, gd, jpo; the alignment study in one chunk). A figure's panel step reads every run of the
# representative problem set, so it follows any solver change: fig3 (wavepacket), fig4 and
# trajectories (billiards), fig5 and ks_roughness (ks), fig_fluid (fluid: 2 problem sets with
# bfgs, gd, jpo). Per-experiment figures: scatter, beat_fraction and budget for all four,
# trajectories for billiards, ks_roughness for ks.
CODE_CHANGES = {
    "problems/wavepacket.py": {
        "generate_data": 4, "solve": 32, "aggregate": 1, "figure_panels": 1, "plot_combined_figure": 1,
        "plot_experiment_figure": 3, "make_table2": 1, "make_table4": 1, "all": 1,
    },
    "problems/billiards.py": {
        "generate_data": 1, "solve": 3, "aggregate": 1, "figure_panels": 2, "plot_combined_figure": 1,
        "plot_experiment_figure": 4, "make_table2": 1, "make_table4": 1, "all": 1,
    },
    "problems/ks.py": {
        "generate_data": 4, "solve": 12, "aggregate": 1, "figure_panels": 2, "plot_combined_figure": 1,
        "plot_experiment_figure": 4, "make_table2": 1, "make_table4": 1, "all": 1,
    },
    "problems/fluid.py": {
        "generate_data": 2, "solve": 6, "aggregate": 1, "figure_panels": 1, "plot_combined_figure": 1,
        "plot_experiment_figure": 3, "make_table2": 1, "make_table4": 1, "all": 1,
    },
    "solvers/gd.py": {  # wavepacket 4 + billiards 1 + ks 4 + fluid 2 runs
        "solve": 11, "aggregate": 4, "figure_panels": 6, "plot_combined_figure": 4,
        "plot_experiment_figure": 14, "make_table2": 1, "make_table4": 1, "all": 1,
    },
    "solvers/network_training.py": {  # jpo and supervised, and the refinements started from them
        "solve": 23, "aggregate": 4, "figure_panels": 6, "plot_combined_figure": 4,
        "plot_experiment_figure": 14, "make_table2": 1, "make_table4": 1, "all": 1,
    },
    "figures/scatter.py": {"plot_experiment_figure": 4, "all": 1},
    "figures/fig3.py": {"figure_panels": 1, "plot_combined_figure": 1, "all": 1},
    "figures/fig1.py": {"plot_combined_figure": 1, "all": 1},
    "figures/fig2.py": {"plot_combined_figure": 1, "all": 1},
    "figures/fig4.py": {"figure_panels": 1, "plot_combined_figure": 1, "all": 1},
    "figures/fig5.py": {  # ks_roughness and fig_fluid import helpers from fig5
        "figure_panels": 3, "plot_combined_figure": 2, "plot_experiment_figure": 1, "all": 1,
    },
    "figures/fig_fluid.py": {"figure_panels": 1, "plot_combined_figure": 1, "all": 1},
    "studies/alignment.py": {"study_chunk": 1, "study_table": 1, "plot_combined_figure": 1, "all": 1},
    "tables.py": {"make_table2": 1, "make_table4": 1, "all": 1},
}


def test_comments_and_docstrings_do_not_change_fingerprints(tmp_path):
    from invnet.fingerprint import code_fingerprint

    mod = tmp_path / "fp_probe.py"
    mod.write_text('"""Doc."""\n\ndef f(x):\n    """Doc."""\n    return x + 1\n')
    sys.path.insert(0, str(tmp_path))
    try:
        before = code_fingerprint("fp_probe")
        mod.write_text('"""Other doc."""\n# a comment\n\ndef f(x):\n    return x + 1  # same code\n')
        from invnet import fingerprint

        fingerprint._code.cache_clear()
        fingerprint._imports.cache_clear()
        assert code_fingerprint("fp_probe") == before
        mod.write_text('def f(x):\n    return x + 2\n')
        fingerprint._code.cache_clear()
        assert code_fingerprint("fp_probe") != before
    finally:
        sys.path.remove(str(tmp_path))


@pytest.mark.slow
@pytest.mark.parametrize("module", sorted(CODE_CHANGES))
def test_code_change_reschedules_what_it_changes(smoke_run, module):
    work, run = smoke_run
    assert run.returncode == 0, run.stderr[-3000:]
    path = work / "src" / "invnet" / module
    original = path.read_text()
    try:
        path.write_text(original + "\n_EDITED = True\n")
        dry = _snakemake(work, "-n", "--configfile", "config/smoke.yaml", pythonpath=work / "src")
    finally:
        path.write_text(original)
    assert dry.returncode == 0, dry.stderr[-3000:]
    assert _job_counts(dry.stdout + dry.stderr) == CODE_CHANGES[module], (dry.stdout + dry.stderr)[-4000:]


def test_preset_does_not_leak_the_default_config(tmp_path):
    """--configfile replaces config/config.yaml: an experiment only the default lists never runs."""
    work = _copy_workflow(tmp_path / "wf")
    default = yaml.safe_load((work / "config" / "config.yaml").read_text())
    default["experiments"]["leaky"] = {"family": "wavepacket", "solvers": {"bfgs": {}}}
    (work / "config" / "config.yaml").write_text(yaml.safe_dump(default))

    smoke = _snakemake(work, "-n", "--configfile", "config/smoke.yaml")
    assert smoke.returncode == 0, smoke.stderr[-3000:]
    assert "leaky" not in smoke.stdout + smoke.stderr
    counts = _job_counts(smoke.stdout + smoke.stderr)
    blocks = yaml.safe_load((work / "config" / "smoke.yaml").read_text())["experiments"].values()
    assert counts["generate_data"] == sum(len(b["n"]) * len(b["seeds"]) for b in blocks)
    assert counts["solve"] == sum(len(b["n"]) * len(b["seeds"]) * len(b["solvers"]) for b in blocks)

    plain = _snakemake(work, "-n")  # without --configfile the default (with 'leaky') is the config
    assert plain.returncode == 0, plain.stderr[-3000:]
    assert "results/runs/leaky/bfgs/n16/seed0.h5" in plain.stdout

    override = _snakemake(work, "-n", "--configfile", "config/smoke.yaml", "--config", "threads=1")
    assert override.returncode == 0 and "leaky" not in override.stdout + override.stderr


# ------------------------------------------------------------------------------ bad configs

def _smoke() -> dict:
    return yaml.safe_load((REPO / "config" / "smoke.yaml").read_text())


def _set(path: str, value):
    """A mutation of the smoke config: set the value at a dotted key path (None deletes it)."""

    def mutate(cfg: dict) -> None:
        *parents, last = path.split(".")
        node = cfg
        for key in parents:
            node = node.setdefault(key, {})
        if value is None:
            node.pop(last)
        else:
            node[last] = value

    return mutate


WP = "experiments.wavepacket"
BAD_CONFIGS = {
    "wrong_type": (_set("threads", "two"), ["threads", "integer"]),
    "negative_n": (_set(f"{WP}.n", [-4, 16]), ["experiments.wavepacket.n[0]", "-4"]),
    "zero_n_test": (_set(f"{WP}.n_test", 0), ["experiments.wavepacket.n_test"]),
    "negative_seed": (_set(f"{WP}.seeds", [0, -1]), ["experiments.wavepacket.seeds[1]"]),
    "empty_seeds": (_set(f"{WP}.seeds", []), ["experiments.wavepacket.seeds"]),
    "unknown_solver": (_set(f"{WP}.solvers.bfsg", {"gtol": 1e-5}), ["bfsg", "allowed", "bfgs", "jpo"]),
    "unknown_setting": (
        _set(f"{WP}.solvers.jpo.hiden", [8]),
        ["experiments.wavepacket.solvers.jpo.hiden", "hidden"],
    ),
    "unknown_family": (_set(f"{WP}.family", "billiard"), ["experiments.wavepacket.family", "billiard", "wavepacket"]),
    "missing_family": (_set(f"{WP}.family", None), ["experiments.wavepacket.family", "required"]),
    "bad_import_path": (_set(f"{WP}.family", "no_such_module:Family"), ["experiments.wavepacket.family", "no_such_module"]),
    "bad_enum": (_set(f"{WP}.solvers.jpo.activation", "swish"), ["activation", "swish", "relu"]),
    "semantic_range": (_set(f"{WP}.problem", {"t0_range": [0.9, 0.1]}), ["experiments.wavepacket.problem.t0_range"]),
    "cuda_without_gpu": (_set("device", "cuda"), ["device", "cuda", "no CUDA device"]),
    "bad_device": (_set("device", "tpu"), ["device", "tpu", "auto, cpu, cuda"]),
}


@pytest.fixture(scope="module")
def config_workdir(tmp_path_factory):
    return _copy_workflow(tmp_path_factory.mktemp("badconfig"))


@pytest.mark.parametrize("case", sorted(BAD_CONFIGS))
def test_bad_config_fails_before_any_job(config_workdir, case):
    mutate, needles = BAD_CONFIGS[case]
    if case == "cuda_without_gpu" and torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    cfg = _smoke()
    mutate(cfg)
    bad = config_workdir / f"bad_{case}.yaml"
    bad.write_text(yaml.safe_dump(cfg))
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
        "experiments:\n  wavepacket:\n    family: wavepacket\n    n: [4]\n    seeds: [0]\n"
        "    solvers:\n      bfgs: {}\n      jpo_bfgs: {}\n"
    )
    run = _snakemake(config_workdir, "-n", "--configfile", bad.name)
    output = run.stdout + run.stderr
    assert run.returncode != 0
    assert "jpo_bfgs" in output and "'jpo'" in output, output[-3000:]


def test_presets_dry_run(config_workdir):
    """Every shipped preset parses, validates and builds a DAG."""
    for preset in ("config/config.yaml", "config/smoke.yaml", "config/paper.yaml"):
        run = _snakemake(config_workdir, "-n", "--configfile", preset)
        assert run.returncode == 0, f"{preset}:\n{run.stderr[-3000:]}"


def test_slurm_profile_dry_run(config_workdir):
    """The SLURM profile parses (plugin installed, keys known) and resources evaluate; with
    `device: cuda` every solve job asks for one GPU, even on a submit host without one."""
    run = _snakemake(config_workdir, "-n", "--workflow-profile", "profiles/slurm", "--configfile", "config/paper.yaml")
    assert run.returncode == 0, run.stderr[-3000:]
    assert "Using workflow specific profile profiles/slurm" in run.stderr
    assert "runtime=" in run.stdout + run.stderr

    gpu = _snakemake(config_workdir, "-n", "--workflow-profile", "profiles/slurm", "--configfile",
                     "config/smoke.yaml", "--config", "device=cuda")
    output = gpu.stdout + gpu.stderr
    assert gpu.returncode == 0, output[-3000:]
    blocks = re.split(r"\n\s*(?:local)?rule ", output)[1:]
    solves = [b for b in blocks if b.startswith("solve:")]
    assert solves and all("gpu=1" in b for b in solves), output[-3000:]
    assert not [b for b in blocks if not b.startswith("solve:") and "gpu=1" in b]
    cpu = _snakemake(config_workdir, "-n", "--workflow-profile", "profiles/slurm", "--configfile",
                     "config/smoke.yaml", "--config", "device=cpu")
    assert cpu.returncode == 0 and "gpu=1" not in cpu.stdout + cpu.stderr


def test_resource_requests_follow_the_measured_table(config_workdir):
    """Requests come from workflow/resources.yaml: 2 min + 3 x the measured wall time, scaled
    linearly in n above the measured n and by the configured budget (steps) over the measured."""
    table = yaml.safe_load((REPO / "workflow" / "resources.yaml").read_text())
    measured = table["solve"]["wavepacket"]["jpo"]
    m = max(measured)
    cfg = _smoke()
    cfg["experiments"] = {"wavepacket": {"family": "wavepacket", "n": [4 * m], "seeds": [0],
                                         "solvers": {"bfgs": {}, "jpo": {"steps": 2 * measured[m]["steps"]}}}}
    cfg.pop("studies", None)
    (config_workdir / "sized.yaml").write_text(yaml.safe_dump(cfg))
    run = _snakemake(config_workdir, "-n", "--configfile", "sized.yaml")
    assert run.returncode == 0, run.stderr[-3000:]
    block = next(b for b in re.split(r"\n\s*rule ", run.stdout + run.stderr) if "solver=jpo" in b)
    expected = 2 + math.ceil(3 * measured[m]["s"] * 4 * 2 / 60)
    assert f"runtime={expected}," in block, block
    assert f"mem_mb={100 * math.ceil((1.5 * measured[m]['max_rss_mb'] + 500) / 100)}," in block, block


# ------------------------------------------------------------------------------ SLURM
# The smoke DAG through the real `slurm` executor on a running cluster (cluster/slurm-local-up.sh
# starts a single-node one): skipped without a cluster, except in CI (CI set), where a missing
# cluster fails. Flags for a cluster without accounting (no slurmdbd, so no sacct) and quick polls.
SLURM_FLAGS = (
    "--workflow-profile", "profiles/slurm",
    "--slurm-status-command", "squeue",
    "--slurm-init-seconds-before-status-checks", "2",
    "--latency-wait", "5",
)
SUBMITTED = re.compile(r"submitted with SLURM jobid (\d+)")


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


def _h5_contents(path: Path) -> dict:
    """Every dataset (dtype, shape, raw bytes) and every attribute but ``provenance`` (host,
    SLURM job id, wall time) of an HDF5 artifact."""
    import h5py

    with h5py.File(path, "r") as f:
        out = {f"attr:{k}": str(v) for k, v in f.attrs.items() if k != "provenance"}
        for name in f:
            d = f[name][()]
            out[f"data:{name}"] = (str(d.dtype), d.shape, d.tobytes())
    return out


def _assert_same_artifacts(local: Path, other: Path, pattern: str = "**/*.h5") -> int:
    """The numeric contents of every HDF5 artifact under ``other`` equal ``local``'s bit for bit."""
    files = sorted(p.relative_to(other) for p in (other / "results").glob(pattern))
    assert files, f"no artifacts under {other}/results"
    for rel in files:
        a, b = _h5_contents(local / rel), _h5_contents(other / rel)
        assert a.keys() == b.keys(), f"{rel}: {sorted(a.keys() ^ b.keys())}"
        differ = [k for k in a if a[k] != b[k]]
        assert not differ, f"{rel}: {differ} differ between the local and the SLURM run"
    return len(files)


def _expected_submissions(work: Path) -> int:
    """sbatch calls of the smoke DAG: one per batch of the group 'batch' (problem sets and study
    chunks, group-components at a time) plus one per job of the rules outside the group."""
    profile = yaml.safe_load((work / "profiles" / "slurm" / "config.yaml").read_text())
    grouped = {g.split("=")[0] for g in profile["groups"]}
    size = int(next(c for c in profile["group-components"] if c.startswith("batch=")).split("=")[1])
    dry = _snakemake(work, "-n", "--forceall", "--configfile", "config/smoke.yaml", pythonpath=work / "src")
    counts = _job_counts(dry.stdout + dry.stderr)  # every job, also after the run
    smoke = yaml.safe_load((work / "config" / "smoke.yaml").read_text())
    components = sum(len(b["n"]) * len(b["seeds"]) for b in smoke["experiments"].values())
    components += counts.get("study_chunk", 0)
    local = {"all", "plot_experiment_figure", "plot_combined_figure", "make_table2", "make_table4", "study_table"}
    return math.ceil(components / size) + sum(c for r, c in counts.items() if r not in grouped | local)


@pytest.fixture(scope="module")
def slurm_run(tmp_path_factory):
    _require_slurm()
    work = _copy_workflow(tmp_path_factory.mktemp("slurm") / "wf", with_src=True)
    t0 = time.perf_counter()
    run = _slurm_snakemake(work, "--configfile", "config/smoke.yaml")
    run.wall_s = time.perf_counter() - t0
    return work, run


@pytest.mark.slow
def test_slurm_smoke_run_equals_local_run(smoke_run, slurm_run, capsys):
    """The smoke DAG through sbatch: batched submissions, and every artifact bit for bit the
    local run's (same config, seeds and torch thread count: `threads`, 1 in both runs)."""
    local, local_run = smoke_run
    work, run = slurm_run
    assert local_run.returncode == 0, local_run.stderr[-3000:]
    assert run.returncode == 0, run.stderr[-5000:]
    assert "Using workflow specific profile profiles/slurm" in run.stderr
    submitted = SUBMITTED.findall(run.stderr)
    assert len(submitted) == _expected_submissions(work), run.stderr[-5000:]
    checked = _assert_same_artifacts(local, work)
    dry = _snakemake(work, "-n", "--configfile", "config/smoke.yaml", pythonpath=work / "src")
    assert "Nothing to be done" in dry.stdout + dry.stderr, (dry.stdout + dry.stderr)[-3000:]
    with capsys.disabled():
        print(f"\nSLURM smoke run: {run.wall_s:.0f} s wall, {len(submitted)} sbatch submissions; "
              f"local smoke run: {local_run.wall_s:.0f} s wall; {checked} HDF5 artifacts identical")


@pytest.mark.slow
def test_slurm_scancel_then_rerun(tmp_path):
    """A batch killed by `scancel` while a solver computes leaves no complete-looking output;
    the next invocation reruns what had not finished, and the artifacts equal those of the same
    target run locally without interruption. (Billiards of the smoke preset, with a JPO of 1000
    steps so that the solve lasts long enough to be caught running; the target is that JPO run
    alone, so the batch holds its problem set and the JPO solve.)"""
    _require_slurm()
    cfg = _smoke()
    cfg["experiments"] = {"billiards": cfg["experiments"]["billiards"]}
    cfg["experiments"]["billiards"]["solvers"]["jpo"]["steps"] = 1000
    cfg.pop("studies", None)
    target = ("results/runs/billiards/jpo/n8/seed0.h5", "--configfile", "config/killed.yaml")
    local = _copy_workflow(tmp_path / "local", with_src=True)
    work = _copy_workflow(tmp_path / "wf", with_src=True)
    for where in (local, work):
        (where / "config" / "killed.yaml").write_text(yaml.safe_dump(cfg))
    uninterrupted = _snakemake(local, *target, "--cores", "2", pythonpath=local / "src")
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
        assert _h5_contents(h5)["attr:complete"] == "True", h5
    runs_left = len(list((work / "results" / "runs").rglob("*.h5")))
    data_left = len(list((work / "results" / "data").rglob("*.h5")))

    second = _slurm_snakemake(work, *target)
    assert second.returncode == 0, second.stderr[-5000:]
    rerun = _job_counts(second.stdout + second.stderr)
    assert rerun.get("solve", 0) == 1 - runs_left == 1, second.stderr[-3000:]
    assert rerun.get("generate_data", 0) == 1 - data_left, second.stderr[-3000:]
    assert _assert_same_artifacts(local, work) == 1 + 1  # the data set and the JPO run


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
