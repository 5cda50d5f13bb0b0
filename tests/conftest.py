"""Shared fixtures: a tiny but complete config (every registered method but the multi-start);
the ``measured`` lines tests record (wall times, artifact counts) printed at the end of the run,
also from pytest-xdist workers, whose own output is not shown."""

import os

import pytest

# Warm interpreters (invnet.warm) that the tests' Snakemake runs start end soon after their last job.
os.environ.setdefault("INVNET_WARM_IDLE_S", "15")

from helpers import tiny_wavepacket


@pytest.fixture
def tiny_config():
    config = tiny_wavepacket({
        "bfgs": {"maxiter": 50},
        "lbfgsb": {"maxiter": 50},
        "gd": {"lr": 0.01, "steps": 30},
        "adam": {"lr": 0.01, "steps": 30},
        "jpo": {"hidden": [16], "steps": 30},
        "jpo_bfgs": {"maxiter": 50},
        "supervised": {"hidden": [16], "steps": 30},
        "supervised_bfgs": {"maxiter": 50},
        "neural_adjoint": {"samples": 64, "hidden": [16], "surrogate_steps": 30, "steps": 30},
    }, history_points=50, compare_rtol=1e-3, dtype="float64", threads=1)
    config["experiments"]["wavepacket"]["problem"] = {}
    return config


@pytest.fixture
def measured(record_property):
    """``measured("SLURM run: 120 s wall")``: a line for the summary at the end of the run."""
    return lambda line: record_property("measured", line)


_MEASURED: list[str] = []


def pytest_runtest_logreport(report):
    _MEASURED.extend(f"{report.nodeid}: {v}" for k, v in report.user_properties if k == "measured")


def pytest_terminal_summary(terminalreporter):
    if _MEASURED:
        terminalreporter.section("measured")
        for line in dict.fromkeys(_MEASURED):
            terminalreporter.write_line(line)


# Under pytest-xdist (--dist loadfile --no-loadscope-reorder) each worker starts with two test
# files and takes the next free one as it finishes: the local smoke DAG (test_workflow.py) and
# the SLURM runs (test_slurm.py, mostly waiting for the cluster) first and side by side, each
# with a small file, then the other Snakemake runs, longest first, then the in-process tests.
FIRST = ("test_workflow.py", "test_slurm.py", "test_config.py", "test_artifacts.py",
         "test_plugin_family.py", "test_reliability.py", "test_extending.py", "test_bad_input.py")


def pytest_collection_modifyitems(items):
    rank = {name: i for i, name in enumerate(FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(FIRST)))  # stable: order kept within a file
