rule report_page:
    """The HTML report's front page (verdict, status, config, provenance) and the caption
    templates of every figure and table (snakemake --report results/report.html)."""
    input:
        unpack(PLAN.input_function("report_page")),
    output:
        **paths.report_outputs(),
    log:
        paths.log_file("report_page"),
    benchmark:
        paths.benchmark_file("report_page")
    priority: PLAN.priority_function("report_page")
    localrule: True
    conda:
        "../../envs/jobs.yaml"
    params:
        job=PLAN.params_function("report_page"),
    script:
        "../scripts/job.py"


rule bundle:
    """Every data, run and study-chunk artifact in one archive with a manifest (sha256 per
    file, the config, git commits, versions): snakemake bundle; invnet bundle restore FILE.
    """
    input:
        artifacts=PLAN.bundle_job().inputs["artifacts"],
    output:
        bundle=paths.BUNDLE,
    log:
        paths.log_file("bundle"),
    localrule: True
    conda:
        "../../envs/jobs.yaml"
    params:
        job=PLAN.bundle_job().params,
    script:
        "../scripts/job.py"
