rule make_table:
    """One table (a plug-in of invnet.tables) as CSV, LaTeX (booktabs) and Markdown."""
    input:
        unpack(PLAN.input_function("make_table")),
    output:
        **report_table(paths.table_outputs()),
    log:
        paths.log_file("make_table"),
    benchmark:
        paths.benchmark_file("make_table")
    wildcard_constraints:
        table=PLAN.table_constraint(),
    priority: PLAN.priority_function("make_table")
    localrule: True
    conda:
        "../../envs/jobs.yaml"
    params:
        job=PLAN.params_function("make_table"),
    script:
        "../scripts/job.py"
