"""Batched SciPy optimisers vs independent references: sequential ``scipy.optimize.minimize``
loops that see each problem alone, through the same objective with idx of length 1."""

from __future__ import annotations

from collections import Counter
from fractions import Fraction
from typing import Callable

import numpy as np
import pytest
import scipy.optimize
import torch

import invnet.solvers.batched_bfgs as bb
from invnet.problems import Objective, make_family
from invnet.solvers.batched_bfgs import bfgs_batched
from invnet.solvers.batched_lbfgsb import lbfgsb_batched

Batched = Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]


def autograd(loss: Callable[[torch.Tensor], torch.Tensor]) -> Batched:
    """Batched value-and-gradient of a row-wise loss (m, d) -> (m,)."""

    def fun_and_grad(x: torch.Tensor, idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        with torch.enable_grad():
            xr = x.detach().clone().requires_grad_(True)
            f = loss(xr)
            (g,) = torch.autograd.grad(f.sum(), xr)
        return f.detach(), g.detach()

    return fun_and_grad


def scipy_loop(
    fun_and_grad: Batched, x0: torch.Tensor, method: str = "BFGS", **kwargs
) -> dict[str, np.ndarray]:
    """The reference: one ``scipy.optimize.minimize`` per problem, single-problem evaluations."""
    out: dict[str, list] = {k: [] for k in ("x", "fun", "nit", "nfev", "status")}
    for i in range(x0.shape[0]):
        idx = torch.tensor([i])

        def fun(x: np.ndarray) -> tuple[float, np.ndarray]:
            f, g = fun_and_grad(torch.from_numpy(x)[None], idx)
            return f.item(), g[0].numpy()

        res = scipy.optimize.minimize(fun, x0[i].numpy(), jac=True, method=method, **kwargs)
        for k in out:
            out[k].append(res[k])
    return {k: np.array(v) for k, v in out.items()}


def assert_matches(res: bb.BatchedResult, ref: dict[str, np.ndarray], flips: int = 0) -> None:
    """Solutions within 1e-8 of SciPy's, values close, nit/nfev/status equal (up to ``flips``)."""
    dx = np.abs(res.x.numpy() - ref["x"]).max(axis=1)
    assert dx.max() <= 1e-8, f"max |dx| = {dx.max():.3g} at problem {dx.argmax()}"
    np.testing.assert_allclose(res.fun.numpy(), ref["fun"], rtol=1e-10, atol=1e-14)
    for key in ("nit", "nfev", "status"):
        differ = int((getattr(res, key).numpy() != ref[key]).sum())
        assert differ <= flips, f"{key} differs for {differ} problems"


def test_wavepacket_matches_scipy_bfgs() -> None:
    fam = make_family("wavepacket")
    n = 64
    obj = Objective.from_set(fam, fam.sample(n, np.random.default_rng(0)))
    x0 = torch.tensor(np.tile(fam.x0, (n, 1)))
    seen: Counter[int] = Counter()
    calls: list[int] = []

    def counted(x: torch.Tensor, idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        seen.update(idx.tolist())
        calls.append(len(idx))
        return obj.value_and_grad(x, idx)

    history: list[tuple[int, torch.Tensor]] = []
    res = bfgs_batched(counted, x0, callback=lambda k, f: history.append((k, f)))
    ref = scipy_loop(obj.value_and_grad, x0)
    assert_matches(res, ref, flips=1)  # one chaotic flip tolerated for other BLAS; none seen here
    # one batched call per round, only for problems still searching
    assert res.rounds == len(calls) == int(res.nfev.max())
    assert [seen[i] for i in range(n)] == res.nfev.tolist()
    assert calls[0] == n and calls == sorted(calls, reverse=True)
    assert [k for k, _ in history] == list(range(res.rounds))
    assert torch.equal(history[0][1], obj.value_and_grad(x0, torch.arange(n))[0])  # round 0: at x0
    assert torch.equal(history[-1][1], res.fun) and history[0][1].shape == (n,)


def test_rosenbrock_many_iterations() -> None:
    def rosen(x: torch.Tensor) -> torch.Tensor:
        return (100.0 * (x[:, 1:] - x[:, :-1] ** 2) ** 2 + (1 - x[:, :-1]) ** 2).sum(dim=1)

    fg = autograd(rosen)
    x0 = torch.randn(24, 4, generator=torch.Generator().manual_seed(0), dtype=torch.float64) * 1.5
    res = bfgs_batched(fg, x0)
    ref = scipy_loop(fg, x0)
    assert ref["nit"].max() > 40  # many Hessian updates
    assert_matches(res, ref, flips=1)
    # maxiter stops some problems with status 1, as in SciPy
    res = bfgs_batched(fg, x0, maxiter=7)
    ref = scipy_loop(fg, x0, options={"maxiter": 7})
    assert (ref["status"] == 1).any()
    assert_matches(res, ref)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_line_search_fallback_and_failure(monkeypatch: pytest.MonkeyPatch) -> None:
    """Kinked and unbounded losses: DCSRCH fails, SciPy's wolfe2 takes over (successfully, without
    a final gradient, or not at all -> status 2), all as in SciPy."""
    outcomes: Counter[str] = Counter()
    wolfe2 = scipy.optimize._linesearch.line_search_wolfe2  # the solver imports it when it falls back

    def spy(*args, **kwargs):
        out = wolfe2(*args, **kwargs)
        outcomes["fail" if out[0] is None else ("no_grad" if out[5] is None else "ok")] += 1
        return out

    monkeypatch.setattr(scipy.optimize._linesearch, "line_search_wolfe2", spy)
    gen = torch.Generator().manual_seed(0)
    losses = {
        "kink": lambda x: (x.abs() + 1e-3).sqrt().sum(dim=1),
        "cubic": lambda x: (x**3).sum(dim=1) + (x**2).sum(dim=1),
    }
    statuses = []
    for name, loss in losses.items():
        fg = autograd(loss)
        x0 = torch.rand(16, 2, generator=gen, dtype=torch.float64) * 3 + 0.1
        res = bfgs_batched(fg, x0)
        ref = scipy_loop(fg, x0)
        assert_matches(res, ref)
        statuses += res.status.tolist()
    assert outcomes["ok"] and outcomes["no_grad"] and outcomes["fail"], outcomes
    assert {0, 2} <= set(statuses)


def test_zero_gradient_and_nan() -> None:
    x0 = torch.randn(5, 3, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    flat = autograd(lambda x: 0.0 * x.sum(dim=1) + 2.0)
    res = bfgs_batched(flat, x0)
    assert res.rounds == 1 and torch.equal(res.x, x0)
    assert res.nit.tolist() == [0] * 5 and res.status.tolist() == [0] * 5 and res.nfev.tolist() == [1] * 5
    assert_matches(res, scipy_loop(flat, x0))
    nan = autograd(lambda x: torch.sqrt(x).sum(dim=1))  # NaN at negative starts -> status 3
    x0 = x0.abs() * torch.tensor([[1.0], [-1.0], [1.0], [-1.0], [1.0]], dtype=torch.float64)
    res = bfgs_batched(nan, x0)
    ref = scipy_loop(nan, x0)
    assert res.status.tolist() == ref["status"].tolist() and 3 in ref["status"]
    assert torch.equal(res.nit, torch.as_tensor(ref["nit"]))


@pytest.fixture
def one_torch_thread():
    """L-BFGS-B's BLAS threads and torch's OpenMP threads spin against each other on small
    machines (10-50x slower here); one torch thread keeps the test fast."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_lbfgsb_matches_scipy(one_torch_thread: None) -> None:
    fam = make_family("wavepacket")
    n = 32
    obj = Objective.from_set(fam, fam.sample(n, np.random.default_rng(1)))
    x0 = torch.tensor(np.tile(fam.x0, (n, 1)))
    bounds = np.array([[0.0, 1.0], [0.0, 2.0]])
    history: list[tuple[int, torch.Tensor]] = []
    res = lbfgsb_batched(obj.value_and_grad, x0, bounds, callback=lambda k, f: history.append((k, f)))
    ref = scipy_loop(obj.value_and_grad, x0, method="L-BFGS-B", bounds=bounds)
    assert_matches(res, ref)
    assert [k for k, _ in history] == list(range(res.rounds))
    assert torch.equal(history[0][1], obj.value_and_grad(x0, torch.arange(n))[0])  # round 0: at x0
    assert torch.equal(history[-1][1], res.fun) and res.rounds == int(res.nfev.max())


def test_exact_arithmetic_building_blocks() -> None:
    """Emulated FMA and sqrt are correctly rounded; dot/matvec/matmul reproduce NumPy's BLAS
    (where NumPy uses the OpenBLAS x86-64 kernels they were modelled on; skipped elsewhere)."""
    rng = np.random.default_rng(0)
    a, b, c = (rng.standard_normal(2000) * 10.0 ** rng.integers(-8, 8, 2000) for _ in range(3))
    exact = [float(Fraction(x) * Fraction(y) + Fraction(z)) for x, y, z in zip(a, b, c)]
    assert bb._fma(*map(torch.from_numpy, (a, b, c))).tolist() == exact
    s = np.abs(a)
    assert bb._sqrt(torch.from_numpy(s)).tolist() == np.sqrt(s).tolist()
    for d in range(2, 11):
        h, m = rng.standard_normal((50, d, d)), rng.standard_normal((50, d, d))
        g, p = rng.standard_normal((50, d)), rng.standard_normal((50, d))
        ours = [bb._dot(*map(torch.from_numpy, (g, p))), bb._matvec(*map(torch.from_numpy, (h, g)))]
        ours.append(bb._matmul(*map(torch.from_numpy, (h, m))))
        theirs = [[np.dot(g[i], p[i]) for i in range(50)], [np.dot(h[i], g[i]) for i in range(50)]]
        theirs.append([np.dot(h[i], m[i]) for i in range(50)])
        # rounding bound of a length-d sum of products: d * eps * sum |a_k b_k|
        scale = [np.abs(g * p).sum(axis=1), np.einsum("nij,nj->ni", np.abs(h), np.abs(g)),
                 np.abs(h) @ np.abs(m)]
        for o, t, sc in zip(ours, theirs, scale):
            if not np.array_equal(o.numpy(), np.array(t)):
                assert np.all(np.abs(o.numpy() - np.array(t)) <= d * 2.0**-52 * sc)
                pytest.skip(f"NumPy's BLAS sums in another order here (d={d}); results agree to rounding")
