"""What must be Snakemake in this workflow: loading the config and the job plan, refusing a
damaged artifact before any job runs, and the wildcard constraints. Everything else (paths,
targets, inputs, params, resources) lives in the invnet package: invnet.paths and invnet.plan.
Nothing here names an experiment, a family, a solver, a figure or a table.
"""

import os
import sys

from snakemake.exceptions import WorkflowError
from snakemake.scheduling.job_scheduler import JobScheduler
from snakemake.utils import min_version, update_config

from invnet import paths
from invnet.analysis import AGGREGATE_TABLES
from invnet.config import InvalidConfig, load_yaml, resolve_config
from invnet.errors import ArtifactError
from invnet.job_command import shell_command
from invnet.plan import Plan
from invnet.scheduler_sizes import skip_input_sizing
from invnet.sweeps import SWEEP_TABLES

min_version("9.0")

DEFAULT_CONFIG = "config/config.yaml"
RESOURCES = os.path.join(workflow.current_basedir, "..", "resources.yaml")


def load_plan(config, configfiles, local):
    """The plan of the --configfile files alone if given (a preset never merges into the
    default), else of config/config.yaml; --config values on top; defaults filled in. The
    CUDA check runs only for local runs: on a cluster the submit host need not have the GPU
    (the job checks it where it runs)."""
    try:
        raw = {} if configfiles else load_yaml(DEFAULT_CONFIG)
        update_config(raw, config)
        return Plan.from_files(resolve_config(raw, check_cuda=local), RESOURCES)
    except InvalidConfig as err:
        raise WorkflowError(str(err)) from None


# --jobs without --cores (resource_settings.nodes) means a cluster executor (profiles/slurm).
PLAN = load_plan(
    config, workflow.overwrite_configfiles, workflow.resource_settings.nodes is None
)
config.clear()
config.update(PLAN.config)

if workflow.is_main_process:
    try:
        PLAN.check_existing_artifacts()
    except ArtifactError as err:
        raise WorkflowError(str(err)) from None


# The command of the rules with many small jobs (invnet.job_command): a lean process that hands its
# job to the warm interpreter, where a script: directive would import Snakemake first. With a
# conda or container deployment, the environment's python runs it.
JOB_COMMAND = shell_command(
    "python" if workflow.deployment_settings.deployment_method else sys.executable,
    os.path.join(workflow.current_basedir, "..", "scripts", "job.py"),
)


# Without temp() outputs anywhere, the scheduler need not size every ready job's inputs before each
# round (invnet.scheduler_sizes; half of the Snakemake process's CPU on the default config).
skip_input_sizing(JobScheduler)


# The report's caption templates, written by the report_page job from the figures' and tables'
# own declarations (invnet.report); Snakemake resolves a relative caption path from the rule file.
CAPTIONS = {
    kind: os.path.abspath(path) for kind, path in paths.report_outputs().items()
}


def report_figure(outputs):
    """A figure's outputs, its PNG in the report (snakemake --report): captioned from its
    declaration, grouped by the experiment it is drawn from."""
    png = report(
        outputs["png"],
        caption=CAPTIONS["figures"],
        category=PLAN.report_category,
        subcategory="Figures",
        labels=PLAN.report_labels,
    )
    return {**outputs, "png": png}


def report_table(outputs, shown="html"):
    """A table's outputs, one of them (its HTML page) in the report, captioned from its
    declaration."""
    shown_file = report(
        outputs[shown],
        caption=CAPTIONS["tables"],
        category=PLAN.report_category,
        subcategory="Tables",
        labels=PLAN.report_labels,
    )
    return {**outputs, shown: shown_file}


wildcard_constraints:
    **PLAN.wildcard_constraints(),
