"""The job plan: from a resolved config, every job of the workflow with its named inputs and
outputs, the params that define it (the only thing a job reads besides its inputs; a change
reruns it), its code fingerprint (part of the params) and its resources.

The Snakemake rules are thin: each rule's input, params and resources are one-line calls into a
:class:`Plan` (``workflow/rules/*.smk``), every rule runs ``workflow/scripts/job.py`` (the job
command of :mod:`invnet.job_command`, or a ``script:`` for the rules whose inputs grow with the config),
and the tests ask the plan in-process what a config produces, what a code edit reschedules and
what a job requests. Jobs, by rule:

- ``generate_data``: one problem set per (experiment, n, seed);
- ``fit_surrogate``: the per-seed part of a solver that shares one across n
  (``Solver.shares_across_n``: the neural adjoint's surrogate of a family without identifiers γ),
  once per (experiment, solver, seed), for every n's ``solve`` job of that seed to read;
- ``solve``: one solver on one problem set (a refinement also reads the run it starts from, a
  solver sharing its per-seed part across n that part);
- ``solve_test``: one per-problem solver of ``test_solvers`` on a seed's held-out test set
  (:mod:`invnet.test_runs`);
- ``aggregate``: every run of one experiment into the frames of ``analysis.AGGREGATE_TABLES``;
- ``figure_panels``: a figure's panel data from an experiment's representative problem set
  (largest n, first seed) and every run on it;
- ``plot_experiment_figure`` / ``plot_combined_figure``: a figure of one experiment, or over
  every experiment it draws; ``make_table``: one table over every experiment;
- ``study_chunk`` / ``study_table``: one part of a study over one seed chunk, and its table;
- ``sweep``: every robustness sweep of one experiment (``invnet.sweeps``) into the frames of
  ``sweeps.SWEEP_TABLES``, from the runs of all its points.
- ``report_page``: the HTML report's front page and captions (:mod:`invnet.report`).

The ``bundle`` job (:meth:`Plan.bundle_job`, ``snakemake bundle``) is no part of the plan's jobs:
it is built only when asked for.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import Any

from . import paths
from .analysis import AGGREGATE_TABLES
from .artifacts import check_artifact
from .errors import ArtifactError
from .fingerprint import code_fingerprint
from .figures import FigureSpec, figures
from .problems import family_class, make_family
from .resources import MAX_RUNTIME_MIN, SMALL_JOB_S, Requests, on_attempt
from .solver_info import SolverSet
from .solvers import ResolvedSolver, resolve_solvers
from .studies import StudySpec, studies
from .sweeps import SWEEP_TABLES, points as sweep_points, roles as sweep_roles, sweep_runs, sweeps_of
from .tables import TableSpec, tables

# Rules whose jobs run where Snakemake runs (`localrule: True`): they only read aggregates.
LOCAL_RULES = ("plot_experiment_figure", "plot_combined_figure", "make_table", "study_table", "report_page")
# Rules whose jobs compute with a solver: config `threads` torch threads, a GPU where the config
# computes on CUDA.
SOLVER_RULES = ("fit_surrogate", "solve", "solve_test")
# The artifact kind (invnet.artifacts) of each rule's output that is checked before any job runs.
CHECKED_KINDS = {"generate_data": "data", "fit_surrogate": "surrogate", "solve": "run", "solve_test": "test_run"}
SMALL_JOB = {"mem_mb": 2000, "runtime": 15}  # aggregate, panels, studies: measured in seconds


@dataclass(frozen=True)
class Job:
    """One job: the rule that runs it, its wildcards, named inputs and outputs, params, threads
    and the resources it asks a cluster for on its first attempt."""

    rule: str
    wildcards: dict[str, str]
    inputs: dict[str, list[str]]
    outputs: dict[str, str]
    params: dict[str, Any]
    threads: int = 1
    resources: dict[str, int] = field(default_factory=dict)

    @property
    def key(self) -> tuple[str, tuple[str, ...]]:
        return _key(self.rule, self.wildcards)

    @property
    def log(self) -> str:
        return paths.log_file(self.rule, self.wildcards)

    @property
    def benchmark(self) -> str:
        return paths.benchmark_file(self.rule, self.wildcards)

    @property
    def input_files(self) -> list[str]:
        return [p for files in self.inputs.values() for p in files]

    @property
    def output_files(self) -> list[str]:
        return list(self.outputs.values())

    def under(self, root: str | os.PathLike) -> Job:
        """The same job with every input and output path under ``root`` (to run it in-process
        outside the working directory)."""
        base = Path(root)
        return replace(
            self,
            inputs={k: [str(base / p) for p in v] for k, v in self.inputs.items()},
            outputs={k: str(base / p) for k, p in self.outputs.items()},
        )


def _key(rule: str, wildcards: Mapping[str, Any] | Any) -> tuple[str, tuple[str, ...]]:
    names = paths.RULE_WILDCARDS[rule]
    if isinstance(wildcards, Mapping):
        values = tuple(str(wildcards[w]) for w in names)
    else:  # a Snakemake Wildcards object
        values = tuple(str(getattr(wildcards, w)) for w in names)
    return rule, values


@dataclass(frozen=True)
class Experiment:
    """One configured experiment as the plan sees it."""

    name: str
    block: dict[str, Any]
    family: str  # the family's registered name (what figures apply to)
    family_cost: float
    resolved: dict[str, ResolvedSolver]  # the configured solvers, resolved
    # the solvers whose runs of one seed share a per-seed part across n (fit once per seed)
    shared: tuple[str, ...] = ()

    @cached_property
    def solvers(self) -> SolverSet:
        return SolverSet(r.info for r in self.resolved.values())

    @property
    def sizes(self) -> list[int]:
        return sorted(self.block["n"])

    @property
    def seeds(self) -> list[int]:
        return sorted(self.block["seeds"])

    @property
    def label(self) -> str:
        return self.block["label"]

    @property
    def test_solvers(self) -> list[str]:
        """The per-problem solvers that also solve each seed's test set (in config order)."""
        return list(self.block.get("test_solvers", []))


