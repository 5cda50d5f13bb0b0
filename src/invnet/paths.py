"""The path layout of every artifact, log and benchmark, in one place: the workflow's rules, the
job plan, the job entry point and the tests all read it from here (never write a path by hand).

    results/data/{experiment}/n{n}/seed{seed}.h5              problem sets (data artifacts)
    results/runs/{experiment}/{solver}/n{n}/seed{seed}.h5     one solver run (run artifacts)
    results/runs/{experiment}/{solver}/test/seed{seed}.h5     one solver on a seed's test set
    results/surrogates/{experiment}/{solver}/seed{seed}.h5    a solver's per-seed part shared by every n
    results/aggregate/{experiment}/{table}.csv                tidy frames (outcomes, ...)
    results/aggregate/{experiment}/panels/{figure}.h5         a figure's panel data
    results/aggregate/{experiment}/sweep{,_summary}.csv       the robustness sweeps of an experiment
    results/figures/{figure}.{pdf,png}                        figures over several experiments
    results/figures/{experiment}/{figure}.{pdf,png}           figures of one experiment
    results/tables/{table}.{csv,tex,md,html}                  tables (plug-ins)
    results/studies/{study}/{part}/chunk{chunk}.h5            one seed chunk of a study's part
    results/tables/{table}.csv                                a study's aggregate table
    results/report/index.rst, results/report/captions/*.rst  the HTML report's front page, captions
    results/bundle/results.tar.gz                             the results bundle (snakemake bundle)
    logs/{rule}/...log, results/benchmarks/{rule}/...tsv      one log and benchmark per job

Templates hold Snakemake wildcards (``{experiment}``); the functions fill them in.
"""

from __future__ import annotations

DATA = "results/data/{experiment}/n{n}/seed{seed}.h5"
RUN = "results/runs/{experiment}/{solver}/n{n}/seed{seed}.h5"
TEST_RUN = "results/runs/{experiment}/{solver}/test/seed{seed}.h5"  # "test" never matches n{n}
SURROGATE = "results/surrogates/{experiment}/{solver}/seed{seed}.h5"
AGGREGATE = "results/aggregate/{experiment}/{table}.csv"
PANELS = "results/aggregate/{experiment}/panels/{figure}.h5"
EXPERIMENT_FIGURE = "results/figures/{experiment}/{figure}.{ext}"
COMBINED_FIGURE = "results/figures/{figure}.{ext}"
TABLE = "results/tables/{table}.{ext}"
STUDY_CHUNK = "results/studies/{study}/{part}/chunk{chunk}.h5"
STUDY_TABLE = "results/tables/{table}.csv"

REPORT_PAGE = "results/report/index.rst"
REPORT_CAPTIONS = "results/report/captions/{kind}.rst"
BUNDLE = "results/bundle/results.tar.gz"

FIGURE_FORMATS = ("pdf", "png")
TABLE_FORMATS = ("csv", "tex", "md", "html")

# The wildcards of each rule's outputs: its log and benchmark are named by them, in this order.
RULE_WILDCARDS = {
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
    "report_page": (),
    "bundle": (),
    "sweep": ("experiment",),
}
_PREFIX = {"experiment": "", "solver": "", "n": "n", "seed": "seed", "figure": "", "table": "",
           "study": "", "part": "", "chunk": "chunk"}


def data_file(experiment: str, n: int, seed: int) -> str:
    return DATA.format(experiment=experiment, n=n, seed=seed)


def run_file(experiment: str, solver: str, n: int, seed: int) -> str:
    return RUN.format(experiment=experiment, solver=solver, n=n, seed=seed)


def test_run_file(experiment: str, solver: str, seed: int) -> str:
    return TEST_RUN.format(experiment=experiment, solver=solver, seed=seed)


def surrogate_file(experiment: str, solver: str, seed: int) -> str:
    return SURROGATE.format(experiment=experiment, solver=solver, seed=seed)


def aggregate_file(experiment: str, table: str) -> str:
    return AGGREGATE.format(experiment=experiment, table=table)


def aggregate_outputs(tables: tuple[str, ...]) -> dict[str, str]:
    """The named outputs of the aggregate rule: one CSV per frame, ``{experiment}`` a wildcard."""
    return {t: AGGREGATE.replace("{table}", t) for t in tables}


def panels_file(experiment: str, figure: str) -> str:
    return PANELS.format(experiment=experiment, figure=figure)


def figure_files(figure: str, experiment: str | None = None) -> list[str]:
    """The PDF and PNG of a figure: of one experiment, or drawn over several (``None``)."""
    if experiment is None:
        return [COMBINED_FIGURE.format(figure=figure, ext=ext) for ext in FIGURE_FORMATS]
    return [EXPERIMENT_FIGURE.format(experiment=experiment, figure=figure, ext=ext) for ext in FIGURE_FORMATS]


def figure_outputs(per_experiment: bool) -> dict[str, str]:
    """The named outputs (pdf, png) of a figure rule, with its wildcards."""
    template = EXPERIMENT_FIGURE if per_experiment else COMBINED_FIGURE
    return {ext: template.replace("{ext}", ext) for ext in FIGURE_FORMATS}


def table_files(table: str) -> list[str]:
    return [TABLE.format(table=table, ext=ext) for ext in TABLE_FORMATS]


def table_outputs() -> dict[str, str]:
    """The named outputs (csv, tex, md, html) of the table rule, ``{table}`` a wildcard."""
    return {ext: TABLE.replace("{ext}", ext) for ext in TABLE_FORMATS}


def study_chunk_file(study: str, part: str, chunk: int) -> str:
    return STUDY_CHUNK.format(study=study, part=part, chunk=chunk)


def study_table_file(table: str) -> str:
    return STUDY_TABLE.format(table=table)


def report_outputs() -> dict[str, str]:
    """The named outputs of the report page job: the front page and the caption templates."""
    return {"page": REPORT_PAGE, **{kind: REPORT_CAPTIONS.format(kind=kind) for kind in ("figures", "tables")}}


def _stem(rule: str, wildcards: dict[str, object] | None) -> str:
    parts = [f"{_PREFIX[w]}{{{w}}}" for w in RULE_WILDCARDS[rule]]
    stem = "/".join(parts)
    return stem.format(**wildcards) if wildcards is not None else stem


def log_file(rule: str, wildcards: dict[str, object] | None = None) -> str:
    """``logs/{rule}/...log`` of a job (a template with wildcards if ``wildcards`` is None)."""
    if not RULE_WILDCARDS[rule]:  # a rule with a single job
        return f"logs/{rule}.log"
    return f"logs/{rule}/{_stem(rule, wildcards)}.log"


def benchmark_file(rule: str, wildcards: dict[str, object] | None = None) -> str:
    """``results/benchmarks/{rule}/...tsv`` of a job (a template if ``wildcards`` is None)."""
    if not RULE_WILDCARDS[rule]:
        return f"results/benchmarks/{rule}.tsv"
    return f"results/benchmarks/{rule}/{_stem(rule, wildcards)}.tsv"
