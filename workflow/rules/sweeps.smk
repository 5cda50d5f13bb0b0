rule sweep:
    """Every robustness sweep of one experiment: beat fractions against the swept value."""
    input:
        unpack(PLAN.input_function("sweep")),
    output:
        **paths.aggregate_outputs(SWEEP_TABLES),
    log:
        paths.log_file("sweep"),
    benchmark:
        paths.benchmark_file("sweep")
    priority: PLAN.priority_function("sweep")
    conda:
        "../../envs/jobs.yaml"
    resources:
        **PLAN.resource_functions("sweep"),
    params:
        job=PLAN.params_function("sweep"),
    script:
        "../scripts/job.py"
