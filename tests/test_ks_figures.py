"""Helpers of the KS figures (Figure 5 and the roughness appendix figure): minimum counting
against SciPy's argrelextrema, the landscape against a point-by-point loss, horizon overrides,
the example problem."""

import numpy as np
import pytest
import torch
from scipy.signal import argrelextrema

from invnet.figures.example_problem import select_example
from invnet.figures.landscape import count_local_minima, horizons_with, landscape_along, with_horizon
from invnet.problems.ks import KuramotoSivashinsky
from invnet.seeding import numpy_rng
from invnet.solvers import solver_set

SOLVERS = solver_set(["bfgs", "gd", "jpo"])


@pytest.mark.parametrize("k", [1, 3, 10])
def test_minimum_count_matches_scipy_and_the_analytic_count(k):
    x = np.linspace(0.0, 2 * np.pi, 801)
    rng = np.random.default_rng(k)
    curves = np.stack([np.cos(k * x + 0.3), np.cos(k * x + 0.3) + 0.3 * np.sin(7.3 * x) + rng.normal(0, 1e-3, x.size)])
    counts = count_local_minima(curves)
    for curve, count in zip(curves, counts):
        assert count == len(argrelextrema(curve, np.less)[0])
    # cos(kx + 0.3) on [0, 2π]: minima at x = (π(2j+1) - 0.3)/k, all interior
    assert counts[0] == k


def test_minimum_count_ignores_end_points_and_plateaus():
    assert count_local_minima(np.array([0.0, 1.0, 2.0, 3.0])) == 0  # monotone: minimum at the end
    assert count_local_minima(np.array([1.0, 0.0, 0.0, 1.0])) == 0  # flat bottom: not strict
    assert count_local_minima(np.array([1.0, 0.0, 1.0, 0.5, 2.0])) == 2


def test_landscape_equals_the_point_by_point_loss():
    fam = KuramotoSivashinsky(horizon=5.0)
    pset = fam.sample(2, numpy_rng(3, "test"))
    beta1 = np.linspace(-1.0, 1.0, 11)
    got = landscape_along(fam, pset.x_true, pset.gamma, pset.y_target, beta1)
    assert got.shape == (2, 11)
    for i in range(2):
        for j in (0, 4, 10):
            x = torch.tensor([[beta1[j], pset.x_true[i, 1]]], dtype=torch.float64)
            y = fam.forward(x, torch.as_tensor(pset.gamma[i : i + 1]))
            ref = float(((y - torch.as_tensor(pset.y_target[i])) ** 2).mean())
            assert got[i, j] == pytest.approx(ref, rel=1e-12, abs=1e-300)


def test_landscape_without_target_vanishes_at_the_truth_and_follows_the_horizon():
    fam = KuramotoSivashinsky(horizon=20.0)
    pset = fam.sample(1, numpy_rng(4, "test"))
    x_true = pset.x_true.copy()
    x_true[0, 0] = 0.25  # on the grid below
    beta1 = np.linspace(-1.0, 1.0, 9)
    short = with_horizon(fam.describe(), 5.0)
    assert short.params["horizon"] == 5.0 and short.steps == 20
    assert {k: v for k, v in short.params.items() if k != "horizon"} == {
        k: v for k, v in fam.params.items() if k != "horizon"
    }
    loss = landscape_along(short, x_true, pset.gamma, None, beta1)[0]
    assert loss[5] < 1e-28 and np.all(np.delete(loss, 5) > 1e-6)  # round-off of the batch only


def test_horizons_and_example_selection():
    assert horizons_with(20.0) == [5.0, 10.0, 20.0, 40.0]
    assert horizons_with(30.0, (5.0, 40.0)) == [5.0, 30.0, 40.0]
    losses = {"bfgs": np.array([1.0, np.nan, 4.0, 2.0]), "jpo": np.array([1.0, 0.1, 1.0, 0.5])}
    assert select_example(losses, SOLVERS) == (2, "largest finite L_BFGS / L_JPO")  # NaN is skipped
    assert select_example({"bfgs": np.ones(3)}, SOLVERS)[0] == 0
    assert select_example(losses, solver_set(["bfgs", "gd"]))[0] == 0  # no primary method configured
