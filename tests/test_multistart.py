"""bfgs_multistart: K = 1 is bfgs bit for bit; more starts never do worse; every start is a SciPy
BFGS run from that start; starts are seeded draws inside the prior."""

import numpy as np
import pytest
import scipy.optimize
import torch

from invnet.errors import ConfigError
from invnet.problems import Objective, make_family
from invnet.seeding import numpy_rng
from invnet.solvers import SolveContext, get_solver, solvers
from invnet.solvers.multistart import BFGSMultistart, best_of_first


def _ctx(solver: str, seed: int = 0, n: int = 10, **settings) -> SolveContext:
    fam = make_family("wavepacket")
    train = fam.sample(n, numpy_rng(seed, "train"))
    return SolveContext(fam, train, solvers()[solver].resolve_settings("wavepacket", settings), seed)


def test_one_start_is_bfgs_bit_for_bit():
    single = get_solver("bfgs").solve(_ctx("bfgs", maxiter=200))
    multi = get_solver("bfgs_multistart").solve(_ctx("bfgs_multistart", maxiter=200, starts=1, budget=[1]))
    for key in ("x", "loss", "iterations", "evaluations", "loss_history", "history_step"):
        a, b = getattr(single, key), getattr(multi, key)
        assert a.dtype == b.dtype and a.tobytes() == b.tobytes(), key
    assert single.extras["status"].tobytes() == multi.extras["status"].tobytes()


def test_more_starts_never_do_worse_and_each_start_is_scipy_bfgs():
    ctx = _ctx("bfgs_multistart", starts=6, budget=[1, 3, 6])
    res = get_solver("bfgs_multistart").solve(ctx)
    single = get_solver("bfgs").solve(_ctx("bfgs"))
    assert np.all(res.loss <= single.loss)
    assert np.any(res.loss < single.loss * (1 - 1e-3)), "restarts should help on some wave packets"
    # every start's result is what a sequential SciPy BFGS reaches from that start
    obj = Objective.from_set(ctx.family, ctx.train)
    start_x = BFGSMultistart.start_points(ctx, 6).numpy()
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


def test_starts_are_seeded_prior_draws():
    fam = make_family("wavepacket")
    a = BFGSMultistart.start_points(_ctx("bfgs_multistart", seed=3), 8).numpy()
    b = BFGSMultistart.start_points(_ctx("bfgs_multistart", seed=3), 8).numpy()
    c = BFGSMultistart.start_points(_ctx("bfgs_multistart", seed=4), 8).numpy()
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
        solvers()["bfgs_multistart"].resolve_settings("wavepacket", {"starts": 5, "budget": [1, 10]})
