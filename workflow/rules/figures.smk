rule figure_panels:
    """Panel data of one figure for one experiment, computed from its representative problem
    set (largest n, first seed) and every run on it (the figure's ``panels`` step)."""
    input:
        unpack(get_panels_input),
    output:
        PANELS,
    log:
        "logs/figure_panels/{experiment}/{figure}.log",
    benchmark:
        "results/benchmarks/figure_panels/{experiment}/{figure}.tsv"
    conda:
        "../../envs/jobs.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        settings=get_panels_params,
    script:
        "../scripts/figure_panels.py"


rule plot_experiment_figure:
    """A figure of one experiment (the appendix figures every experiment gets). Reads only
    aggregated artifacts: restyling never reruns a solver."""
    input:
        unpack(get_experiment_figure_input),
    output:
        pdf=report(
            "results/figures/{experiment}/{figure}.pdf",
            category="Figures",
            subcategory="{experiment}",
        ),
        png="results/figures/{experiment}/{figure}.png",
    log:
        "logs/figures/{experiment}/{figure}.log",
    wildcard_constraints:
        figure=_alternatives(PER_EXPERIMENT),
    localrule: True
    conda:
        "../../envs/jobs.yaml"
    params:
        settings=get_experiment_figure_params,
    script:
        "../scripts/plot_figure.py"


rule plot_combined_figure:
    """A figure drawn over every experiment it applies to (Figure 3, 4, ...)."""
    input:
        unpack(get_combined_figure_input),
    output:
        pdf=report("results/figures/{figure}.pdf", category="Figures"),
        png="results/figures/{figure}.png",
    log:
        "logs/figures/{figure}.log",
    wildcard_constraints:
        figure=_alternatives(COMBINED),
    localrule: True
    conda:
        "../../envs/jobs.yaml"
    params:
        settings=get_combined_figure_params,
    script:
        "../scripts/plot_figure.py"
