rule solve:
    """Run one solver on one problem set; refinement solvers (a solver's ``needs``) also take
    the run artifact of the solver they start from."""
    input:
        unpack(get_solve_input),
    output:
        RUN,
    log:
        "logs/solve/{experiment}/{solver}/n{n}/seed{seed}.log",
    benchmark:
        "results/benchmarks/solve/{experiment}/{solver}/n{n}/seed{seed}.tsv"
    conda:
        "../../envs/jobs.yaml"
    threads: config["threads"]
    resources:
        mem_mb=solve_mem_mb,
        runtime=solve_runtime,
        gpu=solve_gpus,
        cpus_per_task=config["threads"],
    params:
        settings=get_solve_params,
    script:
        "../scripts/solve.py"
