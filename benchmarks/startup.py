"""Per-job start-up on this machine, next to its floor (``python -c "import torch"``), measured side
by side: a data job, a BFGS solve, a GD solve (torch.optim), an aggregate and a figure job, each run
through the job entry point exactly as Snakemake runs it: the rule's shell command
(``bash -c``, the job command of invnet.job_command) or, for a ``script:`` rule (and every rule of
older versions), its generated script (Snakemake's preamble, then workflow/scripts/job.py).

How: in a temporary copy of the workflow, Snakemake runs the smoke preset's billiards scatter figure
(a data set, BFGS, GD and JPO solves, the aggregate and the figure) with ``--skip-script-cleanup``
and ``--printshellcmds``; then each kept job script and each printed command is run again
``--repeats`` times, alternating with the floor commands, and the CPU (user + sys) of each process
tree is taken from ``getrusage``. A solve job's log gives the CPU
of its solve; its start-up is the rest. ``-X importtime`` shows which heavy packages each job loads.

    python benchmarks/startup.py [--repeats 5] [--tree PATH]

``--tree`` measures another checkout (its workflow and its src/), e.g. main before a change.

Each job kind is measured twice: started cold (``INVNET_WARM=0``: a new interpreter that imports
what it needs) and, where the tree has ``invnet.warm``, forked from the warm interpreter (the job
process hands the job over; its CPU is its own plus the forked process's, from the job's log).

Last line: ``floor_torch_s=<f> data_s=<d> bfgs_s=<b> bfgs_startup_s=<bs> gd_s=<g> gd_startup_s=<gs>
figure_s=<p> figure_imports_torch=<yes|no>`` (medians of whole jobs; *_startup = job CPU - solve CPU,
n/a for versions whose logs give no solve CPU; a data job's own work is milliseconds).
"""

from __future__ import annotations

import argparse
import ast
import os
import pickle
import re
import resource
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from invnet.jobs import read_cpu_line

REPO = Path(__file__).resolve().parents[1]
TARGET = "results/figures/billiards/scatter.png"
# The floor, and the same without the interpreter's teardown (a job ends with os._exit once its
# outputs are written: invnet.jobs), the floor of a job that ends that way.
FLOORS = {"python": ["-c", "pass"], "torch": ["-c", "import torch"],
          "torch, no teardown": ["-c", "import torch, os; os._exit(0)"]}
PICKLE = re.compile(r"snakemake = pickle\.loads\((b['\"].*?['\"])\);")
SHELL = re.compile(r"^Shell command: (.*job\.py .*)$", re.MULTILINE)


