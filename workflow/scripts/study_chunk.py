"""Rule study_chunk: one part of a study over one chunk of seeds."""

import sys

sys.path.insert(0, snakemake.scriptdir)
from _job import start_job  # noqa: E402

start_job(snakemake)

import torch  # noqa: E402

from invnet.studies import studies  # noqa: E402

torch.set_num_threads(snakemake.threads)
p = snakemake.params.settings
studies()[p["study"]].run_chunk(p["settings"], p["part"], p["seeds"], snakemake.output[0])
