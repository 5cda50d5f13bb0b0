"""Are the results unchanged? Reruns chosen jobs of a config in-process with this tree and compares
their artifacts, bit for bit, with the same jobs' artifacts from another code version.

The other version is either an existing results folder (``--baseline DIR``: e.g. a finished
default run of main; only its files of the chosen jobs are read) or a source tree (``--before-src
DIR``: the same jobs are run with that tree in a subprocess, into a temporary folder). The chosen
jobs are those writing ``--targets`` (paths or globs, relative to the results root) or every job
(``--all``), plus the jobs they read from (data sets, the runs a refinement starts from).

Compared: every numeric HDF5 dataset (dtype, shape and raw bytes: signed zeros and NaN payloads
count) of data, run, panel and study artifacts; the CSV, Markdown and LaTeX of tables and
aggregates as text. Figures are not compared. Attributes (provenance: times, versions) are not.

    python benchmarks/compare_runs.py --baseline /work/baseline/main --targets 'results/runs/fluid/*/n16/seed1.h5'
    python benchmarks/compare_runs.py --before-src /path/to/main/src --config config/smoke.yaml --all

Last line: ``files=<compared> datasets=<compared> mismatches=<m> missing=<k>``; exit status 1
when something differs.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import h5py
import numpy as np

REPO = Path(__file__).resolve().parents[1]
TEXT = (".csv", ".md", ".tex")

# Runs the chosen jobs with whatever `invnet` is on PYTHONPATH (this tree or an older one): only
# Plan(config), plan.jobs, job.output_files, plan.ordered and plan.run are used, which every
# version since the job plan has.
RUNNER = """
import json, sys
from invnet.config import load_yaml, resolve_config
from invnet.plan import Plan
config, root, targets = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
plan = Plan(resolve_config(load_yaml(config)))
wanted = set(targets)
jobs = [j for j in plan.jobs if wanted & set(j.output_files)]
producers = {p: j for j in plan.jobs for p in j.output_files}
todo, chosen = list(jobs), {}
while todo:
    job = todo.pop()
    if job.key in chosen:
        continue
    chosen[job.key] = job
    todo += [producers[p] for p in job.input_files if p in producers]
plan.run(list(chosen.values()), root)
"""


def chosen_outputs(config: str, patterns: list[str], everything: bool) -> list[str]:
    """Output files of the jobs the patterns name (or of every job), and of the jobs they read."""
    from invnet.config import load_yaml, resolve_config
    from invnet.plan import Plan

    plan = Plan(resolve_config(load_yaml(config)))
    jobs = plan.jobs if everything else [
        j for j in plan.jobs if any(fnmatch.fnmatch(p, pat) for p in j.output_files for pat in patterns)
    ]
    if not jobs:
        raise SystemExit(f"no job of {config} writes {patterns}")
    closure = plan.ordered(jobs)
    todo = list(closure)
    while todo:  # upstream jobs (ordered() keeps only the chosen ones)
        job = todo.pop()
        for path in job.input_files:
            producer = plan.producers.get(path)
            if producer is not None and producer not in closure:
                closure.append(producer)
                todo.append(producer)
    return sorted({p for j in closure for p in j.output_files})


def run(src: Path, config: str, root: Path, outputs: list[str]) -> float:
    """Run the jobs writing ``outputs`` with the package at ``src``; returns CPU seconds."""
    env = dict(os.environ, PYTHONPATH=str(src), MPLBACKEND="Agg")
    before = os.times()
    subprocess.run([sys.executable, "-c", RUNNER, config, str(root), json.dumps(outputs)], env=env, check=True,
                   cwd=REPO)
    after = os.times()
    return (after.children_user - before.children_user) + (after.children_system - before.children_system)


def numeric_datasets(path: Path) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}

    def visit(name, obj):
        if isinstance(obj, h5py.Dataset) and obj.dtype.kind in "biufc":
            out[name] = obj[()]

    with h5py.File(path, "r") as f:
        f.visititems(visit)
    return out


def compare(a: Path, b: Path) -> tuple[int, list[str]]:
    """(datasets compared, differences) between two artifacts of one job."""
    if a.suffix in TEXT:
        return 1, [] if a.read_text() == b.read_text() else ["text differs"]
    da, db = numeric_datasets(a), numeric_datasets(b)
    diffs = [f"{k}: only in one" for k in sorted(set(da) ^ set(db))]
    for k in sorted(set(da) & set(db)):
        x, y = np.asarray(da[k]), np.asarray(db[k])
        if x.dtype != y.dtype or x.shape != y.shape:
            diffs.append(f"{k}: {x.dtype}{x.shape} vs {y.dtype}{y.shape}")
        elif x.tobytes() != y.tobytes():
            differ = np.asarray(x != y) if x.dtype.kind in "fc" else np.asarray(x != y)
            diffs.append(f"{k}: {int(np.count_nonzero(differ))} of {x.size} values differ in their bits")
    return len(set(da) & set(db)), diffs


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default="config/config.yaml")
    other = ap.add_mutually_exclusive_group(required=True)
    other.add_argument("--baseline", type=Path, help="results root of the other version (holds results/)")
    other.add_argument("--before-src", type=Path, help="src/ of the other version, run now")
    which = ap.add_mutually_exclusive_group(required=True)
    which.add_argument("--targets", nargs="+", help="output paths or globs (relative to the results root)")
    which.add_argument("--all", action="store_true", help="every job of the config")
    ap.add_argument("--keep", type=Path, help="write this tree's artifacts here (default: a temporary folder)")
    args = ap.parse_args(argv)

    outputs = chosen_outputs(args.config, args.targets or [], args.all)
    if args.baseline is not None:
        missing = [p for p in outputs if not (args.baseline / p).exists()]
        outputs = [p for p in outputs if p not in missing]
    with tempfile.TemporaryDirectory() as tmp:
        after_root = args.keep or Path(tmp) / "after"
        t = time.perf_counter()
        cpu = run(REPO / "src", args.config, after_root, outputs)
        print(f"this tree: {len(outputs)} files, {cpu:.1f} s CPU, {time.perf_counter() - t:.1f} s wall")
        if args.baseline is not None:
            before_root = args.baseline
        else:
            before_root = Path(tmp) / "before"
            t = time.perf_counter()
            cpu = run(args.before_src.resolve(), args.config, before_root, outputs)
            print(f"before ({args.before_src}): {cpu:.1f} s CPU, {time.perf_counter() - t:.1f} s wall")
            missing = []
        files = datasets = mismatches = 0
        for path in outputs:
            a, b = after_root / path, before_root / path
            if a.suffix not in TEXT + (".h5",):
                continue
            if not b.exists() or not a.exists():
                missing.append(path)
                continue
            n, diffs = compare(a, b)
            files, datasets = files + 1, datasets + n
            mismatches += len(diffs)
            status = "same" if not diffs else "DIFFERENT: " + "; ".join(diffs)
            print(f"{path}: {n} datasets {status}")
    for path in missing:
        print(f"{path}: not in both (skipped)")
    print(f"files={files} datasets={datasets} mismatches={mismatches} missing={len(missing)}")
    return 1 if mismatches else 0


if __name__ == "__main__":
    sys.exit(main())
