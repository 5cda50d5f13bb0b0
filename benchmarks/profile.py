"""Where a run's CPU went: per job kind (rule, experiment, solver), from the Snakemake benchmark files
of a results folder, split into start-up and work.

    python benchmarks/profile.py RESULTS_ROOT [--top 10] [--csv out.csv]

RESULTS_ROOT holds ``results/benchmarks/{rule}/...tsv`` (one per job: wall seconds ``s`` and CPU
seconds ``cpu_time`` of the job's process tree) and ``results/runs/...h5`` (the solver's own wall
time, ``wall_time_s`` in each run artifact's provenance).

Definitions (per job):

- CPU: the job process's own CPU, exact, from the ``job_cpu_s=`` line its log ends with
  (``logs/{rule}/...log``, written by :func:`invnet.jobs.cpu_line`). Where a log has no such line
  (runs before that line existed), the benchmark's ``cpu_time``: Snakemake samples it every 0.5 s
  for the first 15 s of a job, then every 30 s, and keeps the last sample, a lower bound short by
  up to 0.5 s on short jobs and up to 30 s on long ones. Both are printed, so the sampling's
  shortfall is measured where the exact value exists. A job that ran in a process forked from
  the warm interpreter (``invnet.warm``; its log line ends ``warm=1``) logs the forked process's
  CPU; its Snakemake job process (the client that handed it over) is the benchmark's process, so
  its CPU is the logged value plus the benchmark's ``cpu_time``. The warm server's own start
  (about 1.5 s of CPU, once per code version and idle period) is in no job's count.
- work: for a solve job, the share of its CPU spent in the solver: CPU × wall_time_s / s, with
  ``wall_time_s`` the solver's own wall time (the solve itself, without imports, reading the data
  or writing) and ``s`` the job's wall time (on a loaded machine wall exceeds CPU, for both alike);
  for other jobs, the CPU above the run's start-up floor F (below).
- start-up: CPU − work. For jobs other than solves: min(CPU, F), F = the median CPU of the run's
  data jobs at their smallest n (a data job computes for milliseconds: its CPU is what starting a
  job that imports torch costs). Jobs that import no torch (aggregate, plot, table) start for less
  than F, so for them this is an upper bound.

Prints one row per job kind (jobs, wall, CPU, start-up, work, start-up share), the totals, and the
``--top`` most expensive kinds by CPU. Last line: ``jobs=<n> cpu_s=<c> startup_s=<s>
startup_share=<f> wall_s=<w>`` (wall = sum over jobs, not the run's elapsed time).
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import sys
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from invnet.jobs import read_cpu_line

# results/benchmarks/{rule}/<parts>.tsv: the parts' names by rule (invnet.paths.RULE_WILDCARDS,
# repeated here so that the profile reads folders of older versions without importing them).
WILDCARDS = {
    "generate_data": ("experiment", "n", "seed"),
    "solve": ("experiment", "solver", "n", "seed"),
    "solve_test": ("experiment", "solver", "seed"),
    "fit_surrogate": ("experiment", "solver", "seed"),
    "aggregate": ("experiment",),
    "figure_panels": ("experiment", "figure"),
    "plot_experiment_figure": ("experiment", "figure"),
    "plot_combined_figure": ("figure",),
    "make_table": ("table",),
    "study_chunk": ("study", "part", "chunk"),
    "study_table": ("table",),
    "sweep": ("experiment",),
}


@dataclass
class JobCost:
    rule: str
    wildcards: dict[str, str]
    wall: float
    cpu: float
    work: float | None = None  # the solver's own wall time (solve jobs), then CPU in the work
    startup: float = 0.0
    sampled: float = 0.0  # the benchmark's sampled cpu_time (a lower bound)
    warm: bool = False  # ran in a process forked from the warm interpreter
    exact: bool = False  # cpu is the job's own exact CPU (its log's job_cpu_s line)

    @property
    def kind(self) -> tuple[str, str, str]:
        w = self.wildcards
        return (self.rule, w.get("experiment", w.get("figure", w.get("table", w.get("study", "")))),
                w.get("solver", ""))


def read_jobs(root: Path) -> list[JobCost]:
    jobs = []
    for tsv in sorted((root / "results" / "benchmarks").rglob("*.tsv")):
        rel = tsv.relative_to(root / "results" / "benchmarks").with_suffix("")
        rule, *parts = rel.parts
        if rule not in WILDCARDS:
            continue
        names = WILDCARDS[rule]
        values = [p.removeprefix("n") if k == "n" else p.removeprefix("seed") if k == "seed"
                  else p.removeprefix("chunk") if k == "chunk" else p for k, p in zip(names, parts)]
        with tsv.open() as f:
            rows = list(csv.DictReader(f, delimiter="\t"))
        if not rows:
            continue
        row = rows[-1]
        try:
            wall, cpu = float(row["s"]), float(row["cpu_time"])
        except (KeyError, ValueError):
            continue  # "NA": the job ended before the first sample
        job = JobCost(rule, dict(zip(names, values)), wall, cpu, sampled=cpu)
        logged = read_cpu_line(root / "logs" / rel.with_suffix(".log"))
        if logged is not None:
            warm = bool(logged["warm"])
            job.cpu, job.exact, job.warm = logged["job_cpu_s"] + (cpu if warm else 0.0), not warm, warm
        if rule in ("solve", "fit_surrogate"):
            job.work = solver_wall_time(root, rule, job.wildcards)
        jobs.append(job)
    return jobs


def solver_wall_time(root: Path, rule: str, w: dict[str, str]) -> float | None:
    """The computing time a run or a shared fit records. A run that read a shared fit records the
    fit's time in its ``wall_time_s`` too (each run is charged it): here its own time counts."""
    import h5py

    if rule == "fit_surrogate":
        path = root / "results" / "surrogates" / w["experiment"] / w["solver"] / f"seed{w['seed']}.h5"
    else:
        path = root / "results" / "runs" / w["experiment"] / w["solver"] / f"n{w['n']}" / f"seed{w['seed']}.h5"
    if not path.exists():
        return None
    with h5py.File(path, "r") as f:
        provenance = f.attrs.get("provenance")
    if provenance is None:
        return None
    record = json.loads(provenance)
    shared = record.get("shared")
    return float(shared["run_wall_time_s"] if shared else record["wall_time_s"])


