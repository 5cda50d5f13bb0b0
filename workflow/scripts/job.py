"""The job of every rule. From a ``shell:`` rule (JOB_COMMAND in common.smk): ``job.py THREADS
DESCRIPTION`` (invnet.job_command); from a ``script:`` rule: the ``snakemake`` object
(invnet.jobs). The repository's src/ is the fallback where the package is not installed.

Both run with one import path, so that their jobs share one warm interpreter (invnet.warm keys
it by the path): the interpreter's own, without this script's folder (``sys.path[0]``) and without
what a script's preamble appends (the workflow's path, which begins with an entry the path
already holds), then src/."""
import os, sys  # noqa: E401

smk = globals().get("snakemake")
here = smk.scriptdir if smk is not None else os.path.dirname(os.path.abspath(__file__))
own = []
for entry in sys.path[1:]:
    if entry in own:
        break
    own.append(entry)
sys.path[:] = [*own, os.path.normpath(os.path.join(here, "..", "..", "src"))]
if smk is not None:
    __import__("invnet.jobs").jobs.run_snakemake_job(smk)
else:
    __import__("invnet.job_command").job_command.main(sys.argv[1:])
