rule aggregate:
    """Collect every run of one experiment into tidy tables (invnet.analysis.AGGREGATE_TABLES)."""
    input:
        unpack(PLAN.input_function("aggregate")),
    output:
        **paths.aggregate_outputs(AGGREGATE_TABLES),
    log:
        paths.log_file("aggregate"),
    benchmark:
        paths.benchmark_file("aggregate")
    priority: PLAN.priority_function("aggregate")
    conda:
        "../../envs/jobs.yaml"
    resources:
        **PLAN.resource_functions("aggregate"),
    params:
        job=PLAN.params_function("aggregate"),
    script:
        "../scripts/job.py"
