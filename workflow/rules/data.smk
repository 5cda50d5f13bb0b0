rule generate_data:
    """Sample one problem set (training set of n problems + held-out test set) per seed."""
    output:
        DATA,
    log:
        "logs/generate_data/{experiment}/n{n}/seed{seed}.log",
    benchmark:
        "results/benchmarks/generate_data/{experiment}/n{n}/seed{seed}.tsv"
    conda:
        "../../envs/jobs.yaml"
    threads: 1
    resources:
        mem_mb=data_mem_mb,
        runtime=data_runtime,
    params:
        settings=get_data_params,
    script:
        "../scripts/generate_data.py"
