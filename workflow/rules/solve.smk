rule solve:
    """Run one solver on one problem set; a refinement also reads the run it starts from."""
    input:
        unpack(PLAN.input_function("solve")),
    output:
        run=paths.RUN,
    log:
        paths.log_file("solve"),
    benchmark:
        paths.benchmark_file("solve")
    priority: PLAN.priority_function("solve")
    conda:
        "../../envs/jobs.yaml"
    threads: PLAN.threads("solve")
    resources:
        **PLAN.resource_functions("solve"),
    params:
        command=PLAN.command_function("solve"),
    shell:
        JOB_COMMAND


rule solve_test:
    """Run one per-problem solver on a seed's held-out test set (once per seed, any n's data)."""
    input:
        unpack(PLAN.input_function("solve_test")),
    output:
        run=paths.TEST_RUN,
    log:
        paths.log_file("solve_test"),
    benchmark:
        paths.benchmark_file("solve_test")
    conda:
        "../../envs/jobs.yaml"
    threads: PLAN.threads("solve_test")
    resources:
        **PLAN.resource_functions("solve_test"),
    params:
        command=PLAN.command_function("solve_test"),
    shell:
        JOB_COMMAND
