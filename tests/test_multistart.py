"""bfgs_multistart: K = 1 is bfgs bit for bit; more starts never do worse; every start is a SciPy
BFGS run from that start; starts are seeded draws inside the prior."""

import numpy as np
import pytest
import scipy.optimize
import torch

from invnet.errors import ConfigError
from invnet.problems import Objective, make_family
from invnet.seeding import numpy_rng
from invnet.solvers import Recorder, SolveContext, SolveProblem, build_solver, resolve_block, solve, solvers
from invnet.solvers.multistart import best_of_first, start_points

DATASETS = ("x", "loss", "iterations", "evaluations", "loss_history", "history_step", "status", "problem_status")


def _problem(seed: int = 0, n: int = 10) -> SolveProblem:
    fam = make_family("wavepacket")
    return SolveProblem(fam, fam.sample(n, numpy_rng(seed, "train")), seed=seed)


def _starts(problem: SolveProblem, k: int) -> np.ndarray:
    return start_points(SolveContext(problem, Recorder(problem.history_points)), k).numpy()


def assert_same_bits(a, b) -> None:
    """Every dataset of two results: same dtype, same bytes (the raw SciPy status included)."""
    for key in DATASETS:
        x, y = getattr(a, key), getattr(b, key)
        assert x.dtype == y.dtype and x.shape == y.shape and x.tobytes() == y.tobytes(), key
    if "status" in a.extras:
        assert a.extras["status"].tobytes() == b.extras["status"].tobytes()


@pytest.mark.parametrize("method, settings", [("bfgs", {"maxiter": 200}), ("gd", {"steps": 60, "lr": 0.003})])
def test_one_start_is_the_method_bit_for_bit(method, settings):
    problem = _problem()
    single = solve(build_solver(method, settings), problem)
    if method == "bfgs":
        multi = solve(build_solver("bfgs_multistart", {**settings, "starts": 1, "budget": [1]}), problem)
    else:
        multi = solve(build_solver("m", {"method": method, **settings, "starts": 1}), problem)
    assert_same_bits(single, multi)
    assert multi.extras["best_start"].tolist() == [0] * 10
    np.testing.assert_array_equal(multi.extras["start_loss"][:, 0], single.loss)
    np.testing.assert_array_equal(multi.extras["start_evaluations"][:, 0], single.evaluations)


def test_more_starts_never_do_worse_and_each_start_is_scipy_bfgs():
    problem = _problem()
    res = solve(build_solver("bfgs_multistart", {"starts": 6, "budget": [1, 3, 6]}), problem)
    single = solve(build_solver("bfgs"), problem)
    assert np.all(res.loss <= single.loss)
    assert np.any(res.loss < single.loss * (1 - 1e-3)), "restarts should help on some wave packets"
    # every start's result is what a sequential SciPy BFGS reaches from that start
    obj = Objective.from_set(problem.family, problem.train)
    start_x = _starts(problem, 6)
    for i, k in [(0, 0), (3, 2), (7, 5)]:
        idx = torch.tensor([i])

        def fun(x):
            f, g = obj.value_and_grad(torch.from_numpy(x)[None], idx)
            return f.item(), g[0].numpy()

        ref = scipy.optimize.minimize(fun, start_x[k, i], jac=True, method="BFGS", options={"maxiter": 1000})
        assert abs(res.extras["start_loss"][i, k] - ref.fun) <= 1e-12 * max(1.0, ref.fun)
        np.testing.assert_allclose(res.extras["start_x"][i, k], ref.x, atol=1e-8)
    # the budget curve: best of the first k starts, evaluations of those starts
    prev = np.inf
    for k in (1, 3, 6):
        best, evals = best_of_first(res.extras["start_loss"], res.extras["start_evaluations"], k)
        assert np.all(best <= prev)
        prev = best
    np.testing.assert_array_equal(best, res.loss)
    np.testing.assert_array_equal(evals, res.evaluations)
    np.testing.assert_array_equal(best_of_first(res.extras["start_loss"], res.extras["start_evaluations"], 1)[0],
                                  single.loss)
    # the best start's own datasets: iterations and SciPy status of that start
    best = res.extras["best_start"]
    assert np.array_equal(res.x, res.extras["start_x"][np.arange(10), best])


def test_starts_are_seeded_prior_draws():
    fam = make_family("wavepacket")
    a = _starts(_problem(seed=3), 8)
    b = _starts(_problem(seed=3), 8)
    c = _starts(_problem(seed=4), 8)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a[1:], c[1:])
    np.testing.assert_array_equal(a[0], np.broadcast_to(fam.x0, a[0].shape))  # x0 first
    t0, amp = a[1:, :, 0], a[1:, :, 1]
    p = fam.params
    assert np.all((p["t0_range"][0] <= t0) & (t0 <= p["t0_range"][1]))
    assert np.all((p["amplitude_range"][0] <= amp) & (amp <= p["amplitude_range"][1]))
    assert t0.std() > 0.1  # spread over the prior, not clustered


def test_budget_larger_than_starts_is_refused():
    with pytest.raises(ConfigError, match=r"solvers\.bfgs_multistart\.budget.*<= starts \(5\)"):
        resolve_block("wavepacket", "bfgs_multistart", {"starts": 5, "budget": [1, 10]})
