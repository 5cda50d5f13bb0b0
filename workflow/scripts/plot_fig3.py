"""Rule plot_fig3: render Figure 3 from aggregated artifacts."""

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

from invnet.figures.fig3 import plot  # noqa: E402

plot(
    landscape=snakemake.input.landscape,
    fractions=snakemake.input.fractions,
    history=snakemake.input.history,
    pdf=snakemake.output.pdf,
    png=snakemake.output.png,
)
