rule study_chunk:
    """One part of a study (e.g. a figure panel) over one chunk of its seeds."""
    output:
        chunk=paths.STUDY_CHUNK,
    log:
        paths.log_file("study_chunk"),
    benchmark:
        paths.benchmark_file("study_chunk")
    priority: PLAN.priority_function("study_chunk")
    conda:
        "../../envs/jobs.yaml"
    resources:
        **PLAN.resource_functions("study_chunk"),
    params:
        command=PLAN.command_function("study_chunk"),
    shell:
        JOB_COMMAND


rule study_table:
    """A study's aggregate table from every chunk of every part."""
    input:
        unpack(PLAN.input_function("study_table")),
    output:
        **report_table({"csv": paths.STUDY_TABLE}, "csv"),
    log:
        paths.log_file("study_table"),
    benchmark:
        paths.benchmark_file("study_table")
    wildcard_constraints:
        table=PLAN.study_table_constraint(),
    priority: PLAN.priority_function("study_table")
    localrule: True
    conda:
        "../../envs/jobs.yaml"
    params:
        job=PLAN.params_function("study_table"),
    script:
        "../scripts/job.py"
