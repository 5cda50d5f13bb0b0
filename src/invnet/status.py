"""What is done, what failed, what is stale and how long the rest takes, for one config: every
data artifact and every run (experiment × solver × n × seed) of its job plan, each

- ``done`` (with the number of problems it failed on: NaN / inf loss or optimiser failure),
- ``missing``,
- ``stale``: made by other code (its recorded code fingerprint is not the plan's), with other
  settings (its recorded ``config`` / problem parameters differ from the job's params), from
  another problem set (the run's recorded ``data_sha256`` is not its data file's), or downstream
  of a data artifact or a start run that will be redone,
- ``damaged``: :func:`invnet.artifacts.check_artifact` refuses it (unreadable, incomplete, other
  schema, wrong shapes, not the artifact its path names);

with totals and an estimate of the remaining time on this machine from the recorded job benchmarks
(``results/benchmarks/...``, written by the rules' ``benchmark:``) or, where a job has none, the
measured resources of ``workflow/resources.yaml``.

    python -m invnet.status [--configfile FILE] [--format text|md|json] [--cores N] [--root DIR]

The fingerprint and config comparison is what Snakemake's own params trigger compares (the
fingerprint and the config slice are the job's params), but from the artifacts themselves, so it
also holds where Snakemake has no metadata (a fresh clone, a restored bundle).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from . import paths
from .errors import ArtifactError

STATES = ("done", "missing", "stale", "damaged")
DEFAULT_CONFIG = "config/config.yaml"
RESOURCES = "workflow/resources.yaml"


@dataclass
class Row:
    """The state of one data artifact (``solver`` empty) or run."""

    kind: str
    experiment: str
    solver: str
    n: int
    seed: int
    state: str
    detail: str = ""
    failed: int = 0  # problems the run failed on (done runs)
    problems: int = 0
    path: str = ""

    @property
    def label(self) -> str:
        if self.state == "done" and self.failed:
            return f"done, {self.failed} of {self.problems} failed"
        return self.state


@dataclass
class Estimate:
    """Remaining work: job seconds by source and the jobs nothing was measured for."""

    jobs: int = 0
    seconds: float = 0.0
    from_benchmarks: int = 0
    from_resources: int = 0
    unknown: dict[str, int] = field(default_factory=dict)  # rule -> jobs without an estimate
    cores: int = 1

    @property
    def wall_seconds(self) -> float:
        """Lower bound on this machine: the job time spread over the cores."""
        return self.seconds / max(1, self.cores)


@dataclass
class Status:
    rows: list[Row]
    estimate: Estimate

    def totals(self) -> dict[str, int]:
        out = {s: 0 for s in STATES}
        for row in self.rows:
            out[row.state] += 1
        out["done_with_failed_problems"] = sum(1 for r in self.rows if r.state == "done" and r.failed)
        return out

    def to_dict(self) -> dict[str, Any]:
        est = asdict(self.estimate) | {"wall_seconds": self.estimate.wall_seconds}
        return {"rows": [asdict(r) | {"label": r.label} for r in self.rows], "totals": self.totals(), "estimate": est}


def _normal(value: Any) -> Any:
    """``value`` as it reads back from an artifact's JSON attribute (tuples as lists, ...)."""
    return json.loads(json.dumps(value, sort_keys=True, default=str))


def _problem_difference(recorded: Any, expected: dict[str, Any]) -> str | None:
    """The first problem parameter whose recorded value differs from the job's (the recorded
    description adds the family's name and parameter names)."""
    recorded = recorded if isinstance(recorded, dict) else {}
    for key, value in _normal(expected).items():
        if recorded.get(key) != value:
            return f"problem.{key}: {recorded.get(key)!r} -> {value!r}"
    return None


def _config_difference(recorded: Any, expected: dict[str, Any], prefix: str = "config") -> str | None:
    """The first key (path) whose recorded value differs from the expected one."""
    if isinstance(recorded, dict) and isinstance(expected, dict):
        for key in sorted(set(recorded) | set(expected)):
            found = _config_difference(recorded.get(key), expected.get(key), f"{prefix}.{key}")
            if found:
                return found
        return None
    return None if recorded == expected else f"{prefix}: {recorded!r} -> {expected!r}"


