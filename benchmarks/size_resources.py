"""Cluster resource table from recorded Snakemake benchmarks: ``workflow/resources.yaml``.

Every ``solve`` and ``generate_data`` job writes a Snakemake benchmark file
(``results/benchmarks/{rule}/...tsv``: wall seconds ``s``, peak RSS ``max_rss`` in MB). This script
reads them from one or more finished results folders, takes the worst case over seeds for each
(rule, experiment, solver, n), adds the iteration budget of the measured runs (``steps`` and
``starts`` from the run artifact's ``config`` attribute) and writes the table the workflow sizes
SLURM requests from (``invnet.resources.Requests``, read by the job plan):

    python benchmarks/size_resources.py /path/to/results [more/results ...] [-o workflow/resources.yaml] [--update]

Later folders win over earlier ones for the same key. Rerun it after a larger run to refresh the
table (``--update`` keeps the rows the new folders did not measure); the rules read it at DAG
time, so a refreshed table changes only what is requested.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import sys
from pathlib import Path

import h5py
import yaml

from invnet.jobs import read_cpu_line

BUDGET_KEYS = ("steps", "starts")  # settings that scale a solver's work (maxiter only caps it)


def _row(tsv: Path, bench: Path) -> dict[str, float]:
    """A job's wall seconds, peak RSS (MB) and CPU seconds. A job forked from the warm interpreter
    (``invnet.warm``; its log ends ``job_cpu_s=... max_rss_mb=... warm=1``) did its work in the
    forked process, which the benchmark does not see: its RSS and CPU come from the log."""
    with tsv.open() as f:
        row = next(csv.DictReader(f, delimiter="\t"))
    out = {"s": float(row["s"]), "max_rss": float(row["max_rss"]), "cpu_time": float(row["cpu_time"])}
    logged = read_cpu_line(bench.parent.parent / "logs" / tsv.relative_to(bench).with_suffix(".log"))
    if logged is not None and logged["warm"]:
        out["max_rss"] = max(out["max_rss"], logged["max_rss_mb"])
        out["cpu_time"] += logged["job_cpu_s"]
    return out


def _budget(run: Path) -> dict[str, int]:
    if not run.is_file():
        return {}
    with h5py.File(run, "r") as f:
        settings = json.loads(f.attrs["config"])["solver"]
    return {k: int(settings[k]) for k in BUDGET_KEYS if k in settings}


def collect(results: Path, table: dict) -> int:
    """Fold the benchmarks under ``results`` into ``table``; returns how many files were read."""
    count = 0
    bench = results / "benchmarks"
    for tsv in sorted(bench.glob("solve/*/*/n*/seed*.tsv")):
        experiment, solver, n = tsv.parts[-4], tsv.parts[-3], int(tsv.parts[-2][1:])
        row = _row(tsv, bench)
        run = results / "runs" / experiment / solver / f"n{n}" / tsv.with_suffix(".h5").name
        _fold(table.setdefault("solve", {}).setdefault(experiment, {}).setdefault(solver, {}), n, row, _budget(run))
        count += 1
    for tsv in sorted(bench.glob("generate_data/*/n*/seed*.tsv")):
        experiment, n = tsv.parts[-3], int(tsv.parts[-2][1:])
        _fold(table.setdefault("generate_data", {}).setdefault(experiment, {}), n, _row(tsv, bench), {})
        count += 1
    return count


def _fold(entries: dict, n: int, row: dict, budget: dict) -> None:
    old = entries.get(n)
    if old is None or any(old.get(k) != budget.get(k) for k in BUDGET_KEYS):  # a new budget replaces
        entries[n] = {"s": 0.0, "max_rss_mb": 0.0, "cpu_s": 0.0, "runs": 0, **budget}  # older rows
    e = entries[n]
    e["s"] = max(e["s"], math.ceil(row["s"] * 10) / 10)
    e["max_rss_mb"] = max(e["max_rss_mb"], math.ceil(row["max_rss"]))
    e["cpu_s"] = max(e["cpu_s"], math.ceil(row["cpu_time"] * 10) / 10)
    e["runs"] += 1


def _overlay(table: dict, fresh: dict) -> None:
    """Put ``fresh``'s rows into ``table``: a measured (rule, experiment[, solver], n) row replaces
    the old one whole; rows the new runs did not measure stay."""
    for key, value in fresh.items():
        if isinstance(value, dict) and "s" not in value and isinstance(table.get(key), dict):
            _overlay(table[key], value)
        else:
            table[key] = value


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("results", nargs="+", type=Path, help="finished results/ folders")
    ap.add_argument("-o", "--out", type=Path, default=Path("workflow/resources.yaml"))
    ap.add_argument("--note", default="", help="one line on what was run where (kept in the header)")
    ap.add_argument("--update", action="store_true",
                    help="start from the table in --out (its rows, notes and sources), so the run of one "
                    "experiment refreshes only that experiment's rows")
    args = ap.parse_args(argv)
    table: dict = {}
    sources, notes = [], []
    if args.update and args.out.is_file():
        text = args.out.read_text()
        table = yaml.safe_load(text) or {}
        comments = [line[2:] for line in text.splitlines() if line.startswith("# ")]
        at = comments.index("Sources:") if "Sources:" in comments else len(comments)
        notes = comments[4:at]  # after the fixed four-line preamble
        sources = [c.strip() for c in comments[at + 1:]]
    notes += [args.note] if args.note else []
    fresh: dict = {}
    for results in args.results:
        count = collect(results, fresh)
        if not count:
            print(f"size_resources: no benchmark files under {results}/benchmarks", file=sys.stderr)
            return 1
        sources.append(f"{results}: {count} benchmark files")
    _overlay(table, fresh)
    header = (
        "# Measured job resources, written by benchmarks/size_resources.py (do not edit by hand).\n"
        "# Per rule, experiment[, solver], n: worst case over seeds of the Snakemake benchmark\n"
        "# files: wall seconds (s), peak RSS (max_rss_mb), CPU seconds (cpu_s), how many runs, and\n"
        "# the iteration budget of those runs (steps, starts), used to scale to other settings.\n"
        + "".join(f"# {note}\n" for note in notes)
        + "# Sources:\n" + "".join(f"#   {s}\n" for s in sources)
    )
    args.out.write_text(header + yaml.safe_dump(table, sort_keys=True, default_flow_style=None, width=100))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
