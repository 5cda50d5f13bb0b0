"""Rule aggregate: collect the runs of one experiment into tidy CSV tables."""

import sys

sys.path.insert(0, snakemake.scriptdir)
from _job import start_job  # noqa: E402

start_job(snakemake)

from invnet.analysis import aggregate  # noqa: E402
from invnet.tables import write_csv  # noqa: E402

frames = aggregate(snakemake.input.runs, snakemake.input.data, rtol=snakemake.params.rtol)
for name, frame in frames.items():
    write_csv(frame, snakemake.output[name])
