"""Rule study_table: a study's aggregate table from all its chunks."""

import sys

sys.path.insert(0, snakemake.scriptdir)
from _job import start_job  # noqa: E402

start_job(snakemake)

from invnet.studies import studies  # noqa: E402

p = snakemake.params.settings
studies()[p["study"]].aggregate(p["settings"], list(snakemake.input.chunks), snakemake.output[0])
