"""Reproduction of Holl & Thuerey (2024), "The Unreasonable Effectiveness of Solving
Inverse Problems with Neural Networks".

Data flows one way: config -> problem sets (results/data) -> one solver run per job
(results/runs) -> aggregated tables (results/aggregate) -> figures (results/figures) and
tables (results/tables). See docs/workflow.md.

    snakemake --cores all                                   # everything (config/config.yaml)
    snakemake --cores 2 --configfile config/smoke.yaml      # tiny, < 3 min
    snakemake fig3 --cores all                              # one figure
    snakemake --workflow-profile profiles/slurm --configfile config/paper.yaml
"""


configfile: "config/config.yaml"


include: "workflow/rules/common.smk"


rule all:
    """Every figure, table and aggregated result of the configured experiments."""
    default_target: True
    input:
        all_targets(),


rule fig3:
    """Figure 3 (wave packet)."""
    input:
        fig3_targets(),


rule table2:
    """Table 2 (beat/tie/lose against BFGS)."""
    input:
        table2_targets(),


include: "workflow/rules/data.smk"
include: "workflow/rules/solve.smk"
include: "workflow/rules/aggregate.smk"
include: "workflow/rules/figures.smk"
include: "workflow/rules/tables.smk"
