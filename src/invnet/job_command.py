"""The command line of a job: ``python workflow/scripts/job.py THREADS DESCRIPTION``, where
DESCRIPTION is the Python literal of the job (rule, params, inputs, outputs, log: what
:func:`invnet.jobs.run_logged_job` takes; :meth:`invnet.plan.Plan.command_function` writes it).

The rules whose jobs are many and small (solve, data, figures, study chunks) run this command
instead of a ``script:`` directive: a script first imports Snakemake to unpickle its ``snakemake``
object (0.12 s of CPU per job on a 2-core laptop), while this process imports only what handing
the job to the warm interpreter needs (:mod:`invnet.warm`; about 0.03 s with the interpreter's
start). Where no warm interpreter takes the job (a SLURM job, ``INVNET_WARM=0``, the first jobs),
the job runs here, exactly as from the script.
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only: typing is not loaded on this path
    from collections.abc import Mapping
    from typing import Any, NoReturn

# A command line is one argument of `bash -c`: Linux takes at most 128 KiB in one argument.
MAX_DESCRIPTION = 100_000


def shell_command(python: str, script: str) -> str:
    """The ``shell:`` command of a rule that runs this (a Snakemake format string): ``python``
    (a path, or a name the environment resolves) runs ``script`` with the granted threads and the
    rule's ``params.command`` (:meth:`invnet.plan.Plan.command_function`)."""
    import shlex

    if os.sep in python:
        python = os.path.abspath(python)
    words = (shlex.quote(w).replace("{", "{{").replace("}", "}}") for w in (python, os.path.abspath(script)))
    return " ".join(words) + " {threads} {params.command:q}"


def encode(job: Mapping[str, Any]) -> str:
    """The job as a Python literal that :func:`decode` reads back with the same types (tuples stay
    tuples, floats keep every bit: ``repr``); ValueError where it does not, or is too long."""
    import ast

    text = repr(dict(job))
    try:
        same = ast.literal_eval(text) == job
    except (ValueError, SyntaxError):
        same = False
    if not same:
        raise ValueError(f"rule {job.get('rule')}: its job description is no Python literal that reads back equal")
    if len(text) > MAX_DESCRIPTION:
        raise ValueError(f"rule {job.get('rule')}: its job description takes {len(text)} characters, more than the "
                         f"{MAX_DESCRIPTION} a command line carries; give the rule the script: directive instead")
    return text


def decode(text: str) -> dict[str, Any]:
    """The job :func:`encode` wrote."""
    import ast

    return ast.literal_eval(text)


def run(job: dict[str, Any]) -> NoReturn:
    """Run ``job`` in a process forked from this machine's warm interpreter where one runs
    (:mod:`invnet.warm`), else here; end this process with the job's exit status."""
    from . import warm

    code = warm.run_in_warm_interpreter(job) if warm.enabled() else None
    if code is None:
        from .jobs import run_logged_job

        code = run_logged_job(job)
    exit_without_teardown(code)


def exit_without_teardown(code: int) -> NoReturn:
    """End a finished job's process at once with status ``code``. The interpreter's teardown
    (unloading torch and the other extension modules) costs 0.3-0.45 s of CPU per job
    (benchmarks/startup.py) and does nothing a job needs: its outputs are written and renamed, and
    its log is flushed first."""
    for stream in (sys.stdout, sys.__stderr__, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(code)


def main(argv: list[str]) -> NoReturn:
    """``THREADS DESCRIPTION``: the threads Snakemake granted and the job :func:`encode` wrote."""
    if len(argv) != 2:
        sys.exit("usage: job.py THREADS DESCRIPTION (the command of a rule: invnet.job_command)")
    run({**decode(argv[1]), "threads": int(argv[0])})
