"""Rule wavepacket_landscape: Figure 3 (a, b) panel data for one example problem."""

import sys

sys.path.insert(0, snakemake.scriptdir)
from _job import start_job  # noqa: E402

start_job(snakemake)

from invnet.figures.fig3 import compute_landscape  # noqa: E402

compute_landscape(snakemake.input.data, snakemake.input.runs, snakemake.output[0])