def _fingerprint_difference(attrs: dict[str, Any], expected: str) -> str | None:
    prov = attrs.get("provenance") if isinstance(attrs.get("provenance"), dict) else {}
    recorded = prov.get("code_fingerprint")
    return None if recorded == expected else f"code changed (fingerprint {recorded} -> {expected})"


def _data_row(job, root: Path) -> Row:
    from .artifacts import check_artifact

    wc = job.wildcards
    path = job.outputs["data"]
    row = Row("data", wc["experiment"], "", int(wc["n"]), int(wc["seed"]), "done", path=path)
    full = root / path
    if not full.exists():
        row.state = "missing"
        return row
    try:
        attrs = check_artifact(full, "data", {"experiment": wc["experiment"], "n": int(wc["n"]), "seed": int(wc["seed"])})
    except ArtifactError as err:
        row.state, row.detail = "damaged", _short(err, root)
        return row
    row.problems = int(attrs["n"])
    reason = (_fingerprint_difference(attrs, job.params["code"])
              or _problem_difference(attrs.get("problem"), job.params["problem"])
              or (None if int(attrs["n_test"]) == int(job.params["n_test"])
                  else f"n_test: {attrs['n_test']} -> {job.params['n_test']}"))
    if reason:
        row.state, row.detail = "stale", reason
    return row


def _run_row(job, root: Path, data: Row, start: Row | None, data_hash: dict[str, str]) -> Row:
    import h5py
    import numpy as np

    from .artifacts import check_artifact
    from .jobs import run_config

    wc = job.wildcards
    path = job.outputs["run"]
    row = Row("run", wc["experiment"], wc["solver"], int(wc["n"]), int(wc["seed"]), "done", path=path)
    full = root / path
    if not full.exists():
        row.state = "missing"
        return row
    expect = {"experiment": wc["experiment"], "solver": wc["solver"], "n": int(wc["n"]), "seed": int(wc["seed"])}
    try:
        attrs = check_artifact(full, "run", expect)
        with h5py.File(full, "r") as f:
            status = np.asarray(f["problem_status"][()])
    except ArtifactError as err:
        row.state, row.detail = "damaged", _short(err, root)
        return row
    except (OSError, KeyError, RuntimeError, ValueError) as err:
        row.state, row.detail = "damaged", f"{path}: dataset problem_status unreadable ({err})"
        return row
    row.problems, row.failed = int(status.size), int((status != 0).sum())
    recorded = attrs.get("config") if isinstance(attrs.get("config"), dict) else {}
    reason = _fingerprint_difference(attrs, job.params["code"]) or _problem_difference(
        recorded.get("problem"), job.params["problem"])
    if reason is None:
        expected = _normal(run_config(job.params, recorded.get("problem") or {}))
        reason = _config_difference(recorded, expected)
    if reason is None:
        if data.state != "done":
            reason = f"its problem set is {data.state} (redone first)"
        else:
            prov = attrs.get("provenance") if isinstance(attrs.get("provenance"), dict) else {}
            if data.path not in data_hash:
                from .artifacts import file_sha256

                data_hash[data.path] = file_sha256(root / data.path)
            if prov.get("data_sha256") != data_hash[data.path]:
                reason = "made from another problem set (data_sha256 differs from its data file's)"
    if reason is None and start is not None and start.state != "done":
        reason = f"starts from {start.solver}, which is {start.state} (redone first)"
    if reason:
        row.state, row.detail = "stale", reason
    return row


def _short(err: Exception, root: Path) -> str:
    text = str(err)
    return text.replace(f"{root}/", "") if str(root) not in ("", ".") else text


