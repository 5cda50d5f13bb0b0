"""Rule generate_data: sample one problem set and write its data artifact."""

import sys

sys.path.insert(0, snakemake.scriptdir)
from _job import start_job  # noqa: E402

start_job(snakemake)

from invnet.pipeline import generate_data  # noqa: E402

p = snakemake.params.settings
generate_data(dict(snakemake.config), p["experiment"], p["n"], p["seed"], snakemake.output[0])
