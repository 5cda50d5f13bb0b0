"""Shared start of every rule script: job log, HDF5 locking off, and the invnet import path."""

import logging
import os
import sys


def start_job(smk) -> None:
    """Send logging (logger "invnet") and stderr to the job's log; make ``invnet`` importable."""
    os.environ.setdefault("HDF5_USE_FILE_LOCKING", "FALSE")  # before h5py is imported
    handle = open(smk.log[0], "w", buffering=1, encoding="utf-8")
    sys.stderr = handle
    logging.basicConfig(
        level=logging.INFO,
        stream=handle,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        force=True,
    )
    logging.captureWarnings(True)
    try:
        import invnet  # noqa: F401
    except ImportError:  # package not installed in this environment: use the repository copy
        sys.path.insert(0, os.path.join(smk.scriptdir, "..", "..", "src"))
