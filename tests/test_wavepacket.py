"""The wave-packet problem against an independent NumPy implementation and finite differences."""

import numpy as np
import pytest
import torch

from invnet.errors import ConfigError
from invnet.problems import Objective, make_family
from invnet.seeding import numpy_rng
from references import numpy_loss_and_grad


@pytest.fixture
def problem():
    fam = make_family("wavepacket")
    pset = fam.sample(32, numpy_rng(3, "test"))
    return fam, pset, Objective.from_set(fam, pset)


def test_sampling_follows_the_prior_and_noise_level(problem):
    fam, pset, obj = problem
    assert pset.y_target.shape == (32, 256) and pset.x_true.shape == (32, 2)
    assert np.all((pset.x_true[:, 0] >= 0.15) & (pset.x_true[:, 0] <= 0.85))
    assert np.all((pset.x_true[:, 1] >= 0.5) & (pset.x_true[:, 1] <= 1.5))
    # the residual at the truth is the noise: its variance estimates 0.1^2
    at_truth = obj(torch.as_tensor(pset.x_true)).numpy()
    assert abs(at_truth.mean() - 0.01) < 0.001


def test_loss_and_gradient_match_independent_numpy(problem):
    fam, pset, obj = problem
    rng = np.random.default_rng(0)
    x = np.stack([rng.uniform(0.1, 0.9, 32), rng.uniform(0.3, 1.7, 32)], axis=1)
    f, g = obj.value_and_grad(torch.as_tensor(x))
    f_ref, g_ref = numpy_loss_and_grad(x, pset.y_target, np.linspace(0, 1, 256), 0.1, 10.0)
    np.testing.assert_allclose(f.numpy(), f_ref, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(g.numpy(), g_ref, rtol=1e-10, atol=1e-12)


def test_gradient_matches_central_finite_differences(problem):
    fam, pset, obj = problem
    rng = np.random.default_rng(1)
    x = torch.as_tensor(np.stack([rng.uniform(0.1, 0.9, 32), rng.uniform(0.3, 1.7, 32)], axis=1))
    _, g = obj.value_and_grad(x)
    h = 1e-6
    for j in range(2):
        e = torch.zeros_like(x)
        e[:, j] = h
        fd = (obj(x + e) - obj(x - e)) / (2 * h)
        np.testing.assert_allclose(g[:, j].numpy(), fd.numpy(), rtol=1e-6, atol=1e-8)


def test_batched_evaluation_equals_one_problem_at_a_time(problem):
    fam, pset, obj = problem
    x = torch.as_tensor(pset.x_true) + 0.05
    f_all, g_all = obj.value_and_grad(x)
    for i in (0, 7, 31):
        f_i, g_i = obj.value_and_grad(x[i : i + 1], torch.tensor([i]))
        assert float(f_i[0]) == pytest.approx(float(f_all[i]), rel=1e-14)
        np.testing.assert_allclose(g_i[0].numpy(), g_all[i].numpy(), rtol=1e-12)


def test_landscape_is_flat_far_from_the_packet():
    """Zero-gradient regions (docs/experiments.md §4.1): packets that do not overlap give dL/dt0 ~ 0
    (Gaussian overlap exp(-Δ²/4σ²): ~1e-4 of the near-target slope at Δ = 0.6)."""
    fam = make_family("wavepacket", {"noise": 0.0})
    y = fam.forward(torch.tensor([[0.2, 1.0]], dtype=torch.float64))
    obj = Objective(fam, y)
    _, g = obj.value_and_grad(torch.tensor([[0.8, 1.0], [0.22, 1.0]], dtype=torch.float64))
    assert abs(float(g[0, 0])) < 1e-3 * abs(float(g[1, 0]))


def test_sampling_is_deterministic_per_seed():
    fam = make_family("wavepacket")
    a = fam.sample(8, numpy_rng(5, "x"))
    b = fam.sample(8, numpy_rng(5, "x"))
    c = fam.sample(8, numpy_rng(6, "x"))
    assert np.array_equal(a.y_target, b.y_target) and np.array_equal(a.x_true, b.x_true)
    assert not np.array_equal(a.x_true, c.x_true)


@pytest.mark.parametrize(
    "params, key",
    [
        ({"sigma": -0.1}, "sigma"),
        ({"sigma": "wide"}, "sigma"),
        ({"t0_range": [0.9, 0.1]}, "t0_range"),
        ({"x0": [0.5]}, "x0"),
        ({"colour": 1}, "colour"),
    ],
)
def test_bad_physical_parameters_name_the_key(params, key):
    with pytest.raises(ConfigError, match=rf"experiments\.wavepacket\.problem\.{key}"):
        make_family("wavepacket", params)
