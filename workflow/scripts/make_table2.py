"""Rule make_table2: beat/tie/lose against BFGS as CSV, LaTeX and Markdown."""

import logging
import os
import sys

os.environ.setdefault("HDF5_USE_FILE_LOCKING", "FALSE")  # before h5py is imported


def setup_logging(path):
    """Send logging (logger "invnet") and stderr (warnings, tracebacks) to the job log."""
    handle = open(path, "w", buffering=1, encoding="utf-8")
    sys.stderr = handle
    logging.basicConfig(
        level=logging.INFO,
        stream=handle,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        force=True,
    )
    logging.captureWarnings(True)


setup_logging(snakemake.log[0])
try:
    import invnet  # noqa: F401
except ImportError:  # package not installed in this environment: use the repository copy
    sys.path.insert(0, os.path.join(snakemake.scriptdir, "..", "..", "src"))

import pandas as pd  # noqa: E402

from invnet.tables import write_table2  # noqa: E402

write_table2(
    [pd.read_csv(path) for path in snakemake.input.fractions],
    csv=snakemake.output.csv,
    tex=snakemake.output.tex,
    md=snakemake.output.md,
    rtol=snakemake.params.rtol,
)
