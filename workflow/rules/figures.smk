rule plot_fig3:
    """Figure 3, wave packet: (a) waveforms, (b) landscape, (c) curves, (d) beat BFGS vs n.
    Reads only aggregated artifacts: restyling never reruns a solver."""
    input:
        landscape=LANDSCAPE,
        fractions="results/aggregate/wavepacket/fractions.csv",
        history="results/aggregate/wavepacket/history.csv",
    output:
        pdf="results/figures/fig3.pdf",
        png="results/figures/fig3.png",
    log:
        "logs/figures/fig3.log",
    localrule: True
    conda:
        "../../envs/jobs.yaml"
    script:
        "../scripts/plot_fig3.py"
