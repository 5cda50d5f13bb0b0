"""Shared Python of the workflow: config loading and validation, wildcard constraints, paths,
input functions and resources. Nothing here names an experiment, a family, a solver or a
figure: they come from the config and from the plug-in registries of the invnet package.

    results/data/{experiment}/n{n}/seed{seed}.h5              problem sets (data artifacts)
    results/runs/{experiment}/{solver}/n{n}/seed{seed}.h5     one solver run (run artifacts)
    results/aggregate/{experiment}/{table}.csv                tidy frames (outcomes, ...)
    results/aggregate/{experiment}/panels/{figure}.h5         a figure's panel data
    results/figures/{figure}.{pdf,png}                        figures over several experiments
    results/figures/{experiment}/{figure}.{pdf,png}           figures of one experiment
    results/tables/{table}.{csv,tex,md}                       tables
    results/studies/{study}/{part}/chunk{chunk}.h5            one seed chunk of a study's part
    results/tables/{table}.csv                                a study's aggregate table
"""

import math
import os

import torch
from snakemake.exceptions import WorkflowError
from snakemake.utils import update_config

from invnet.artifacts import check_artifact
from invnet.config import InvalidConfig, load_yaml, resolve_config
from invnet.errors import ArtifactError
from invnet.fingerprint import code_fingerprint
from invnet.figures import figures
from invnet.pipeline import data_fingerprint, run_fingerprint, solver_dependency
from invnet.problems import family_class
from invnet.solvers import solver_class, solvers
from invnet.studies import studies

# ----------------------------------------------------------------------------- config

DEFAULT_CONFIG = "config/config.yaml"


def load_config(config, configfiles, local):
    """The resolved config: the --configfile files alone if given (a preset never merges into
    the default), else config/config.yaml; --config values on top; defaults filled in.
    """
    try:
        raw = {} if configfiles else load_yaml(DEFAULT_CONFIG)
        update_config(raw, config)
        return resolve_config(raw, check_cuda=local)
    except InvalidConfig as err:
        raise WorkflowError(str(err)) from None


def on_cluster():
    """Whether jobs go to a cluster executor (--executor slurm, profiles/slurm): only then is
    --jobs (resource_settings.nodes) kept apart from --cores. The executor itself is not known
    while the Snakefile is read. On a cluster the submit host need not have the GPU that
    `device: cuda` asks for: the job checks it where it runs (invnet.devices.resolve_device).
    """
    return workflow.resource_settings.nodes is not None


_resolved = load_config(config, workflow.overwrite_configfiles, not on_cluster())
config.clear()
config.update(_resolved)

EXPERIMENTS = list(config["experiments"])
FIGURES = figures()
STUDIES = {name: studies()[name] for name in config["studies"]}


def block(experiment):
    return config["experiments"][experiment]


def family_of(experiment):
    return family_class(block(experiment)["family"]).name


def solvers_of(experiment):
    """The configured solvers of ``experiment`` in table order (the baseline first)."""
    present = block(experiment)["solvers"]
    return [s for s in solvers() if s in present]


def sizes_of(experiment):
    return sorted(block(experiment)["n"])


def seeds_of(experiment):
    return sorted(block(experiment)["seeds"])


def figure_experiments(figure):
    """The configured experiments a figure applies to, in config order."""
    return [e for e in EXPERIMENTS if FIGURES[figure].applies_to(family_of(e))]


def _alternatives(values):
    values = sorted({str(v) for v in values}, key=lambda v: (-len(v), v))
    return "|".join(values) if values else "(?!)"


PER_EXPERIMENT = [f for f, spec in FIGURES.items() if spec.per_experiment]
COMBINED = [f for f, spec in FIGURES.items() if not spec.per_experiment]


wildcard_constraints:
    experiment=_alternatives(EXPERIMENTS),
    solver=_alternatives(s for e in EXPERIMENTS for s in solvers_of(e)),
    n=r"\d+",
    seed=r"\d+",


# ----------------------------------------------------------------------------- paths

DATA = "results/data/{experiment}/n{n}/seed{seed}.h5"
RUN = "results/runs/{experiment}/{solver}/n{n}/seed{seed}.h5"
AGGREGATE = "results/aggregate/{experiment}/{table}.csv"
AGGREGATE_TABLES = ["outcomes", "fractions", "summary", "history", "test", "budget"]
PANELS = "results/aggregate/{experiment}/panels/{figure}.h5"