def cpu_of(cmd: list[str], cwd: Path, env: dict[str, str]) -> float:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(cmd, cwd=cwd, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def logged_job_cpu(log: Path) -> float:
    """The forked process's CPU a warm job's log ends with (``job_cpu_s=... warm=1``)."""
    logged = read_cpu_line(log)
    if not logged or not logged["warm"]:
        raise RuntimeError(f"{log}: the job did not run in the warm interpreter")
    return logged["job_cpu_s"]


def start_warm_server(entry: list[str], log: str, cwd: Path, env: dict[str, str]) -> None:
    """Run a job until one runs forked from a warm interpreter (the first starts the server)."""
    import time

    for _ in range(200):
        subprocess.run(entry, cwd=cwd, env=env, check=True, capture_output=True)
        logged = read_cpu_line(cwd / log)
        if logged and logged["warm"]:
            return
        time.sleep(0.2)
    raise RuntimeError("no warm interpreter came up")


def job_of(script: Path) -> tuple[str, str | None, str]:
    """(rule, solver or None, log file) of a kept Snakemake job script."""
    match = PICKLE.search(script.read_text())
    smk = pickle.loads(ast.literal_eval(match.group(1)))
    return smk.rule, dict(smk.wildcards.items()).get("solver"), smk.log[0]


def job_of_command(command: str) -> tuple[str, str | None, str]:
    """(rule, solver or None, log file) of a printed job command (its last word: the job)."""
    job = ast.literal_eval(shlex.split(command)[-1])
    return job["rule"], job["params"].get("solver") if job["rule"].startswith("solve") else None, job["log"]


def entries(work: Path, printed: str) -> dict[str, tuple[list[str], str]]:
    """Per job kind, the process Snakemake starts for it (argv: `bash -c`, as Snakemake runs a
    script and a shell command; bash also drops variables such as PS1 that a warm server's key
    would see) and the job's log file."""
    found: list[tuple[tuple[str, str | None, str], list[str]]] = []
    for script in sorted((work / ".snakemake" / "scripts").glob("*.py")):
        found.append((job_of(script), ["bash", "-c", f"set -euo pipefail; {shlex.quote(sys.executable)} {script}"]))
    for command in SHELL.findall(printed):
        found.append((job_of_command(command), ["bash", "-c", f"set -euo pipefail; {command}"]))
    kinds: dict[str, tuple[list[str], str]] = {}
    for (rule, solver, log), argv in found:
        kind = f"solve {solver}" if rule == "solve" else rule
        if kind in ("generate_data", "solve bfgs", "solve gd", "aggregate", "plot_experiment_figure"):
            kinds[kind] = (argv, log)
    return kinds


def solve_cpu(log: Path) -> float | None:
    """The CPU seconds of the solve a job's log reports (None where an older version logs none)."""
    match = re.search(r"done in [\d.]+ s \(([\d.]+) s CPU", log.read_text())
    return float(match.group(1)) if match else None


HEAVY = ("torch", "torch._dynamo", "scipy.optimize", "h5py", "pandas", "matplotlib.pyplot", "seaborn", "snakemake")


def heavy_imports(entry: list[str], cwd: Path, env: dict[str, str]) -> dict[str, float]:
    """Which heavy packages a job loads, each with its cumulative import time (``-X importtime``,
    wall seconds of one run: inflated on a loaded machine, but zero means not imported)."""
    run = subprocess.run(entry, cwd=cwd, env=dict(env, PYTHONPROFILEIMPORTTIME="1"), capture_output=True,
                         text=True, check=True)
    found: dict[str, float] = {}
    for line in run.stderr.splitlines():
        if line.startswith("import time:") and "cumulative" not in line:
            _, cumulative, name = line.split(":", 1)[1].split("|")
            if name.strip() in HEAVY:
                found[name.strip()] = int(cumulative) / 1e6
    return found


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--tree", type=Path, default=REPO, help="the checkout to measure (workflow and src/)")
    args = ap.parse_args(argv)
    tree = args.tree.resolve()
    env = dict(os.environ, PYTHONPATH=str(tree / "src"), MPLBACKEND="Agg", INVNET_WARM="0")
    warm_env = dict(env, INVNET_WARM="1", INVNET_WARM_IDLE_S="60")
    has_warm = (tree / "src" / "invnet" / "warm.py").exists()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for name in ("Snakefile", "workflow", "config", "profiles", "envs"):
            src = tree / name
            (shutil.copytree if src.is_dir() else shutil.copy2)(src, work / name)
        run = subprocess.run([sys.executable, "-m", "snakemake", TARGET, "--cores", "1", "--configfile",
                              "config/smoke.yaml", "--skip-script-cleanup", "--printshellcmds"], cwd=work, env=env,
                             check=True, capture_output=True, text=True)
        kinds = entries(work, run.stdout + run.stderr)
        samples: dict[str, list[float]] = {k: [] for k in [*FLOORS, *kinds]}
        startups: dict[str, list[float]] = {k: [] for k in kinds if k.startswith("solve")}
        warm: dict[str, list[float]] = {k: [] for k in kinds} if has_warm else {}
        warm_startups: dict[str, list[float]] = {k: [] for k in startups} if has_warm else {}
        if has_warm:
            start_warm_server(*next(iter(kinds.values())), work, warm_env)
        for _ in range(args.repeats):
            for floor, cmd in FLOORS.items():
                samples[floor].append(cpu_of([sys.executable, *cmd], work, env))
            for kind, (entry, log) in kinds.items():
                cpu = cpu_of(entry, work, env)
                samples[kind].append(cpu)
                solve = solve_cpu(work / log) if kind in startups else None
                if solve is not None:
                    startups[kind].append(cpu - solve)
                if has_warm:
                    client = cpu_of(entry, work, warm_env)
                    total = client + logged_job_cpu(work / log)
                    warm[kind].append(total)
                    if kind in warm_startups:
                        warm_startups[kind].append(total - solve_cpu(work / log))
        med = {k: statistics.median(v) for k, v in samples.items()}
        print(f"CPU seconds per process, median of {args.repeats} (this machine, this sitting):")
        for kind, value in med.items():
            extra = f"  start-up {statistics.median(startups[kind]):.2f} s (job - its solve)" if startups.get(kind) else ""
            print(f"  {kind:24s} {value:6.2f} s  ({value - med['torch']:+.2f} s vs import torch){extra}")
        if has_warm:
            print("forked from the warm interpreter (job process + forked process, from the job's log):")
            for kind, values in warm.items():
                extra = (f"  start-up {statistics.median(warm_startups[kind]):.2f} s (job - its solve)"
                         if warm_startups.get(kind) else "")
                print(f"  {kind:24s} {statistics.median(values):6.2f} s  "
                      f"({statistics.median(values) - med['torch']:+.2f} s vs import torch){extra}")
        print("heavy imports each job loads (cumulative import time of one run, wall s):")
        imports = {}
        for kind, (entry, _) in kinds.items():
            imports[kind] = heavy_imports(entry, work, env)
            print(f"  {kind:24s} " + (", ".join(f"{p} {t:.2f}" for p, t in imports[kind].items()) or "none"))
    figure_torch = "torch" in imports.get("plot_experiment_figure", {})
    def startup(kind: str) -> str:
        return f"{statistics.median(startups[kind]):.2f}" if startups.get(kind) else "n/a"

    print(f"floor_torch_s={med['torch']:.2f} floor_torch_no_teardown_s={med['torch, no teardown']:.2f} data_s={med['generate_data']:.2f} bfgs_s={med['solve bfgs']:.2f} "
          f"bfgs_startup_s={startup('solve bfgs')} gd_s={med['solve gd']:.2f} gd_startup_s={startup('solve gd')} "
          f"figure_s={med['plot_experiment_figure']:.2f} figure_imports_torch={'yes' if figure_torch else 'no'}"
          + ("".join(f" warm_{name}_s={statistics.median(warm[kind]):.2f}" for name, kind in
                     (("data", "generate_data"), ("bfgs", "solve bfgs"), ("gd", "solve gd"),
                      ("figure", "plot_experiment_figure"))) if has_warm else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
