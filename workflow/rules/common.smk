"""Shared Python of the workflow: config validation, wildcard constraints, path helpers,
input functions and resources. Rules live in the other workflow/rules/*.smk files.

Results layout (every path below is relative to the working directory):

    results/data/{experiment}/n{n}/seed{seed}.h5              problem sets (data artifacts)
    results/runs/{experiment}/{solver}/n{n}/seed{seed}.h5     one solver run (run artifacts)
    results/aggregate/{experiment}/{table}.csv                tidy frames (outcomes, ...)
    results/aggregate/wavepacket/landscape.h5                 Figure 3 (a, b) panel data
    results/figures/fig3.{pdf,png}                            figures
    results/tables/table2.{csv,tex,md}                        tables
    results/benchmarks/{rule}/...tsv                          Snakemake benchmarks
    logs/{rule}/...log                                        job logs
"""

import os

import jsonschema
import yaml
from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

from invnet.errors import ConfigError
from invnet.pipeline import solver_dependency, validate_config

# ----------------------------------------------------------------------------- validation

SCHEMA = "../schemas/config.schema.yaml"
SCHEMA_PATH = os.path.join(
    workflow.basedir, "workflow", "schemas", "config.schema.yaml"
)


def _key_path(parts):
    """['experiments', 'wavepacket', 'n', 0] -> 'experiments.wavepacket.n[0]'."""
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "<top level>"


def _short(value, width=60):
    text = repr(value)
    return text if len(text) <= width else f"{text[: width - 3]}..."


def _format_schema_error(err):
    """One line per error, naming the key path and, where the set is closed, what is allowed."""
    where = _key_path(err.absolute_path)
    if err.validator == "additionalProperties":
        allowed = sorted(err.schema.get("properties", {}))
        extra = sorted(set(err.instance) - set(allowed))
        prefix = "" if where == "<top level>" else f"{where}."
        return "; ".join(
            f"{prefix}{key}: unknown key '{key}'; allowed: {', '.join(allowed)}"
            for key in extra
        )
    if err.validator == "enum":
        allowed = ", ".join(str(v) for v in err.validator_value)
        return f"{where}: got {_short(err.instance)}; allowed: {allowed}"
    if err.validator == "type":
        expected = {"object": "mapping", "array": "list"}.get(
            err.validator_value, err.validator_value
        )
        got = type(err.instance).__name__
        return f"{where}: expected {expected}, got {got} {_short(err.instance)}"
    if err.validator == "required":
        missing = [k for k in err.validator_value if k not in err.instance]
        prefix = "" if where == "<top level>" else f"{where}."
        return "; ".join(f"{prefix}{key}: required key is missing" for key in missing)
    if err.validator == "dependentRequired":
        return "; ".join(
            f"{where}.{key}: needs '{dep}' in {where} as well"
            for key, deps in err.validator_value.items()
            if key in err.instance
            for dep in deps
            if dep not in err.instance
        )
    return f"{where}: {err.message}"


def check_config(cfg):
    """Validate ``cfg`` (schema, then invnet's semantic checks); fill schema defaults.

    Raises a WorkflowError with one readable line per problem instead of a traceback.
    """
    with open(SCHEMA_PATH) as handle:
        schema = yaml.safe_load(handle)
    validator = jsonschema.Draft202012Validator(schema)
    lines = []
    for err in sorted(validator.iter_errors(cfg), key=lambda e: list(map(str, e.path))):
        line = _format_schema_error(err)
        if line and line not in lines:
            lines.append(line)
    if lines:
        listing = "".join(f"\n  {line}" for line in lines)
        raise WorkflowError(
            f"Invalid configuration (see workflow/schemas/config.schema.yaml):{listing}"
        )
    try:
        validate(cfg, SCHEMA)  # snakemake's validator: same schema, fills defaults
        validate_config(cfg)
    except ConfigError as err:
        raise WorkflowError(f"Invalid configuration: {err}") from None
    except WorkflowError as err:
        cause = next((a for a in err.args if isinstance(a, Exception)), None)
        detail = getattr(cause, "message", str(err))
        raise WorkflowError(f"Invalid configuration: {detail}") from None


check_config(config)

# ----------------------------------------------------------------------------- config views

EXPERIMENTS = list(config["experiments"])
SOLVER_ORDER = [
    "bfgs",
    "lbfgsb",
    "gd",
    "adam",
    "jpo",
    "jpo_bfgs",
    "supervised",
    "supervised_bfgs",
]


def block(experiment):
    return config["experiments"][experiment]


def solvers_of(experiment):
    """The configured solvers of ``experiment`` in canonical order (bfgs first)."""
    present = block(experiment)["solvers"]
    return [s for s in SOLVER_ORDER if s in present] + [
        s for s in present if s not in SOLVER_ORDER
    ]


