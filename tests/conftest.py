"""Shared fixtures: a tiny but complete config (every registered method but the multi-start)."""

import pytest

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
    }, history_points=50, compare_rtol=1e-3, dtype="float64", threads=1)
    config["experiments"]["wavepacket"]["problem"] = {}
    return config