def data_file(experiment, n, seed):
    return DATA.format(experiment=experiment, n=n, seed=seed)


def run_file(experiment, solver, n, seed):
    return RUN.format(experiment=experiment, solver=solver, n=n, seed=seed)


def aggregate_file(experiment, table):
    return AGGREGATE.format(experiment=experiment, table=table)


def figure_files(figure, experiment=None):
    stem = (
        f"results/figures/{figure}"
        if experiment is None
        else f"results/figures/{experiment}/{figure}"
    )
    return [f"{stem}.pdf", f"{stem}.png"]


def table_files(name):
    return [f"results/tables/{name}.{ext}" for ext in ("csv", "tex", "md")]


def figure_targets(figure):
    """Every output of one figure for the configured experiments (none if none applies); a
    figure not drawn from experiments: its one file pair if every study it reads is configured.
    """
    if FIGURES[figure].standalone:
        wanted = FIGURES[figure].studies
        return figure_files(figure) if all(s in STUDIES for s in wanted) else []
    experiments = figure_experiments(figure)
    if not experiments:
        return []
    if FIGURES[figure].per_experiment:
        return [p for e in experiments for p in figure_files(figure, e)]
    return figure_files(figure)


def artifacts_of(experiments=(), studies=()):
    """Every data, run and study-chunk artifact behind ``experiments`` and ``studies``.

    Named targets list them as inputs, so that a deleted artifact is rebuilt, and everything
    downstream of it redone, by the same command: Snakemake (>= 7) does not regenerate a
    missing intermediate file whose consumers are present and up to date.
    """
    files = []
    for e in experiments:
        for n in sizes_of(e):
            for seed in seeds_of(e):
                files.append(data_file(e, n, seed))
                files += [run_file(e, s, n, seed) for s in solvers_of(e)]
    return files + [chunk for s in studies for chunk in study_chunk_files(s)]


def figure_artifacts(figure):
    """The artifacts a figure is drawn from at the end of the chain (see artifacts_of)."""
    if not figure_targets(figure):
        return []
    if FIGURES[figure].standalone:
        return artifacts_of(studies=FIGURES[figure].studies)
    return artifacts_of(figure_experiments(figure), FIGURES[figure].studies)


def all_targets():
    """Every final output of the configured experiments (rule all), and every artifact they
    are built from (so that a deleted one is rebuilt)."""
    targets = [aggregate_file(e, t) for e in EXPERIMENTS for t in AGGREGATE_TABLES]
    return (
        targets
        + [p for f in FIGURES for p in figure_targets(f)]
        + table_files("table2")
        + table_files("table4")
        + [study_table(s) for s in STUDIES]
        + artifacts_of(EXPERIMENTS, STUDIES)
    )


# ----------------------------------------------------------------------------- artifact check


def check_existing_artifacts():
    """Refuse, before any job runs, an existing data or run artifact that is unreadable,
    incomplete, of another schema version, lacks a dataset or holds one of the wrong shape, or
    is not the artifact its path names: one line naming the file and what is wrong (and how
    many more fail). Reads attributes and shapes only (milliseconds per file)."""
    bad = []
    for e in EXPERIMENTS:
        for n in sizes_of(e):
            for seed in seeds_of(e):
                key = {"experiment": e, "n": n, "seed": seed}
                wanted = [(data_file(e, n, seed), "data", key)] + [
                    (run_file(e, s, n, seed), "run", {**key, "solver": s})
                    for s in solvers_of(e)
                ]
                for path, kind, expect in wanted:
                    if os.path.lexists(path):
                        try:
                            check_artifact(path, kind, expect)
                        except ArtifactError as err:
                            bad.append(str(err))
    if bad:
        more = (
            f" ({len(bad) - 1} more artifacts fail these checks)"
            if len(bad) > 1
            else ""
        )
        raise WorkflowError(f"Refusing to run: {bad[0]}{more}")


if workflow.is_main_process:
    check_existing_artifacts()


# ----------------------------------------------------------------------------- input functions


