"""Rule solve: run one solver on one problem set and write its run artifact."""

import sys

sys.path.insert(0, snakemake.scriptdir)
from _job import start_job  # noqa: E402

start_job(snakemake)

from invnet.pipeline import run_solver  # noqa: E402

p = snakemake.params.settings
# The job computes with config `threads` (part of its params), whatever Snakemake granted
# (--cores 1 lowers the grant): the results depend on the thread count, the grant must not.
run_solver(
    dict(snakemake.config),
    p["experiment"],
    p["solver"],
    p["n"],
    p["seed"],
    data=snakemake.input.data,
    out=snakemake.output[0],
    init=snakemake.input.get("init"),
    threads_granted=snakemake.threads,
)