def status_rows(plan, root: str | os.PathLike = ".") -> list[Row]:
    """Every data artifact and run of ``plan`` with its state (files under ``root``)."""
    root = Path(root)
    rows: list[Row] = []
    data_rows: dict[str, Row] = {}
    run_rows: dict[tuple[str, str, str, str], Row] = {}
    data_hash: dict[str, str] = {}
    for job in plan.rule_jobs("generate_data"):
        row = _data_row(job, root)
        data_rows[row.path] = row
    for exp in plan.experiments.values():
        for n in exp.sizes:
            for seed in exp.seeds:
                rows.append(data_rows[paths.data_file(exp.name, n, seed)])
                for solver in _start_order(exp):
                    job = plan.job("solve", {"experiment": exp.name, "solver": solver, "n": n, "seed": seed})
                    start_from = exp.resolved[solver].start_from
                    start = run_rows.get((exp.name, start_from, str(n), str(seed))) if start_from else None
                    row = _run_row(job, root, data_rows[paths.data_file(exp.name, n, seed)], start, data_hash)
                    run_rows[(exp.name, solver, str(n), str(seed))] = row
                rows += [run_rows[(exp.name, s, str(n), str(seed))] for s in exp.solvers]
    return rows


def _start_order(exp) -> list[str]:
    """The experiment's solvers with every start run before the refinements that start from it."""
    order: list[str] = []

    def visit(solver: str) -> None:
        if solver in order:
            return
        start = exp.resolved[solver].start_from
        if start is not None:
            visit(start)
        order.append(solver)

    for solver in exp.solvers:
        visit(solver)
    return order


# ----------------------------------------------------------------------------- time estimate


def read_benchmark(path: str | os.PathLike) -> float | None:
    """Wall seconds (column ``s``, first row) of a Snakemake benchmark file, or None."""
    try:
        lines = Path(path).read_text().splitlines()
        header, values = lines[0].split("\t"), lines[1].split("\t")
        return float(values[header.index("s")])
    except (OSError, IndexError, ValueError):
        return None


def estimate(plan, rows: list[Row], root: str | os.PathLike = ".", cores: int | None = None) -> Estimate:
    """Remaining job time: every data or solve job whose artifact is not done, and every job
    downstream of them (aggregates, figures, tables), each timed by its own recorded benchmark,
    else the median of the recorded benchmarks of its other seeds, else ``workflow/resources.yaml``
    (the plan's measurements); plot and table jobs record no benchmark and are counted apart."""
    import statistics

    root = Path(root)
    todo = [plan.job("generate_data" if r.kind == "data" else "solve",
                     {"experiment": r.experiment, "solver": r.solver, "n": r.n, "seed": r.seed})
            for r in rows if r.state != "done"]
    jobs = plan.downstream(todo) if todo else []
    # a missing intermediate (a surrogate shared across n) is made again only for a job that reads it
    needed = [plan.producers[p] for j in jobs for p in j.input_files
              if p in plan.producers and plan.producers[p].rule not in ("generate_data", "solve")
              and not (root / p).exists()]
    targets = set(plan.all_targets())
    missing_outputs = [j for j in plan.jobs if j.rule not in ("generate_data", "solve")
                       and any(p in targets and not (root / p).exists() for p in j.output_files)]
    jobs = list({j.key: j for j in jobs + needed + missing_outputs}.values())
    out = Estimate(jobs=len(jobs), cores=cores or os.cpu_count() or 1)
    for job in jobs:
        seconds = read_benchmark(root / job.benchmark)
        if seconds is None and "seed" in job.wildcards:
            others = [read_benchmark(root / paths.benchmark_file(job.rule, {**job.wildcards, "seed": s}))
                      for s in plan.experiments[job.wildcards["experiment"]].seeds]
            others = [s for s in others if s is not None]
            seconds = statistics.median(others) if others else None
        if seconds is not None:
            out.seconds += seconds
            out.from_benchmarks += 1
            continue
        measured = _measured(plan, job)
        if measured is not None:
            out.seconds += measured
            out.from_resources += 1
        else:
            out.unknown[job.rule] = out.unknown.get(job.rule, 0) + 1
    return out


def _measured(plan, job) -> float | None:
    wc = job.wildcards
    if job.rule == "fit_surrogate":  # at most what the smallest n's solve job took when it fitted its own
        job = plan.job("solve", {**wc, "n": plan.experiments[wc["experiment"]].sizes[0]})
        wc = job.wildcards
    if job.rule not in ("generate_data", "solve"):
        return None
    exp = plan.experiments[wc["experiment"]]
    solver = wc.get("solver")
    settings = exp.resolved[solver].settings if solver else None
    found = plan.requests.estimate(job.rule, exp.name, exp.family, int(wc["n"]), solver, settings)
    return found[0] if found else None


