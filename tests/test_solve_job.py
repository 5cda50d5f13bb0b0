"""The solve job (invnet.jobs, run in-process from the plan) runs configured compositions with
the driver and writes the typed status next to the datasets it always wrote."""

import copy

import numpy as np
import pytest

from invnet.artifacts import read_h5
from invnet.errors import ArtifactError
from helpers import generate_data, run_solver
from invnet.solvers import SOLVE_STATUS_NAMES


@pytest.fixture
def config(tiny_config):
    cfg = copy.deepcopy(tiny_config)
    cfg["experiments"]["wavepacket"]["solvers"] = {
        "bfgs": {"maxiter": 20}, "jpo": {"hidden": [4], "steps": 5},
        "jpo_gd": {"method": "gd", "start_from": "jpo", "steps": 3},
        "gd_multistart": {"method": "gd", "starts": 3, "steps": 4},
    }
    return cfg


def test_run_solver_with_compositions(config, tmp_path):
    data = tmp_path / "data.h5"
    generate_data(config, "wavepacket", 8, 0, data)
    runs = {}
    for solver, init in [("bfgs", None), ("jpo", None), ("jpo_gd", "jpo"), ("gd_multistart", None)]:
        runs[solver] = tmp_path / f"{solver}.h5"
        run_solver(config, "wavepacket", solver, 8, 0, data, runs[solver], init=runs.get(init))
    arrays, attrs = read_h5(runs["bfgs"], "run")
    assert {"x", "loss", "problem_status", "solve_status", "status", "iterations", "evaluations",
            "loss_history", "history_step"} <= set(arrays)
    assert arrays["solve_status"].dtype == np.int64 and set(arrays["solve_status"]) <= set(SOLVE_STATUS_NAMES)
    assert attrs["config"]["solver"] == {"method": "bfgs", "gtol": 1e-5, "maxiter": 20}
    multi, attrs = read_h5(runs["gd_multistart"], "run")
    assert multi["start_loss"].shape == (8, 3) and multi["best_start"].shape == (8,)
    assert len(multi["loss_history"]) <= 50  # the global history_points of the config
    jpo, _ = read_h5(runs["jpo"], "run")
    refined, attrs = read_h5(runs["jpo_gd"], "run")
    assert attrs["provenance"]["code_fingerprint"] and attrs["config"]["solver"]["start_from"] == "jpo"
    assert not np.array_equal(refined["x"], jpo["x"])
    with pytest.raises(ArtifactError, match="starts from 'jpo' and needs its run artifact"):
        run_solver(config, "wavepacket", "jpo_gd", 8, 0, data, tmp_path / "x.h5")
