"""Rule make_table2: beat/tie/lose against BFGS as CSV, LaTeX and Markdown."""

import sys

sys.path.insert(0, snakemake.scriptdir)
from _job import start_job  # noqa: E402

start_job(snakemake)

import pandas as pd  # noqa: E402

from invnet.tables import write_table2  # noqa: E402

write_table2(
    [pd.read_csv(path) for path in snakemake.input.fractions],
    csv=snakemake.output.csv,
    tex=snakemake.output.tex,
    md=snakemake.output.md,
    rtol=snakemake.params.rtol,
    labels=dict(snakemake.params.labels),
)