def get_data_params(wildcards):
    """Everything a data artifact depends on (a change reruns the job), the family's code too."""
    b = block(wildcards.experiment)
    return {
        "experiment": wildcards.experiment,
        "n": int(wildcards.n),
        "seed": int(wildcards.seed),
        "n_test": b["n_test"],
        "family": b["family"],
        "problem": b["problem"],
        "code": data_fingerprint(b["family"]),
    }


def get_solve_input(wildcards):
    """The data artifact, plus the run artifact of the solver this one starts from."""
    e, n, seed = wildcards.experiment, wildcards.n, wildcards.seed
    inputs = {"data": data_file(e, n, seed)}
    dependency = solver_dependency(wildcards.solver)
    if dependency is not None:
        inputs["init"] = run_file(e, dependency, n, seed)
    return inputs


def get_solve_params(wildcards):
    """Everything a run artifact depends on besides its inputs (a change reruns the job)."""
    b = block(wildcards.experiment)
    return {
        **get_data_params(wildcards),
        "dtype": config["dtype"],
        "device": config["device"],
        "threads": config["threads"],  # JPO's reductions depend on it: a change reruns
        "solver": wildcards.solver,
        "settings": b["solvers"][wildcards.solver],
        "code": run_fingerprint(b["family"], wildcards.solver),
    }


def get_aggregate_input(wildcards):
    e = wildcards.experiment
    return {
        "runs": [
            run_file(e, s, n, seed)
            for s in solvers_of(e)
            for n in sizes_of(e)
            for seed in seeds_of(e)
        ],
        "data": [data_file(e, n, seed) for n in sizes_of(e) for seed in seeds_of(e)],
    }


def get_panels_input(wildcards):
    """A figure's panel data: the representative problem set (largest n, first seed) and its runs."""
    e = wildcards.experiment
    n, seed = sizes_of(e)[-1], seeds_of(e)[0]
    return {
        "data": data_file(e, n, seed),
        "runs": [run_file(e, s, n, seed) for s in solvers_of(e)],
    }


def get_panels_params(wildcards):
    return {
        "figure": wildcards.figure,
        "solvers": solvers_of(wildcards.experiment),
        "code": code_fingerprint(FIGURES[wildcards.figure].panels),
    }


def _figure_input(figure, experiments):
    spec = FIGURES[figure]
    inputs = {
        "tables": [aggregate_file(e, t) for t in spec.reads for e in experiments],
        "studies": [study_table(s) for s in spec.studies],
    }
    if spec.panels is not None:
        inputs["panels"] = [
            PANELS.format(experiment=e, figure=figure) for e in experiments
        ]
    return inputs


def _figure_params(figure, experiments):
    return {
        "figure": figure,
        "experiments": experiments,
        "labels": {e: block(e)["label"] for e in experiments},
        "families": {e: family_of(e) for e in experiments},
        "reads": list(FIGURES[figure].reads),
        "studies": list(FIGURES[figure].studies),
        "code": code_fingerprint(FIGURES[figure].plot),
    }


def get_experiment_figure_input(wildcards):
    return _figure_input(wildcards.figure, [wildcards.experiment])


def get_experiment_figure_params(wildcards):
    return _figure_params(wildcards.figure, [wildcards.experiment])


def get_combined_figure_input(wildcards):
    return _figure_input(wildcards.figure, figure_experiments(wildcards.figure))


def get_combined_figure_params(wildcards):
    return _figure_params(wildcards.figure, figure_experiments(wildcards.figure))


def get_table2_input(wildcards):
    return [aggregate_file(e, "fractions") for e in EXPERIMENTS]


def get_table4_input(wildcards):
    return [aggregate_file(e, "summary") for e in EXPERIMENTS]


# ----------------------------------------------------------------------------- studies

STUDY_CHUNK = "results/studies/{study}/{part}/chunk{chunk}.h5"


def study_table(study):
    return f"results/tables/{STUDIES[study].table}.csv"


def study_of_table(table):
    return next(s for s, spec in STUDIES.items() if spec.table == table)


def study_chunk_files(study):
    spec, settings = STUDIES[study], config["studies"][study]
    return [
        STUDY_CHUNK.format(study=study, part=part, chunk=k)
        for part in spec.parts(settings)
        for k in range(len(spec.chunks(settings)))
    ]


