"""The script of every rule: run the job its params describe (invnet.jobs); the repository's
src/ is the fallback where the package is not installed."""
import os, sys  # noqa: E401

sys.path.append(os.path.join(snakemake.scriptdir, "..", "..", "src"))
__import__("invnet.jobs").jobs.run_snakemake_job(snakemake)
