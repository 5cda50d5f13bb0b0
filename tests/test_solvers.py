"""Solvers against independent references and defining properties (start at x0, independence)."""

import numpy as np
import pytest
import torch

from invnet.problems import make_family
from invnet.seeding import numpy_rng, torch_generator
from invnet.solvers import SolveProblem, build_solver, get_solver, resolve_block, solve, solvers
from invnet.solvers.network_training import _voting_hook
from invnet.solvers.networks import ParameterNet

from references import numpy_loss_and_grad


def _problem(n=12, seed=0, test=True) -> SolveProblem:
    """A wave-packet problem set (and test set) as the solve job builds it."""
    fam = make_family("wavepacket")
    train = fam.sample(n, numpy_rng(seed, "train"))
    test_set = fam.sample(5, numpy_rng(seed, "test")) if test else None
    return SolveProblem(fam, train, test=test_set, seed=seed)


def _solve(solver, n=12, seed=0, **settings):
    problem = _problem(n, seed)
    return problem, solve(build_solver(solver, settings), problem)


def test_gd_equals_a_numpy_gradient_descent_loop():
    problem, res = _solve("gd", lr=0.02, steps=40)
    fam = problem.family
    x = np.broadcast_to(fam.x0, (12, 2)).copy()
    t = np.linspace(0, 1, 256)
    for _ in range(40):
        _, g = numpy_loss_and_grad(x, problem.train.y_target, t, 0.1, 10.0)
        x = x - 0.02 * g
    np.testing.assert_allclose(res.x, x, rtol=1e-10, atol=1e-12)
    f_ref, _ = numpy_loss_and_grad(x, problem.train.y_target, t, 0.1, 10.0)
    np.testing.assert_allclose(res.loss, f_ref, rtol=1e-10)
    assert np.all(res.evaluations == 41) and res.history_step[-1] == 40


def test_per_problem_solvers_treat_problems_independently():
    """Solving a subset gives the same answers as solving the whole set (no coupling)."""
    for name in ("gd", "adam"):
        problem = _problem()
        solver = build_solver(name, {"steps": 25})
        full = solve(solver, problem)
        sub = SolveProblem(problem.family, type(problem.train)(problem.train.y_target[3:6], problem.train.x_true[3:6]))
        part = solve(solver, sub)
        np.testing.assert_allclose(part.x, full.x[3:6], rtol=1e-12, atol=1e-14)


def test_network_predicts_x0_at_initialisation():
    fam = make_family("wavepacket")
    feats = torch.randn(20, 256, dtype=torch.float64)
    net = ParameterNet(feats, fam.x0, fam.bounds, [32, 32], "relu", torch_generator(0, "net"))
    out = net(feats).detach().numpy()
    np.testing.assert_allclose(out, np.broadcast_to(fam.x0, (20, 2)), atol=1e-15)


def test_jpo_starts_at_the_classical_starting_loss():
    _, res = _solve("jpo", steps=5, hidden=[16])
    _, gd = _solve("gd", steps=1, lr=1e-12)
    assert res.history_step[0] == 0
    assert res.loss_history[0] == pytest.approx(gd.loss_history[0], rel=1e-12)
    assert res.extras["test_x"].shape == (5, 2)


def test_jpo_and_supervised_reduce_their_losses():
    _, jpo = _solve("jpo", n=32, steps=300, lr=3e-3)
    assert jpo.loss_history[-1] < 0.8 * jpo.loss_history[0]
    problem, sup = _solve("supervised", n=32, steps=300, lr=3e-3)
    x_err = np.abs(sup.x - problem.train.x_true).mean()
    x0_err = np.abs(problem.family.x0 - problem.train.x_true).mean()
    assert x_err < 0.5 * x0_err
    assert np.all(sup.evaluations == 1)  # supervised never trains through F


@pytest.mark.parametrize("mode", ["sign", "clip"])
def test_voting_hook_transforms_each_problems_gradient(mode):
    n = 4
    g = torch.tensor([[3.0, -0.5], [0.0, 2.0], [-0.1, 0.1], [5.0, 5.0]], dtype=torch.float64)
    out = _voting_hook(mode, 1.0, n)(g / n) * n
    if mode == "sign":
        assert torch.equal(out, torch.sign(g))
    else:
        norms = out.norm(dim=1)
        assert torch.all(norms <= 1.0 + 1e-12)
        assert torch.allclose(out[2], g[2])  # below the cap: unchanged
        assert torch.allclose(out[0] / out[0].norm(), g[0] / g[0].norm())  # direction kept


def test_unknown_solver_and_bad_settings_name_the_key():
    from invnet.errors import ConfigError

    with pytest.raises(ConfigError, match="unknown solver 'newton'.*allowed: adam, bfgs"):
        get_solver("newton")
    with pytest.raises(ConfigError, match=r"solvers\.jpo\.activation.*allowed: relu"):
        resolve_block("wavepacket", "jpo", {"activation": "swish"})
    with pytest.raises(ConfigError, match=r"solvers\.gd\.steps.*must be > 0"):
        resolve_block("wavepacket", "gd", {"steps": -3})
    with pytest.raises(ConfigError, match=r"solvers\.gd\.momentum.*unknown key; allowed: label, lr, method, steps"):
        resolve_block("wavepacket", "gd", {"momentum": 0.9})
