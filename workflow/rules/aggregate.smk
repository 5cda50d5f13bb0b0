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
    script:
        "../scripts/aggregate.py"


rule wavepacket_landscape:
    """Figure 3 (a, b) panel data: waveforms of one example problem and L, dL/dt0 over t0."""
    input:
        unpack(get_landscape_input),
    output:
        LANDSCAPE,
    log:
        "logs/wavepacket_landscape.log",
    benchmark:
        "results/benchmarks/wavepacket_landscape.tsv"
    conda:
        "../../envs/jobs.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    script:
        "../scripts/wavepacket_landscape.py"
