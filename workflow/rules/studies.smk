rule study_chunk:
    """One part of a study (e.g. a figure panel) over one chunk of its seeds."""
    output:
        STUDY_CHUNK,
    log:
        "logs/studies/{study}/{part}/chunk{chunk}.log",
    benchmark:
        "results/benchmarks/studies/{study}/{part}/chunk{chunk}.tsv"
    wildcard_constraints:
        study=_alternatives(STUDIES),
        part=r"[A-Za-z0-9_]+",
        chunk=r"\d+",
    conda:
        "../../envs/jobs.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=30,
    params:
        settings=get_study_chunk_params,
    script:
        "../scripts/study_chunk.py"


rule study_table:
    """A study's aggregate table from every chunk of every part."""
    input:
        chunks=get_study_table_input,
    output:
        report("results/tables/{table}.csv", category="Tables"),
    log:
        "logs/studies/{table}.log",
    wildcard_constraints:
        table=_alternatives(spec.table for spec in STUDIES.values()),
    localrule: True
    conda:
        "../../envs/jobs.yaml"
    params:
        settings=get_study_table_params,
    script:
        "../scripts/study_table.py"
