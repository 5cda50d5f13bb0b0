rule aggregate:
    """Collect every run of one experiment into tidy tables: per-problem outcomes against
    BFGS, per-seed fractions, per-(solver, n) summaries, loss histories, test losses."""
    input:
        unpack(get_aggregate_input),
    output:
        outcomes="results/aggregate/{experiment}/outcomes.csv",
        fractions="results/aggregate/{experiment}/fractions.csv",
        summary="results/aggregate/{experiment}/summary.csv",
        history="results/aggregate/{experiment}/history.csv",
        test="results/aggregate/{experiment}/test.csv",
        budget="results/aggregate/{experiment}/budget.csv",
    log:
        "logs/aggregate/{experiment}.log",
    benchmark:
        "results/benchmarks/aggregate/{experiment}.tsv"
    conda:
        "../../envs/jobs.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=15,
    params:
        rtol=config["compare_rtol"],
        code=code_fingerprint("invnet.analysis"),
    script:
        "../scripts/aggregate.py"