class Plan:
    """Every job of a resolved config (see the module docstring)."""

    def __init__(self, config: dict[str, Any], measured: Mapping[str, Any] | None = None):
        self.config = config
        self.requests = Requests(measured or {})
        self.experiments: dict[str, Experiment] = {}
        for name, block in config["experiments"].items():
            family = make_family(block["family"], block["problem"], name)
            resolved = resolve_solvers(name, block["solvers"], family)
            shared = tuple(s for s, r in resolved.items() if r.build().shares_across_n(family))
            self.experiments[name] = Experiment(name, block, family.name, float(type(family).cost), resolved, shared)
        self.figures: dict[str, FigureSpec] = figures()
        self.tables: dict[str, TableSpec] = tables()
        self.studies: dict[str, StudySpec] = {s: studies()[s] for s in config["studies"]}
        self._fingerprints: dict[tuple[Any, ...], str] = {}
        self._jobs: dict[tuple[str, tuple[str, ...]], Job] = {}
        for job in self._build():
            self._jobs[job.key] = job

    @classmethod
    def from_files(cls, config: dict[str, Any], resources: str | os.PathLike | None = None) -> Plan:
        """The plan of a resolved config with the measured resources of ``resources`` (YAML)."""
        from .config import load_yaml

        measured = load_yaml(resources) if resources is not None and Path(resources).exists() else {}
        return cls(config, measured)

    # ------------------------------------------------------------------ queries
    @property
    def jobs(self) -> list[Job]:
        return list(self._jobs.values())

    def job(self, rule: str, wildcards: Mapping[str, Any] | Any) -> Job:
        """The job of ``rule`` with these wildcards; KeyError naming it if the config has none."""
        key = _key(rule, wildcards)
        if key not in self._jobs:
            raise KeyError(f"no {rule} job for {dict(zip(paths.RULE_WILDCARDS[rule], key[1]))} in this config")
        return self._jobs[key]

    def rule_jobs(self, rule: str) -> list[Job]:
        return [j for j in self._jobs.values() if j.rule == rule]

    def counts(self) -> dict[str, int]:
        """Jobs per rule (the named targets' aggregate rules not included)."""
        out: dict[str, int] = {}
        for job in self._jobs.values():
            out[job.rule] = out.get(job.rule, 0) + 1
        return out

    @cached_property
    def producers(self) -> dict[str, Job]:
        """The job that writes each output file."""
        return {path: job for job in self._jobs.values() for path in job.output_files}

    def downstream(self, jobs: Iterable[Job]) -> list[Job]:
        """``jobs`` and every job that reads, transitively, what they write (what Snakemake
        reruns after they rerun)."""
        consumers: dict[str, list[Job]] = {}
        for job in self._jobs.values():
            for path in job.input_files:
                consumers.setdefault(path, []).append(job)
        seen = {j.key: j for j in jobs}
        todo = list(seen.values())
        while todo:
            job = todo.pop()
            for path in job.output_files:
                for nxt in consumers.get(path, []):
                    if nxt.key not in seen:
                        seen[nxt.key] = nxt
                        todo.append(nxt)
        return list(seen.values())

    def ordered(self, jobs: Iterable[Job]) -> list[Job]:
        """``jobs`` in an order where every job comes after the jobs (among them) it reads from."""
        chosen = {j.key: j for j in jobs}
        done: set[tuple] = set()
        out: list[Job] = []

        def visit(job: Job) -> None:
            if job.key in done:
                return
            done.add(job.key)
            for path in job.input_files:
                producer = self.producers.get(path)
                if producer is not None and producer.key in chosen:
                    visit(producer)
            out.append(job)

        for job in chosen.values():
            visit(job)
        return out

    def run(self, jobs: Iterable[Job] | None = None, root: str | os.PathLike = ".") -> None:
        """Run ``jobs`` (default: all) in-process, in dependency order, with paths under ``root``
        (tests and tools; the workflow runs each job in a job of its own)."""
        from .jobs import run_job

        for job in self.ordered(self.jobs if jobs is None else jobs):
            job = job.under(root)
            run_job(job.rule, job.params, job.inputs, job.outputs)

    # ------------------------------------------------------------------ targets
    def artifacts_of(self, experiments: Iterable[str] = (), studies: Iterable[str] = ()) -> list[str]:
        """Every data, run and study-chunk artifact behind ``experiments`` and ``studies``.

        Named targets list them as inputs, so that a deleted artifact is rebuilt, and everything
        downstream of it redone, by the same command: Snakemake (>= 7) does not regenerate a
        missing intermediate file whose consumers are present and up to date.
        """
        files = []
        for e in experiments:
            exp = self.experiments[e]
            for n in exp.sizes:
                for seed in exp.seeds:
                    files.append(paths.data_file(e, n, seed))
                    files += [paths.run_file(e, s, n, seed) for s in exp.solvers]
        for s in studies:
            files += [j.outputs["chunk"] for j in self.rule_jobs("study_chunk") if j.wildcards["study"] == s]
        return files

    def test_artifacts_of(self, experiments: Iterable[str] = ()) -> list[str]:
        """Every test-run artifact behind ``experiments`` (kept apart from :meth:`artifacts_of`,
        whose run artifacts tables read as training runs)."""
        return [paths.test_run_file(e, s, seed) for e in experiments
                for seed in self.experiments[e].seeds for s in self.experiments[e].test_solvers]

    def figure_experiments(self, figure: str) -> list[str]:
        """The configured experiments a figure draws, in config order."""
        spec = self.figures[figure]
        if spec.standalone:
            return []
        matching = [e for e, exp in self.experiments.items() if spec.applies_to(exp.family)]
        if set(spec.reads) & set(SWEEP_TABLES):  # drawn from the sweeps of an experiment: where it has any
            matching = [e for e in matching if e in self.swept]
        if spec.per_experiment or spec.max_experiments is None:
            return matching
        return matching[: spec.max_experiments]

    def figure_targets(self, figure: str) -> list[str]:
        """Every output of one figure (none if it applies to no configured experiment, or, for a
        figure not drawn from experiments, if a study it reads is not configured)."""
        spec = self.figures[figure]
        if spec.standalone:
            return paths.figure_files(figure) if all(s in self.studies for s in spec.studies) else []
        experiments = self.figure_experiments(figure)
        if not experiments:
            return []
        if spec.per_experiment:
            return [p for e in experiments for p in paths.figure_files(figure, e)]
        return paths.figure_files(figure)

    def named_targets(self) -> dict[str, list[str]]:
        """One target per table and per figure (``snakemake table2``, ``snakemake fig3``): its
        files and the artifacts it is drawn from; tables and figures with nothing to draw for
        this config are left out."""
        out: dict[str, list[str]] = {}
        for name in self.tables:
            out[name] = paths.table_files(name) + self.artifacts_of(self.experiments) + self.test_artifacts_of(
                self.experiments)
        for name, spec in self.figures.items():
            files = self.figure_targets(name)
            if not files:
                continue
            studies_read = [s for s in spec.studies if s in self.studies]
            drawn = self.figure_experiments(name)
            if set(spec.reads) & set(SWEEP_TABLES):  # and the experiments of the sweeps' points
                drawn = list(dict.fromkeys(drawn + [r[0] for e in drawn for r in self.sweep_inputs(e)]))
            out[name] = files + self.artifacts_of(drawn, studies_read) + self.test_artifacts_of(drawn)
        return out

    def all_targets(self) -> list[str]:
        """Every final output (rule ``all``) and every artifact they are built from."""
        files = [paths.aggregate_file(e, t) for e in self.experiments for t in AGGREGATE_TABLES]
        files += [paths.aggregate_file(e, t) for e in self.swept for t in SWEEP_TABLES]
        files += [p for f in self.figures for p in self.figure_targets(f)]
        files += [p for t in self.tables for p in paths.table_files(t)]
        files += [paths.study_table_file(spec.table) for spec in self.studies.values()]
        files += list(paths.report_outputs().values())
        return files + self.artifacts_of(self.experiments, self.studies) + self.test_artifacts_of(self.experiments)

    @cached_property
    def swept(self) -> list[str]:
        """The experiments that are the base of a sweep (config order)."""
        return [e for e in self.experiments if sweeps_of(self.config, e)]

    def sweep_inputs(self, experiment: str) -> list[tuple[str, str, int, int]]:
        """(experiment, solver, n, seed) of every run the sweeps of ``experiment`` read."""
        blocks = self.config["experiments"]
        runs = [r for sweep in sweeps_of(self.config, experiment).values() for r in sweep_runs(sweep, blocks)]
        return list(dict.fromkeys(runs))

    # ------------------------------------------------------------------ artifact check
    def check_existing_artifacts(self, root: str | os.PathLike = ".") -> None:
        """Refuse, before any job runs, an existing data or run artifact (under ``root``) that is
        unreadable, incomplete, of another schema version, lacks a dataset or holds one of the
        wrong shape, or is not the artifact its path names: ArtifactError with one line naming
        the file and what is wrong (and how many more fail). Reads attributes and shapes only."""
        bad = []
        for job in [j for rule in CHECKED_KINDS for j in self.rule_jobs(rule)]:
            path = job.output_files[0]
            if not os.path.lexists(Path(root) / path):
                continue
            kind = CHECKED_KINDS[job.rule]
            expect = {k: (int(v) if k in ("n", "seed") else v) for k, v in job.wildcards.items()}
            try:
                check_artifact(Path(root) / path, kind, expect)
            except ArtifactError as err:
                bad.append(str(err).replace(f"{Path(root)}/", "") if str(root) != "." else str(err))
        if bad:
            more = f" ({len(bad) - 1} more artifacts fail these checks)" if len(bad) > 1 else ""
            raise ArtifactError(f"Refusing to run: {bad[0]}{more}")

    # ------------------------------------------------------------------ Snakemake adapters
    def input_function(self, rule: str) -> Callable[[Any], dict[str, list[str]]]:
        """For ``input: unpack(...)``: the named inputs of the job with these wildcards."""
        return lambda wildcards: self.job(rule, wildcards).inputs

    def params_function(self, rule: str) -> Callable[[Any], dict[str, Any]]:
        """For ``params: job=...``: the params of the job with these wildcards."""
        return lambda wildcards: self.job(rule, wildcards).params

    def command_function(self, rule: str) -> Callable[[Any], str]:
        """For ``params: command=...`` of a rule that runs the job command
        (:mod:`invnet.job_command`): the job with these wildcards as the command's description."""
        from .job_command import encode

        def description(wildcards: Any) -> str:
            job = self.job(rule, wildcards)
            return encode({"rule": job.rule, "params": job.params, "log": job.log, "inputs": job.inputs,
                           "outputs": job.outputs})

        return description

    def resource_functions(self, rule: str) -> dict[str, Any]:
        """For ``resources: **...``: each request as a function of (wildcards, attempt),
        doubled on every retry (runtime capped at a day)."""
        names = {name for j in self.rule_jobs(rule) for name in j.resources} or set(SMALL_JOB)
        out: dict[str, Any] = {}
        for name in sorted(names):
            if name in ("runtime", "mem_mb"):
                cap = MAX_RUNTIME_MIN if name == "runtime" else None
                out[name] = (lambda n, c: lambda wildcards, attempt: on_attempt(
                    self.job(rule, wildcards).resources[n], attempt, c))(name, cap)
            else:
                out[name] = (lambda n: lambda wildcards: self.job(rule, wildcards).resources[n])(name)
        return out

    def report_category(self, wildcards: Any) -> str:
        """For ``report(category=...)``: the label of the experiment a figure is drawn from, or
        "Across experiments" (figures over several experiments, or none; tables)."""
        from .report import ACROSS

        experiment = getattr(wildcards, "experiment", None)
        figure = getattr(wildcards, "figure", None)
        if experiment is None and figure is not None:
            drawn = self.figure_experiments(figure)
            experiment = drawn[0] if len(drawn) == 1 else None
        return self.experiments[experiment].label if experiment in self.experiments else ACROSS

    def report_labels(self, wildcards: Any) -> dict[str, str]:
        """For ``report(labels=...)``: the figure's or table's name."""
        figure = getattr(wildcards, "figure", None)
        return {"figure": figure} if figure is not None else {"table": str(getattr(wildcards, "table", ""))}

    def bundle_job(self) -> Job:
        """The ``bundle`` job: every data, run and study-chunk artifact into one archive with a
        manifest (:mod:`invnet.bundle`)."""
        artifacts = self.artifacts_of(self.experiments, self.studies) + self.test_artifacts_of(self.experiments)
        params = {"config": self.config, "code": self._code("invnet.bundle")}
        return Job("bundle", {}, {"artifacts": artifacts}, {"bundle": paths.BUNDLE}, params, 1, {})

    def threads(self, rule: str) -> int:
        return int(self.config["threads"]) if rule in SOLVER_RULES else 1

    def priority_function(self, rule: str) -> Callable[[Any], int]:
        """For ``priority: ...``: the job's :attr:`priorities` entry (Snakemake starts the ready
        job of highest priority first)."""
        return lambda wildcards: self.priorities[_key(rule, wildcards)]

    # ------------------------------------------------------------------ scheduling
    def expected_seconds(self, job: Job) -> float:
        """A job's expected wall seconds on one core (data and solve jobs: the measured
        benchmarks of ``workflow/resources.yaml``, scaled, else their cost class; others: a few
        seconds)."""
        if job.rule == "fit_surrogate":  # part of what the smallest n's solve job did before it was shared
            exp = self.experiments[job.wildcards["experiment"]]
            return self.expected_seconds(self.job("solve", {**job.wildcards, "n": exp.sizes[0]}))
        if job.rule not in ("generate_data", "solve"):
            return SMALL_JOB_S
        exp, solver = self.experiments[job.wildcards["experiment"]], job.wildcards.get("solver")
        settings = exp.resolved[solver].settings if solver is not None else None
        cost = exp.family_cost * (1.0 if solver is None else exp.resolved[solver].cost)
        return self.requests.expected_seconds(job.rule, exp.name, exp.family, int(job.wildcards["n"]), solver,
                                              settings, cost)

    @cached_property
    def priorities(self) -> dict[tuple[str, tuple[str, ...]], int]:
        """Each job's priority: the expected seconds of the longest chain of jobs it starts (itself
        and, transitively, the jobs that read what it writes), so that the longest jobs and the
        data sets they need start first and two cores are not left with one long job at the end
        (critical-path list scheduling)."""
        consumers: dict[str, list[Job]] = {}
        for job in self._jobs.values():
            for path in job.input_files:
                consumers.setdefault(path, []).append(job)
        rank: dict[tuple[str, tuple[str, ...]], float] = {}
        out: dict[tuple[str, tuple[str, ...]], int] = {}
        for job in reversed(self.ordered(self.jobs)):  # every reader before the job it reads from
            readers = [c.key for path in job.output_files for c in consumers.get(path, [])]
            rank[job.key] = self.expected_seconds(job) + max((rank[r] for r in readers), default=0.0)
            # whole seconds, and above every reader even where the job itself takes under half a
            # second (a data set forked from the warm interpreter: 0.2 s)
            out[job.key] = max(int(round(rank[job.key])), max((out[r] + 1 for r in readers), default=0))
        return out

    def wildcard_constraints(self) -> dict[str, str]:
        """The values each wildcard can take in this config (so that paths match one rule)."""
        solvers_ = {s for exp in self.experiments.values() for s in exp.solvers}
        return {
            "experiment": alternatives(self.experiments),
            "solver": alternatives(solvers_),
            "n": r"\d+",
            "seed": r"\d+",
            "chunk": r"\d+",
            "study": alternatives(self.studies),
            "part": r"[A-Za-z0-9_]+",
        }

    def figure_constraint(self, per_experiment: bool) -> str:
        return alternatives(f for f, s in self.figures.items() if s.per_experiment == per_experiment)

    def table_constraint(self) -> str:
        return alternatives(self.tables)

    def study_table_constraint(self) -> str:
        return alternatives(spec.table for spec in self.studies.values())

    # ------------------------------------------------------------------ building
    def _code(self, *objects: Any) -> str:
        """The code fingerprint of ``objects``, computed once per plan."""
        if objects not in self._fingerprints:
            self._fingerprints[objects] = code_fingerprint(*objects)
        return self._fingerprints[objects]

    def _plugins(self) -> dict[str, Any]:
        return {"plugins": list(self.config["plugins"])} if self.config.get("plugins") else {}

    def _build(self) -> Iterable[Job]:
        for exp in self.experiments.values():
            for n in exp.sizes:
                for seed in exp.seeds:
                    yield self._data_job(exp, n, seed)
                    for solver in exp.solvers:
                        yield self._solve_job(exp, solver, n, seed)
            for seed in exp.seeds:
                for solver in exp.shared:
                    yield self._shared_job(exp, solver, seed)
                for solver in exp.test_solvers:
                    yield self._test_job(exp, solver, seed)
            yield self._aggregate_job(exp)
        for name in self.figures:
            yield from self._figure_jobs(name)
        for name in self.tables:
            yield self._table_job(name)
        for name in self.studies:
            yield from self._study_jobs(name)
        for e in self.swept:
            yield self._sweep_job(e)
        yield self._report_job()

    def _data_params(self, exp: Experiment, n: int, seed: int) -> dict[str, Any]:
        b = exp.block
        return {
            "experiment": exp.name, "n": n, "seed": seed, "n_test": b["n_test"], "family": b["family"],
            "problem": b["problem"], "code": self._code(family_class(b["family"])), **self._plugins(),
            **({"draws": b["draws"]} if b.get("draws") else {}),
        }

    def _resources(self, rule: str, exp: Experiment, n: int, solver: str | None = None) -> dict[str, int]:
        settings = exp.resolved[solver].settings if solver is not None else None
        cost = exp.family_cost * (1.0 if solver is None else exp.resolved[solver].cost)
        runtime, mem = self.requests.request(rule, exp.name, exp.family, n, solver, settings, cost)
        return {"runtime": runtime, "mem_mb": mem}

    def _data_job(self, exp: Experiment, n: int, seed: int) -> Job:
        wc = {"experiment": exp.name, "n": str(n), "seed": str(seed)}
        return Job("generate_data", wc, {}, {"data": paths.data_file(exp.name, n, seed)},
                   self._data_params(exp, n, seed), 1, self._resources("generate_data", exp, n))

    def _solve_job(self, exp: Experiment, solver: str, n: int, seed: int) -> Job:
        resolved = exp.resolved[solver]
        inputs = {"data": [paths.data_file(exp.name, n, seed)]}
        if resolved.start_from is not None:
            inputs["init"] = [paths.run_file(exp.name, resolved.start_from, n, seed)]
        if solver in exp.shared:  # its per-seed part, made once for every n (fit_surrogate)
            inputs["shared"] = [paths.surrogate_file(exp.name, solver, seed)]
        params = {
            **self._data_params(exp, n, seed),
            "dtype": self.config["dtype"],
            "device": self.config["device"],
            "threads": self.config["threads"],  # network training sums in a thread-dependent order
            "history_points": self.config["history_points"],
            "solver": solver,
            "settings": resolved.settings,
            "start_from": resolved.start_from,
            "code": self._code(family_class(exp.block["family"]), *resolved.code),
        }
        resources = {
            **self._resources("solve", exp, n, solver),
            "gpu": self._gpus(),
            "cpus_per_task": int(self.config["threads"]),
        }
        wc = {"experiment": exp.name, "solver": solver, "n": str(n), "seed": str(seed)}
        return Job("solve", wc, inputs, {"run": paths.run_file(exp.name, solver, n, seed)}, params,
                   int(self.config["threads"]), resources)

    def _test_job(self, exp: Experiment, solver: str, seed: int) -> Job:
        """One per-problem solver on the seed's test set, read from the data artifact of the
        smallest n (every n of a seed holds the same test set)."""
        n = exp.sizes[0]
        solve = self._solve_job(exp, solver, n, seed)
        resources = {**solve.resources, **self._resources("solve", exp, exp.block["n_test"], solver)}
        wc = {"experiment": exp.name, "solver": solver, "seed": str(seed)}
        return Job("solve_test", wc, {"data": solve.inputs["data"]},
                   {"run": paths.test_run_file(exp.name, solver, seed)}, solve.params, solve.threads, resources)

    def _shared_job(self, exp: Experiment, solver: str, seed: int) -> Job:
        """The per-seed part of a solver that shares one across n (``Solver.prepare_shared``),
        read by its solve job at every n of the seed. Its params are those of a solve job that do
        not depend on n or the problem set (the code fingerprint is the solve jobs', so a change of
        the solver's code or settings reruns it and every n's run); it reads nothing and asks for
        what the smallest n's solve job asks for."""
        solve = self._solve_job(exp, solver, exp.sizes[0], seed)
        per_set = ("n", "n_test", "draws", "history_points", "start_from")
        params = {k: v for k, v in solve.params.items() if k not in per_set}
        wc = {"experiment": exp.name, "solver": solver, "seed": str(seed)}
        return Job("fit_surrogate", wc, {}, {"surrogate": paths.surrogate_file(exp.name, solver, seed)}, params,
                   solve.threads, dict(solve.resources))

    def _gpus(self) -> int:
        """One GPU per solve job when the config computes on CUDA (device: cuda, or auto where
        this machine sees a GPU), else none; SLURM turns it into --gpus=1."""
        device = self.config["device"]
        if device == "auto":
            import torch

            return int(torch.cuda.is_available())
        return int(device == "cuda")

    def _aggregate_job(self, exp: Experiment) -> Job:
        e = exp.name
        inputs = {
            "runs": [paths.run_file(e, s, n, seed) for s in exp.solvers for n in exp.sizes for seed in exp.seeds],
            "data": [paths.data_file(e, n, seed) for n in exp.sizes for seed in exp.seeds],
            "test_runs": self.test_artifacts_of([e]),
        }
        params = {
            "experiment": e, "compare_rtol": self.config["compare_rtol"], "solvers": exp.solvers.to_list(),
            "code": self._code("invnet.analysis"), **self._plugins(),
        }
        outputs = {t: paths.aggregate_file(e, t) for t in AGGREGATE_TABLES}
        return Job("aggregate", {"experiment": e}, inputs, outputs, params, 1, dict(SMALL_JOB))

    def _figure_jobs(self, figure: str) -> Iterable[Job]:
        spec = self.figures[figure]
        if not self.figure_targets(figure):
            return
        experiments = self.figure_experiments(figure)
        if spec.panels is not None:
            for e in experiments:
                exp = self.experiments[e]
                n, seed = exp.sizes[-1], exp.seeds[0]
                inputs = {"data": [paths.data_file(e, n, seed)],
                          "runs": [paths.run_file(e, s, n, seed) for s in exp.solvers]}
                params = {"experiment": e, "figure": figure, "solvers": exp.solvers.to_list(),
                          "code": self._code(spec.panels), **self._plugins()}
                yield Job("figure_panels", {"experiment": e, "figure": figure}, inputs,
                          {"panels": paths.panels_file(e, figure)}, params, 1, dict(SMALL_JOB))
        if spec.per_experiment:
            for e in experiments:
                yield self._plot_job("plot_experiment_figure", figure, [e], {"experiment": e, "figure": figure},
                                     dict(zip(("pdf", "png"), paths.figure_files(figure, e))))
        else:
            yield self._plot_job("plot_combined_figure", figure, experiments, {"figure": figure},
                                 dict(zip(("pdf", "png"), paths.figure_files(figure))))

    def _plot_job(self, rule: str, figure: str, experiments: list[str], wc: dict[str, str],
                  outputs: dict[str, str]) -> Job:
        spec = self.figures[figure]
        inputs = {
            "tables": [paths.aggregate_file(e, t) for t in spec.reads for e in experiments],
            "studies": [paths.study_table_file(self.studies[s].table) for s in spec.studies],
        }
        if spec.panels is not None:
            inputs["panels"] = [paths.panels_file(e, figure) for e in experiments]
        params = {
            "figure": figure,
            "experiments": experiments,
            "labels": {e: self.experiments[e].label for e in experiments},
            "families": {e: self.experiments[e].family for e in experiments},
            "reads": list(spec.reads),
            "studies": list(spec.studies),
            "solvers": SolverSet.merge(*(self.experiments[e].solvers for e in experiments)).to_list(),
            "code": self._code(spec.plot),
            **self._plugins(),
        }
        return Job(rule, wc, inputs, outputs, params, 1, {})

    def _table_job(self, table: str) -> Job:
        spec = self.tables[table]
        experiments = list(self.experiments)
        inputs = {"tables": [paths.aggregate_file(e, t) for t in spec.reads for e in experiments]}
        for kind in spec.artifacts:
            inputs[kind] = [
                p for e in experiments for p in self.artifacts_of([e])
                if p.startswith("results/data/" if kind == "data" else "results/runs/")
            ]
        params = {
            "table": table,
            "experiments": experiments,
            "labels": {e: self.experiments[e].label for e in experiments},
            "reads": list(spec.reads),
            "settings": {"compare_rtol": self.config["compare_rtol"]},
            "solvers": SolverSet.merge(*(exp.solvers for exp in self.experiments.values())).to_list(),
            "code": self._code(spec.render),
            **self._plugins(),
        }
        outputs = dict(zip(paths.TABLE_FORMATS, paths.table_files(table)))
        return Job("make_table", {"table": table}, inputs, outputs, params, 1, {})

    def _sweep_job(self, experiment: str) -> Job:
        runs = self.sweep_inputs(experiment)
        params = {
            "experiment": experiment,
            "sweeps": sweeps_of(self.config, experiment),
            "points": {name: [dict(p) for p in sweep_points(s, self.config["experiments"])]
                       for name, s in sweeps_of(self.config, experiment).items()},
            "roles": sweep_roles(self.config["experiments"][experiment]),
            "labels": {experiment: self.experiments[experiment].label},
            "solver_labels": {s: info.label for s, info in self.experiments[experiment].solvers.items()},
            "compare_rtol": self.config["compare_rtol"],
            "code": self._code("invnet.sweep_frame", family_class(self.experiments[experiment].block["family"])),
        }
        inputs = {"runs": [paths.run_file(*r) for r in runs]}
        landscapes = [(p["experiment"], p["n"]) for name, s in sweeps_of(self.config, experiment).items()
                      if s["over"] not in ("steps", "n") for p in params["points"][name]]
        if landscapes:  # a parameter sweep: the landscape roughness at each value, from the first seed
            inputs["data"] = [paths.data_file(e, n, self.experiments[e].seeds[0]) for e, n in dict.fromkeys(landscapes)]
        outputs = {t: paths.aggregate_file(experiment, t) for t in SWEEP_TABLES}
        return Job("sweep", {"experiment": experiment}, inputs, outputs, params, 1, dict(SMALL_JOB))

    def _study_jobs(self, study: str) -> Iterable[Job]:
        spec, settings = self.studies[study], self.config["studies"][study]
        chunks = []
        for part in spec.parts(settings):
            for k, seeds in enumerate(spec.chunks(settings)):
                out = paths.study_chunk_file(study, part, k)
                chunks.append(out)
                params = {"study": study, "part": part, "seeds": seeds, "settings": settings,
                          "code": self._code(spec.run_chunk), **self._plugins()}
                yield Job("study_chunk", {"study": study, "part": part, "chunk": str(k)}, {}, {"chunk": out},
                          params, 1, {"mem_mb": 2000, "runtime": 30})
        params = {"study": study, "settings": settings, "code": self._code(spec.aggregate), **self._plugins()}
        yield Job("study_table", {"table": spec.table}, {"chunks": chunks},
                  {"csv": paths.study_table_file(spec.table)}, params, 1, {})


    def _report_job(self) -> Job:
        """The report's front page (verdict, status, config, provenance) and caption templates;
        its code is the report module's and every figure's and table's (their captions)."""
        inputs = {
            "verdict": [p for p in paths.table_files("verdict") if p.endswith(".csv")] if "verdict" in self.tables else [],
            "data": [p for p in self.artifacts_of(self.experiments) if p.startswith("results/data/")],
            "runs": [p for p in self.artifacts_of(self.experiments) if p.startswith("results/runs/")],
            "chunks": self.artifacts_of((), self.studies),
        }
        declared = [spec.plot for spec in self.figures.values()] + [spec.render for spec in self.tables.values()]
        declared += [spec.aggregate for spec in self.studies.values()]
        params = {"config": self.config, "code": self._code("invnet.report", *declared), **self._plugins()}
        return Job("report_page", {}, inputs, paths.report_outputs(), params, 1, {})


def alternatives(values: Iterable[Any]) -> str:
    """A regex matching exactly ``values`` (longest first); one that matches nothing if empty."""
    values = sorted({str(v) for v in values}, key=lambda v: (-len(v), v))
    return "|".join(values) if values else "(?!)"