def compute(plan, root: str | os.PathLike = ".", cores: int | None = None) -> Status:
    rows = status_rows(plan, root)
    return Status(rows, estimate(plan, rows, root, cores))


# ----------------------------------------------------------------------------- output


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


def summary_lines(status: Status) -> list[str]:
    """Totals and the remaining-time estimate, one line each."""
    t = status.totals()
    runs = [r for r in status.rows if r.kind == "run"]
    data = [r for r in status.rows if r.kind == "data"]

    def count(rows: list[Row]) -> str:
        failed = sum(1 for r in rows if r.state == "done" and r.failed)
        parts = [f"{sum(r.state == s for r in rows)} {s}" + (f" ({failed} of them with failed problems)"
                                                            if s == "done" and failed else "")
                 for s in STATES if any(r.state == s for r in rows)]
        return ", ".join(parts) or "none"

    e = status.estimate
    lines = [f"runs: {len(runs)}: {count(runs)}", f"problem sets: {len(data)}: {count(data)}"]
    if e.jobs == 0:
        lines.append("nothing left to run")
    else:
        unknown = sum(e.unknown.values())
        sources = f"{e.from_benchmarks} timed by their recorded benchmarks, {e.from_resources} by workflow/resources.yaml"
        extra = (f"; {unknown} more without a recorded time (" + ", ".join(f"{v} {k}" for k, v in e.unknown.items())
                 + ", seconds each)") if unknown else ""
        lines.append(f"remaining: {e.jobs} jobs, {_duration(e.seconds)} of job time ({sources}{extra}); "
                     f"about {_duration(e.wall_seconds)} on {e.cores} cores")
    assert sum(t[s] for s in STATES) == len(status.rows)
    return lines


def table_rows(status: Status) -> list[list[str]]:
    return [[r.kind, r.experiment, r.solver or "–", str(r.n), str(r.seed), r.label, r.detail] for r in status.rows]


HEADERS = ["kind", "experiment", "solver", "n", "seed", "state", "detail"]


def render(status: Status, fmt: str = "text") -> str:
    """The status as a text table, a Markdown table or JSON."""
    if fmt == "json":
        return json.dumps(status.to_dict(), indent=2)
    from tabulate import tabulate

    table = tabulate(table_rows(status), headers=HEADERS, tablefmt="pipe" if fmt == "md" else "simple",
                     disable_numparse=True)
    lines = summary_lines(status)
    if fmt == "md":
        return table + "\n\n" + "\n".join(f"- {line}" for line in lines) + "\n"
    return table + "\n\n" + "\n".join(lines) + "\n"


def load_plan(configfile: str | None, root: str | os.PathLike = "."):
    """The plan of ``configfile`` (default config/config.yaml) as the workflow builds it (a
    --configfile is the whole config), with the measured resources of the workflow."""
    from .config import load_yaml, resolve_config
    from .plan import Plan

    raw = load_yaml(configfile or Path(root) / DEFAULT_CONFIG)
    resources = Path(root) / RESOURCES
    return Plan.from_files(resolve_config(raw, check_cuda=False), resources if resources.exists() else None)


def main(argv: list[str] | None = None) -> int:
    from .config import InvalidConfig

    parser = argparse.ArgumentParser(prog="invnet status", description=__doc__.split("\n\n")[0])
    parser.add_argument("--configfile", help=f"the config (default: {DEFAULT_CONFIG}); the whole config, as for snakemake")
    parser.add_argument("--format", choices=("text", "md", "json"), default="text")
    parser.add_argument("--cores", type=int, default=None, help="cores for the time estimate (default: this machine's)")
    parser.add_argument("--root", default=".", help="the workflow's folder (results/ under it)")
    args = parser.parse_args(argv)
    try:
        plan = load_plan(args.configfile, args.root)
    except InvalidConfig as err:
        print(err, file=sys.stderr)
        return 2
    print(render(compute(plan, args.root, args.cores), args.format), end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