def get_study_chunk_params(wildcards):
    """Everything a chunk depends on: the study's settings, its seeds and its code."""
    spec, settings = STUDIES[wildcards.study], config["studies"][wildcards.study]
    return {
        "study": wildcards.study,
        "part": wildcards.part,
        "seeds": spec.chunks(settings)[int(wildcards.chunk)],
        "settings": settings,
        "code": code_fingerprint(spec.run_chunk),
    }


def get_study_table_input(wildcards):
    return study_chunk_files(study_of_table(wildcards.table))


def get_study_table_params(wildcards):
    study = study_of_table(wildcards.table)
    return {
        "study": study,
        "settings": config["studies"][study],
        "code": code_fingerprint(STUDIES[study].aggregate),
    }


# ----------------------------------------------------------------------------- resources
# Requests for a cluster (ignored by local runs except threads): sized from the Snakemake
# benchmarks recorded in workflow/resources.yaml (benchmarks/size_resources.py), scaled to the
# configured n and iteration budget, doubled on every retry (--retries). docs/cluster.md.

MEASURED = load_yaml(os.path.join(workflow.current_basedir, "..", "resources.yaml"))
# requested wall time = 3 x the measured (load, other CPUs, other nodes)
RUNTIME_MARGIN = 3.0
STARTUP_MIN = 2  # + 2 min for Snakemake's start-up inside the job (parse, imports)
MEM_MARGIN = 1.5  # requested memory = 1.5 x measured peak RSS + 500 MB
MAX_RUNTIME_MIN = 24 * 60


def _measured(table, experiment, n):
    """The measured entry of ``table`` (keyed by experiment, else by its family) nearest to n
    from below (else the smallest measured n), with that n; (None, None) if not measured.
    """
    entries = table.get(experiment) or table.get(family_of(experiment))
    if not entries:
        return None, None
    sizes = sorted(int(m) for m in entries)
    m = max([s for s in sizes if s <= n], default=sizes[0])
    return m, entries[m]


def job_estimate(rule, experiment, n, solver=None):
    """(wall seconds, peak RSS MB) of one job, or None where nothing was measured: the
    measured worst case, scaled linearly in n above the measured n and by the ratio of the
    iteration budget (steps, starts) configured now to the measured one."""
    table = MEASURED.get(rule, {})
    if solver is not None:
        table = {
            e: entries.get(solver)
            for e, entries in table.items()
            if entries.get(solver)
        }
    m, entry = _measured(table, experiment, n)
    if entry is None:
        return None
    scale = max(1.0, n / m)
    if solver is not None:
        settings = block(experiment)["solvers"][solver]
        for key in ("steps", "starts"):
            if key in entry and key in settings:
                scale *= settings[key] / entry[key]
    return entry["s"] * scale, entry["max_rss_mb"]


def request(rule, experiment, n, solver=None):
    """(runtime minutes, mem_mb) asked for one job on its first attempt."""
    estimate = job_estimate(rule, experiment, n, solver)
    if estimate is None:  # not measured: the cost classes of family and solver
        cost = family_class(block(experiment)["family"]).cost
        cost *= 1.0 if solver is None else solver_class(solver).cost
        return min(int((10 + n // 32) * cost), MAX_RUNTIME_MIN), 2000
    seconds, rss = estimate
    runtime = STARTUP_MIN + math.ceil(RUNTIME_MARGIN * seconds / 60)
    mem = 100 * math.ceil((MEM_MARGIN * rss + 500) / 100)
    return min(runtime, MAX_RUNTIME_MIN), mem


def _request(rule, wildcards):
    solver = wildcards.solver if rule == "solve" else None
    return request(rule, wildcards.experiment, int(wildcards.n), solver)


def solve_runtime(wildcards, attempt):
    return min(_request("solve", wildcards)[0] * attempt, MAX_RUNTIME_MIN)


def solve_mem_mb(wildcards, attempt):
    return _request("solve", wildcards)[1] * attempt


def data_runtime(wildcards, attempt):
    return min(_request("generate_data", wildcards)[0] * attempt, MAX_RUNTIME_MIN)


def data_mem_mb(wildcards, attempt):
    return _request("generate_data", wildcards)[1] * attempt


def solve_gpus(wildcards):
    """One GPU per solve job when the config computes on CUDA (device: cuda, or auto where
    the submitting machine sees a GPU), else none; SLURM turns it into --gpus=1."""
    device = config["device"]
    return int(device == "cuda" or (device == "auto" and torch.cuda.is_available()))
