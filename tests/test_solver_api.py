"""Writing a solver against the API: a per-problem method defined here, outside the package, is
only its update loop calling the recorder; it runs through the driver, composes by config
(multi-start, refinement) and is named by import path like a plug-in family."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from invnet import registry

from invnet.errors import ConfigError
from invnet.problems import make_family
from invnet.seeding import numpy_rng
from invnet.solvers import Outcome, SolveProblem, SolveStatus, Solver, build_solver, register, resolve_solvers, solve
from invnet.solvers import resolve as resolve_module
from invnet.solvers.base import subsample_history
from invnet.spec import ParamSpec


class HeavyBall(Solver):
    """x <- x - lr * g + momentum * (x - x_prev), element-wise, so problems stay independent."""

    name = "heavy_ball"
    label = "Heavy ball"
    order = 25
    style = {"color": ("colorblind", 8), "marker": "h"}
    settings_spec = {
        "lr": ParamSpec(0.01, float, positive=True, doc="step size"),
        "momentum": ParamSpec(0.9, float, minimum=0.0, maximum=0.999, doc="momentum"),
        "steps": ParamSpec(1000, int, minimum=1, doc="iterations per problem"),
    }

    def run(self, ctx):
        s, obj = self.settings, ctx.objective()
        x = ctx.start().requires_grad_(True)
        opt = torch.optim.SGD([x], lr=s.lr, momentum=s.momentum)
        for k in range(s.steps + 1):
            opt.zero_grad()
            f = obj(x)
            ctx.record(k, f)
            if k == s.steps:
                break
            f.sum().backward()
            opt.step()
        return Outcome(x=x, loss=f, iterations=s.steps, status=SolveStatus.BUDGET)


PATH = f"{Path(__file__).stem}:HeavyBall"
WP = make_family("wavepacket")


def _problem() -> SolveProblem:
    return SolveProblem(WP, WP.sample(6, numpy_rng(0, "train")), history_points=10)


def test_a_solver_is_its_loop_and_the_driver_does_the_rest():
    res = solve(HeavyBall({"steps": 20, "momentum": 0.0, "lr": 0.02}), _problem())
    gd = solve(build_solver("gd", {"steps": 20, "lr": 0.02}), _problem())
    for key in ("x", "loss", "evaluations", "loss_history", "history_step", "status", "problem_status"):
        assert np.array_equal(getattr(res, key), getattr(gd, key)), key  # momentum 0 is GD
    assert res.history_step.tolist() == subsample_history(20, 10).tolist() and res.info["settings"] == {"method": "heavy_ball", "lr": 0.02,
                                                                      "momentum": 0.0, "steps": 20}


def test_a_solver_named_by_import_path_composes_by_config():
    block = {"bfgs": {}, "hb": {"method": PATH, "steps": 10}, "hb_ms": {"method": PATH, "steps": 10, "starts": 3},
             "bfgs_hb": {"method": PATH, "steps": 10, "start_from": "bfgs"}}
    r = resolve_solvers("wp", block, WP)
    assert r["hb_ms"].info.label == "Heavy ball multi-start" and r["bfgs_hb"].info.label == "BFGS + Heavy ball"
    assert r["hb"].code[0] == Path(__file__).stem and r["hb"].info.method == PATH
    multi = solve(build_solver("hb_ms", r["hb_ms"].settings), _problem())
    plain = solve(build_solver("hb", r["hb"].settings), _problem())
    assert np.all(multi.loss <= plain.loss) and multi.extras["start_loss"].shape == (6, 3)
    with pytest.raises(ConfigError, match=r"solvers\.hb\.method': cannot import module 'nowhere'"):
        resolve_solvers("wp", {"bfgs": {}, "hb": {"method": "nowhere:HeavyBall"}}, WP)


def test_register_adds_a_plugin_under_its_name_once():
    try:
        register(HeavyBall)
        assert build_solver("heavy_ball", {"steps": 3}).settings.steps == 3
        clash = type("Other", (HeavyBall,), {"name": "heavy_ball"})
        with pytest.raises(ConfigError, match="two solver plug-ins named 'heavy_ball'"):
            register(clash)
        with pytest.raises(RuntimeError, match="two solvers named 'bfgs'"):
            register(type("MyBFGS", (HeavyBall,), {"name": "bfgs"}))
    finally:
        registry._PLUGINS.get("solver", {}).pop("heavy_ball", None)
