rule generate_data:
    """Sample one problem set (training set of n problems + held-out test set) per seed."""
    output:
        data=paths.DATA,
    log:
        paths.log_file("generate_data"),
    benchmark:
        paths.benchmark_file("generate_data")
    priority: PLAN.priority_function("generate_data")
    conda:
        "../../envs/jobs.yaml"
    resources:
        **PLAN.resource_functions("generate_data"),
    params:
        command=PLAN.command_function("generate_data"),
    shell:
        JOB_COMMAND
