"""Rule figure_panels: one figure's panel data for one experiment."""

import sys

sys.path.insert(0, snakemake.scriptdir)
from _job import start_job  # noqa: E402

start_job(snakemake)

from invnet.figures import figures  # noqa: E402

p = snakemake.params.settings
runs = dict(zip(p["solvers"], snakemake.input.runs))
figures()[p["figure"]].panels(snakemake.input.data, runs, snakemake.output[0])
