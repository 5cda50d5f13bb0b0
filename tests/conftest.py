"""Shared fixtures: a tiny but complete config."""

import copy

import pytest

TINY = {
    "compare_rtol": 1e-3,
    "dtype": "float64",
    "threads": 1,
    "history_points": 50,
    "experiments": {
        "wavepacket": {
            "family": "wavepacket",
            "n": [8],
            "seeds": [0],
            "n_test": 4,
            "problem": {},
            "solvers": {
                "bfgs": {"maxiter": 50},
                "lbfgsb": {"maxiter": 50},
                "gd": {"lr": 0.01, "steps": 30},
                "adam": {"lr": 0.01, "steps": 30},
                "jpo": {"hidden": [16], "steps": 30},
                "jpo_bfgs": {"maxiter": 50},
                "supervised": {"hidden": [16], "steps": 30},
                "supervised_bfgs": {"maxiter": 50},
            },
        }
    },
}


@pytest.fixture
def tiny_config():
    return copy.deepcopy(TINY)
