rule make_table2:
    """Table 2: fractions of problems where each solver beats, ties or loses to BFGS,
    per experiment and n, mean and spread over seeds (CSV, LaTeX booktabs, Markdown)."""
    input:
        fractions=get_table2_input,
    output:
        csv=report("results/tables/table2.csv", category="Tables"),
        tex="results/tables/table2.tex",
        md="results/tables/table2.md",
    log:
        "logs/tables/table2.log",
    localrule: True
    conda:
        "../../envs/jobs.yaml"
    params:
        rtol=config["compare_rtol"],
        labels={e: block(e)["label"] for e in EXPERIMENTS},
        code=code_fingerprint("invnet.tables"),
    script:
        "../scripts/make_table2.py"


rule make_table4:
    """Table 4: compute cost per method (evaluations per problem, wall time, mean loss),
    per experiment and n, mean and spread over seeds (CSV, LaTeX booktabs, Markdown)."""
    input:
        summaries=get_table4_input,
    output:
        csv=report("results/tables/table4.csv", category="Tables"),
        tex="results/tables/table4.tex",
        md="results/tables/table4.md",
    log:
        "logs/tables/table4.log",
    localrule: True
    conda:
        "../../envs/jobs.yaml"
    params:
        labels={e: block(e)["label"] for e in EXPERIMENTS},
        code=code_fingerprint("invnet.tables"),
    script:
        "../scripts/make_table4.py"
