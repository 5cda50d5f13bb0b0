"""Rule plot_fig3: render Figure 3 from aggregated artifacts."""

import sys

sys.path.insert(0, snakemake.scriptdir)
from _job import start_job  # noqa: E402

start_job(snakemake)

from invnet.figures.fig3 import plot  # noqa: E402

plot(
    landscape=snakemake.input.landscape,
    fractions=snakemake.input.fractions,
    history=snakemake.input.history,
    pdf=snakemake.output.pdf,
    png=snakemake.output.png,
)
