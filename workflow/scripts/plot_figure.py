"""Rules plot_experiment_figure / plot_combined_figure: render one figure from artifacts."""

import sys

sys.path.insert(0, snakemake.scriptdir)
from _job import start_job  # noqa: E402

start_job(snakemake)

from invnet.figures import FigureInputs, figures  # noqa: E402

p = snakemake.params.settings
experiments = p["experiments"]
tables = {t: [f for f in snakemake.input.tables if f.endswith(f"/{t}.csv")] for t in p["reads"]}
tables.update({s: [f] for s, f in zip(p.get("studies", []), snakemake.input.get("studies", []))})
panels = dict(zip(experiments, snakemake.input.get("panels", [])))
inputs = FigureInputs.load(experiments, p["labels"], p["families"], tables, panels)
figures()[p["figure"]].plot(inputs, snakemake.output.pdf, snakemake.output.png)
