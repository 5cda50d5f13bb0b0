"""Rule solve: run one solver on one problem set and write its run artifact."""

import sys

sys.path.insert(0, snakemake.scriptdir)
from _job import start_job  # noqa: E402

start_job(snakemake)

from invnet.pipeline import run_solver  # noqa: E402

p = snakemake.params.settings
config = dict(snakemake.config, threads=snakemake.threads)  # threads as granted (--set-threads)
run_solver(
    config,
    p["experiment"],
    p["solver"],
    p["n"],
    p["seed"],
    data=snakemake.input.data,
    out=snakemake.output[0],
    init=snakemake.input.get("init"),
)
