"""Reproduction of Holl & Thuerey (2024), "The Unreasonable Effectiveness of Solving
Inverse Problems with Neural Networks".

Data flows one way: config -> problem sets (results/data) -> one solver run per job
(results/runs) -> aggregated tables (results/aggregate) -> figures (results/figures) and
tables (results/tables). See docs/workflow.md; to add an experiment, solver or figure,
docs/extending.md.

    snakemake --cores all                                   # everything (config/config.yaml)
    snakemake --cores 2 --configfile config/smoke.yaml      # tiny, 2.5-4 min; only smoke.yaml
    snakemake fig3 --cores all                              # one figure
    snakemake --workflow-profile profiles/slurm --configfile config/paper.yaml

The config is config/config.yaml, or only the files given with --configfile (a preset never
merges into the default); see load_config in workflow/rules/common.smk.
"""


include: "workflow/rules/common.smk"


rule all:
    """Every figure, table and aggregated result of the configured experiments."""
    default_target: True
    input:
        all_targets(),


rule table2:
    """Table 2 (beat/tie/lose against BFGS, with what each method spent)."""
    input:
        table_files("table2"),
        artifacts_of(EXPERIMENTS),


rule table4:
    """Table 4 (compute cost: evaluations per problem, wall time)."""
    input:
        table_files("table4"),
        artifacts_of(EXPERIMENTS),


# One named target per registered figure (`snakemake fig3`, `snakemake scatter`, ...).
for _figure in FIGURES:

    rule:
        name:
            _figure
        input:
            figure_targets(_figure),
            figure_artifacts(_figure),


include: "workflow/rules/data.smk"
include: "workflow/rules/solve.smk"
include: "workflow/rules/aggregate.smk"
include: "workflow/rules/figures.smk"
include: "workflow/rules/tables.smk"
include: "workflow/rules/studies.smk"
