"""Rule make_table4: compute cost per method as CSV, LaTeX and Markdown."""

import sys

sys.path.insert(0, snakemake.scriptdir)
from _job import start_job  # noqa: E402

start_job(snakemake)

import pandas as pd  # noqa: E402

from invnet.tables import write_table4  # noqa: E402

write_table4(
    [pd.read_csv(path) for path in snakemake.input.summaries],
    csv=snakemake.output.csv,
    tex=snakemake.output.tex,
    md=snakemake.output.md,
    labels=dict(snakemake.params.labels),
)