def split(jobs: list[JobCost]) -> float:
    """Fill in each job's start-up and work (module docstring); returns the floor F."""
    data = [j for j in jobs if j.rule == "generate_data"]
    smallest: dict[str, int] = {}
    for j in data:
        e, n = j.wildcards["experiment"], int(j.wildcards["n"])
        smallest[e] = min(smallest.get(e, n), n)
    floor_jobs = [j.cpu for j in data if int(j.wildcards["n"]) == smallest[j.wildcards["experiment"]]]
    floor = statistics.median(floor_jobs) if floor_jobs else 0.0
    for j in jobs:
        if j.rule in ("solve", "fit_surrogate") and j.work is not None:
            j.work = j.cpu * min(1.0, j.work / j.wall) if j.wall > 0 else 0.0
            j.startup = j.cpu - j.work
        else:
            j.startup = min(j.cpu, floor)
            j.work = j.cpu - j.startup
    return floor


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("root", type=Path, help="folder holding results/ (benchmarks and runs)")
    ap.add_argument("--top", type=int, default=10)
    ap.add_argument("--csv", type=Path, help="also write the per-kind table here")
    args = ap.parse_args(argv)
    jobs = read_jobs(args.root)
    if not jobs:
        print(f"profile: no benchmark files under {args.root}/results/benchmarks", file=sys.stderr)
        return 1
    floor = split(jobs)
    kinds: dict[tuple, list[JobCost]] = defaultdict(list)
    for j in jobs:
        kinds[j.kind].append(j)
    rows = []
    for kind, js in kinds.items():
        cpu, startup = sum(j.cpu for j in js), sum(j.startup for j in js)
        rows.append((*kind, len(js), sum(j.wall for j in js), cpu, startup, cpu - startup))
    rows.sort(key=lambda r: (r[0], r[1], r[2]))
    head = ("rule", "experiment/figure", "solver", "jobs", "wall s", "CPU s", "start-up s", "work s", "start-up %")

    def fmt(r):
        return (*r[:4], f"{r[4]:.1f}", f"{r[5]:.1f}", f"{r[6]:.1f}", f"{r[7]:.1f}",
                f"{100 * r[6] / r[5]:.0f}" if r[5] else "-")

    by_rule: dict[str, list] = defaultdict(lambda: [0, 0.0, 0.0, 0.0])
    for r in rows:
        acc = by_rule[r[0]]
        acc[0] += r[3]
        acc[1] += r[4]
        acc[2] += r[5]
        acc[3] += r[6]
    rule_rows = [(rule, "", "", a[0], a[1], a[2], a[3], a[2] - a[3]) for rule, a in sorted(by_rule.items())]
    n, wall = len(jobs), sum(j.wall for j in jobs)
    cpu, startup = sum(j.cpu for j in jobs), sum(j.startup for j in jobs)
    total = ("all", "", "", n, wall, cpu, startup, cpu - startup)

    def show(title, table):
        cells = [head] + [fmt(r) for r in table]
        widths = [max(len(str(c[i])) for c in cells) for i in range(len(head))]
        print(f"\n{title}")
        for c in cells:
            print("  ".join(str(v).ljust(w) if i < 3 else str(v).rjust(w) for i, (v, w) in enumerate(zip(c, widths))))

    print(f"{args.root}: {n} jobs with benchmark files; start-up floor F = {floor:.2f} s CPU "
          "(median data job at its smallest n)")
    show("per job kind", rows)
    show("per rule", rule_rows + [total])
    show(f"the {args.top} most expensive job kinds (CPU)", sorted(rows, key=lambda r: -r[5])[: args.top])
    warm = [j for j in jobs if j.warm]
    if warm:
        print(f"\n{len(warm)} of {n} jobs ran forked from the warm interpreter: their CPU is the forked "
              f"process's exact CPU ({sum(j.cpu - j.sampled for j in warm):.0f} s) plus their Snakemake job "
              f"process's sampled CPU ({sum(j.sampled for j in warm):.0f} s)")
    exact = [j for j in jobs if j.exact]
    if exact:
        got, sampled = sum(j.cpu for j in exact), sum(j.sampled for j in exact)
        print(f"\nexact CPU from the job logs for {len(exact)} of {n} jobs: {got:.0f} s; the benchmark "
              f"files' sampled cpu_time of the same jobs: {sampled:.0f} s (short by {got - sampled:.0f} s, "
              f"{100 * (got - sampled) / got:.1f} %)")
    else:
        print("\nno job log holds its exact CPU (job_cpu_s): CPU is the benchmark files' sampled lower bound")
    if args.csv:
        with args.csv.open("w", newline="") as f:
            csv.writer(f).writerows([head] + [fmt(r) for r in rows + rule_rows + [total]])
    print(f"jobs={n} cpu_s={cpu:.0f} startup_s={startup:.0f} startup_share={startup / cpu:.3f} wall_s={wall:.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
