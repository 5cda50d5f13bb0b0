rule fit_surrogate:
    """Make the per-seed part a solver shares across the n of a seed, once for every n's solve job."""
    input:
        unpack(PLAN.input_function("fit_surrogate")),
    output:
        surrogate=paths.SURROGATE,
    log:
        paths.log_file("fit_surrogate"),
    benchmark:
        paths.benchmark_file("fit_surrogate")
    priority: PLAN.priority_function("fit_surrogate")
    conda:
        "../../envs/jobs.yaml"
    threads: PLAN.threads("fit_surrogate")
    resources:
        **PLAN.resource_functions("fit_surrogate"),
    params:
        command=PLAN.command_function("fit_surrogate"),
    shell:
        JOB_COMMAND
