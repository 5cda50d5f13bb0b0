"""Per-job start-up cost: what a cluster job spends before and around its own work.

A SLURM job (one job of a batch) runs `python -m snakemake --target-jobs ...` on the node: it
reads the workflow (imports invnet and torch, resolves the config, builds the job's DAG), then
runs the rule's script in a new Python (imports again), which does the work. This script times
exactly that with the local executor, on one `generate_data` job of the smoke preset (whose own
work is small), in a temporary copy of the workflow:

    python benchmarks/job_startup.py [--repeats 3] [--src PATH]

``--src`` puts another checkout's src/ first on PYTHONPATH (to compare two versions).
Per repeat: wall and CPU seconds (user + sys of every process) of the whole job, and the job's
own Snakemake benchmark (``s``, ``cpu_time``: the script's process). Last line:
``startup_wall_s=<a> startup_cpu_s=<b> script_import_cpu_s=<i> job_cpu_s=<c>
startup_to_job_cpu=<b/c>`` (medians; start-up = whole job minus the script's own benchmark,
which includes the script's imports, measured alone as ``script_import_cpu_s``).
"""

from __future__ import annotations

import argparse
import csv
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TARGET = "results/data/wavepacket/n8/seed0.h5"
BENCH = "results/benchmarks/generate_data/wavepacket/n8/seed0.tsv"
# What a data job's script imports (invnet.jobs and the family registry; invnet.pipeline before
# the job plan existed, so that --src can point at an older checkout).
IMPORTS = ("import importlib, importlib.util as u; "
           "importlib.import_module('invnet.jobs' if u.find_spec('invnet.jobs') else 'invnet.pipeline'); "
           "import invnet.problems, invnet.artifacts")


def _children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--src", type=Path, default=REPO / "src")
    args = ap.parse_args(argv)
    snakemake = [sys.executable, "-m", "snakemake"]
    env = dict(os.environ, PYTHONPATH=str(args.src.resolve()))
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for name in ("Snakefile", "workflow", "config", "profiles", "envs"):
            src = REPO / name
            (shutil.copytree if src.is_dir() else shutil.copy2)(src, work / name)
        cmd = [*snakemake, TARGET, "--cores", "1", "--configfile", "config/smoke.yaml", "--force", "-q"]
        for k in range(args.repeats + 1):  # the first run warms caches (.pyc, page cache)
            cpu0, t0 = _children_cpu(), time.perf_counter()
            subprocess.run(cmd, cwd=work, env=env, check=True, capture_output=True)
            wall, cpu = time.perf_counter() - t0, _children_cpu() - cpu0
            with (work / BENCH).open() as f:
                bench = next(csv.DictReader(f, delimiter="\t"))
            if k:
                rows.append((wall, cpu, float(bench["s"]), float(bench["cpu_time"])))
                print(f"repeat {k}: job {wall:.2f} s wall, {cpu:.2f} s CPU; "
                      f"script benchmark {float(bench['s']):.2f} s wall, {float(bench['cpu_time']):.2f} s CPU")
        imports = []
        for _ in range(args.repeats):  # what the script's process spends importing
            cpu0 = _children_cpu()
            subprocess.run([sys.executable, "-c", IMPORTS], env=env, check=True)
            imports.append(_children_cpu() - cpu0)
    wall = statistics.median(r[0] - r[2] for r in rows)
    cpu = statistics.median(r[1] - r[3] for r in rows)
    job = statistics.median(r[3] for r in rows)
    imp = statistics.median(imports)
    print(f"startup_wall_s={wall:.2f} startup_cpu_s={cpu:.2f} script_import_cpu_s={imp:.2f} "
          f"job_cpu_s={job:.2f} startup_to_job_cpu={cpu / job:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
