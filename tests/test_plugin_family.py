"""Bring your own inverse problem: a family defined here, in the test module, outside the package,
runs through the whole study (data, every solver, aggregate, Table 2, every generic figure) by
naming it in a config by import path. Nothing under src/ or workflow/ is touched."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import yaml

from invnet.figures import figures
from invnet.problems import ProblemFamily, ProblemSet
from invnet.spec import ParamSpec
from invnet.solvers import solvers

from test_family_contract import CHECKS, check_precisions_and_device
from test_workflow import _copy_workflow, _expected_outputs, _snakemake

HERE = Path(__file__).resolve().parent


class NoisyQuadratic(ProblemFamily):
    """y(x) = (x, w·sin(k·x)): a quadratic bowl in x with a wiggle of frequency k in the loss,
    so gradient methods from x0 meet local minima; one unknown x."""

    name = "noisy_quadratic"
    label = "Noisy quadratic"
    param_names = ("x",)
    noise_free = {"noise": 0.0}
    params_spec = {
        "wiggle": ParamSpec(0.5, float, minimum=0.0, doc="amplitude w of the sine component"),
        "frequency": ParamSpec(6.0, float, positive=True, doc="frequency k of the sine component"),
        "noise": ParamSpec(0.05, float, minimum=0.0, doc="std of the Gaussian noise on y*"),
        "prior": ParamSpec([-2.0, 2.0], float, length=2, doc="uniform prior of x"),
        "x0": ParamSpec([0.0], float, length=1, doc="shared initial guess"),
        "bounds": ParamSpec([[-3.0, 3.0]], float, length=1, doc="box for L-BFGS-B and networks"),
    }

    def forward(self, x: torch.Tensor, gamma: torch.Tensor | None = None) -> torch.Tensor:
        p = self.params
        return torch.stack([x[:, 0], p["wiggle"] * torch.sin(p["frequency"] * x[:, 0])], dim=1)

    def loss(self, y: torch.Tensor, y_target: torch.Tensor) -> torch.Tensor:
        return ((y - y_target) ** 2).sum(dim=1)

    def sample(self, n: int, rng: np.random.Generator) -> ProblemSet:
        x = rng.uniform(*self.params["prior"], size=(n, 1))
        y = self.forward(torch.as_tensor(x)).numpy()
        return ProblemSet(y + self.params["noise"] * rng.standard_normal(y.shape), x)


PATH = f"{Path(__file__).stem}:NoisyQuadratic"


@pytest.mark.parametrize("check", sorted(CHECKS))
def test_plugin_family_honours_the_contract(check):
    CHECKS[check](NoisyQuadratic)


def test_plugin_family_precisions():
    check_precisions_and_device(NoisyQuadratic, "cpu")


def test_plugin_forward_against_numpy():
    fam = NoisyQuadratic()
    x = np.linspace(-2, 2, 7)[:, None]
    ref = np.stack([x[:, 0], 0.5 * np.sin(6.0 * x[:, 0])], axis=1)
    np.testing.assert_allclose(fam.forward(torch.as_tensor(x)).numpy(), ref, rtol=0, atol=1e-15)
    assert math.isclose(float(fam.loss(torch.zeros(1, 2), torch.ones(1, 2))), 2.0)


@pytest.mark.slow
def test_plugin_family_runs_the_whole_study(tmp_path):
    work = _copy_workflow(tmp_path / "wf")
    config = yaml.safe_load((work / "config" / "smoke.yaml").read_text())
    every_solver = {name: dict(settings) for name, settings in config["experiments"]["wavepacket"]["solvers"].items()}
    missing = set(solvers()) - set(every_solver)
    every_solver.update({name: {} for name in missing})
    for name in missing:  # keep first-order budgets smoke-sized
        if "steps" in solvers()[name].settings_spec:
            every_solver[name] = {"steps": 50}
    # one n (several n go through the same rules in the smoke DAG test), two seeds for the spread
    config["experiments"] = {
        "quad": {"family": PATH, "label": "Noisy quadratic", "n": [4], "seeds": [0, 1], "n_test": 4, "solvers": every_solver}
    }
    (work / "config" / "plugin.yaml").write_text(yaml.safe_dump(config))

    run = _snakemake(work, "--cores", "2", "--configfile", "config/plugin.yaml", timeout=900, pythonpath=HERE)
    assert run.returncode == 0, run.stderr[-5000:]
    expected = _expected_outputs(config, {})
    assert any(p.startswith("results/figures/quad/") for p in expected)
    missing_files = [p for p in expected if not (work / p).is_file()]
    assert not missing_files, missing_files
    for name, spec in figures().items():  # every generic figure, none of the family-specific ones
        for ext in ("pdf", "png"):
            assert (work / f"results/figures/quad/{name}.{ext}").is_file() == (
                spec.per_experiment and spec.families is None
            ), name
    table = pd.read_csv(work / "results" / "tables" / "table2.csv")
    assert set(table["experiment"]) == {"quad"}
    assert set(table["solver"]) == set(every_solver) - {"bfgs"}
    assert set(table["n"]) == {4}
    assert table["n_seeds"].eq(2).all()
    md = (work / "results" / "tables" / "table2.md").read_text()
    assert "Noisy quadratic" in md  # the experiment's label names it in the tables
