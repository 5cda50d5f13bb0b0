"""Reproduction of Holl & Thuerey (2024), "The Unreasonable Effectiveness of Solving
Inverse Problems with Neural Networks".

Data flows one way: config -> problem sets (results/data) -> one solver run per job
(results/runs) -> aggregated tables (results/aggregate) -> figures (results/figures) and
tables (results/tables). Every job, with its inputs, outputs, params and resources, comes
from the job plan of the invnet package (invnet.plan); see docs/workflow.md, and to add an
experiment, solver, figure or table, docs/extending.md.

    snakemake --cores all                                   # everything (config/config.yaml)
    snakemake --cores 2 --configfile config/smoke.yaml      # tiny, 2.5-4 min; only smoke.yaml
    snakemake fig3 --cores all                              # one figure (or table: table2)
    snakemake --report results/report.html                  # the HTML report of a finished run
    snakemake bundle --cores 1                              # the results bundle (invnet bundle)
    snakemake --workflow-profile profiles/slurm --configfile config/paper.yaml
"""


include: "workflow/rules/common.smk"


# The report's front page: snakemake --report results/report.html (after a run).
report: os.path.abspath(paths.REPORT_PAGE)


rule all:
    """Every figure, table and aggregated result of the configured experiments."""
    default_target: True
    input:
        PLAN.all_targets(),


# One named target per table and figure (`snakemake table2`, `snakemake fig3`, ...).
for _name, _files in PLAN.named_targets().items():

    rule:
        name:
            _name
        input:
            _files,


include: "workflow/rules/data.smk"
include: "workflow/rules/solve.smk"
include: "workflow/rules/surrogates.smk"
include: "workflow/rules/aggregate.smk"
include: "workflow/rules/figures.smk"
include: "workflow/rules/tables.smk"
include: "workflow/rules/studies.smk"
include: "workflow/rules/report.smk"
include: "workflow/rules/sweeps.smk"
