rule figure_panels:
    """A figure's panel data for one experiment, from its representative problem set."""
    input:
        unpack(PLAN.input_function("figure_panels")),
    output:
        panels=paths.PANELS,
    log:
        paths.log_file("figure_panels"),
    benchmark:
        paths.benchmark_file("figure_panels")
    priority: PLAN.priority_function("figure_panels")
    conda:
        "../../envs/jobs.yaml"
    resources:
        **PLAN.resource_functions("figure_panels"),
    params:
        command=PLAN.command_function("figure_panels"),
    shell:
        JOB_COMMAND


rule plot_experiment_figure:
    """A figure of one experiment; reads only aggregated artifacts."""
    input:
        unpack(PLAN.input_function("plot_experiment_figure")),
    output:
        **report_figure(paths.figure_outputs(per_experiment=True)),
    log:
        paths.log_file("plot_experiment_figure"),
    benchmark:
        paths.benchmark_file("plot_experiment_figure")
    wildcard_constraints:
        figure=PLAN.figure_constraint(per_experiment=True),
    priority: PLAN.priority_function("plot_experiment_figure")
    localrule: True
    conda:
        "../../envs/jobs.yaml"
    params:
        command=PLAN.command_function("plot_experiment_figure"),
    shell:
        JOB_COMMAND


rule plot_combined_figure:
    """A figure drawn over every experiment it applies to (Figure 3, 4, ...)."""
    input:
        unpack(PLAN.input_function("plot_combined_figure")),
    output:
        **report_figure(paths.figure_outputs(per_experiment=False)),
    log:
        paths.log_file("plot_combined_figure"),
    benchmark:
        paths.benchmark_file("plot_combined_figure")
    wildcard_constraints:
        figure=PLAN.figure_constraint(per_experiment=False),
    priority: PLAN.priority_function("plot_combined_figure")
    localrule: True
    conda:
        "../../envs/jobs.yaml"
    params:
        command=PLAN.command_function("plot_combined_figure"),
    shell:
        JOB_COMMAND