def sizes_of(experiment):
    return sorted(int(n) for n in block(experiment)["n"])


def seeds_of(experiment):
    return sorted(int(s) for s in block(experiment)["seeds"])


def _alternatives(values):
    return "|".join(sorted({str(v) for v in values}, key=lambda v: (-len(v), v)))


wildcard_constraints:
    experiment=_alternatives(EXPERIMENTS),
    solver=_alternatives(s for e in EXPERIMENTS for s in solvers_of(e)),
    n=_alternatives(n for e in EXPERIMENTS for n in sizes_of(e)),
    seed=r"\d+",


# ----------------------------------------------------------------------------- paths

DATA = "results/data/{experiment}/n{n}/seed{seed}.h5"
RUN = "results/runs/{experiment}/{solver}/n{n}/seed{seed}.h5"
AGGREGATE_TABLES = ["outcomes", "fractions", "summary", "history", "test"]
LANDSCAPE = "results/aggregate/wavepacket/landscape.h5"
FIGURES = "results/figures"
TABLES = "results/tables"


def data_file(experiment, n, seed):
    return DATA.format(experiment=experiment, n=n, seed=seed)


def run_file(experiment, solver, n, seed):
    return RUN.format(experiment=experiment, solver=solver, n=n, seed=seed)


def aggregate_file(experiment, table):
    return f"results/aggregate/{experiment}/{table}.csv"


def all_data(experiment):
    return [
        data_file(experiment, n, s)
        for n in sizes_of(experiment)
        for s in seeds_of(experiment)
    ]


def all_runs(experiment):
    return [
        run_file(experiment, solver, n, seed)
        for solver in solvers_of(experiment)
        for n in sizes_of(experiment)
        for seed in seeds_of(experiment)
    ]


def figure_files(name):
    return [f"{FIGURES}/{name}.pdf", f"{FIGURES}/{name}.png"]


def table_files(name):
    return [f"{TABLES}/{name}.{ext}" for ext in ("csv", "tex", "md")]


def fig3_targets():
    return figure_files("fig3") if "wavepacket" in EXPERIMENTS else []


def table2_targets():
    return table_files("table2")


def all_targets():
    """Every final output of the configured experiments (rule all)."""
    targets = []
    for experiment in EXPERIMENTS:
        targets += [aggregate_file(experiment, t) for t in AGGREGATE_TABLES]
    return targets + fig3_targets() + table2_targets()


# ----------------------------------------------------------------------------- input functions


def _int_wildcards(wildcards):
    return wildcards.experiment, int(wildcards.n), int(wildcards.seed)


def get_data_params(wildcards):
    """Everything a data artifact depends on (a change reruns the job)."""
    experiment, n, seed = _int_wildcards(wildcards)
    b = block(experiment)
    return {
        "experiment": experiment,
        "n": n,
        "seed": seed,
        "n_test": b["n_test"],
        "problem": b["problem"],
    }


def get_solve_input(wildcards):
    """The data artifact, plus the run artifact of the solver this one starts from."""
    experiment, n, seed = _int_wildcards(wildcards)
    inputs = {"data": data_file(experiment, n, seed)}
    dependency = solver_dependency(wildcards.solver)
    if dependency is not None:
        inputs["init"] = run_file(experiment, dependency, n, seed)
    return inputs


def get_solve_params(wildcards):
    """Everything a run artifact depends on besides its inputs (a change reruns the job)."""
    return {
        **get_data_params(wildcards),
        "dtype": config["dtype"],
        "history_points": config["history_points"],
        "solver": wildcards.solver,
        "settings": block(wildcards.experiment)["solvers"][wildcards.solver],
    }


def get_aggregate_input(wildcards):
    return {
        "runs": all_runs(wildcards.experiment),
        "data": all_data(wildcards.experiment),
    }


def get_landscape_input(wildcards):
    """Figure 3 (a, b): the problem set of the largest n, first seed, and its runs."""
    experiment = "wavepacket"
    n, seed = sizes_of(experiment)[-1], seeds_of(experiment)[0]
    return {
        "data": data_file(experiment, n, seed),
        "runs": [run_file(experiment, s, n, seed) for s in solvers_of(experiment)],
    }


def get_table2_input(wildcards):
    return [aggregate_file(e, "fractions") for e in EXPERIMENTS]


# ----------------------------------------------------------------------------- resources


def solve_mem_mb(wildcards, attempt):
    """Small problems: 2 GB covers torch + n=1024; doubled on every retry (--retries)."""
    return 2000 * attempt


def solve_runtime(wildcards, attempt):
    """Minutes on one CPU thread: network training and large n dominate; scaled on retry."""
    base = 10 + int(wildcards.n) // 32
    if wildcards.solver in ("jpo", "supervised", "gd", "adam"):
        base *= 2
    return min(base * attempt, 24 * 60)
