"""The Kuramoto–Sivashinsky family: ETDRK4 against an independent SciPy reference, invariants,
chaos, gradients and the family contract (sampling, batching, dtypes, config errors)."""

import numpy as np
import pytest
import torch
from scipy.integrate import solve_ivp

from invnet.errors import ConfigError
from invnet.problems.base import Objective
from invnet.problems.ks import KuramotoSivashinsky, ks_etdrk4, ks_grid, ks_trajectory
from invnet.seeding import numpy_rng

N, LENGTH = 64, 22.0


def smooth_state(offset: float = 0.0) -> np.ndarray:
    """A fixed smooth initial state resembling a family member (β = (0.6, -0.4), small γ)."""
    c = 2 * np.pi * np.arange(N) / N
    return offset + 0.6 * np.cos(c) - 0.4 * np.sin(2 * c) + 0.1 * np.cos(3 * c + 1.0)


def reference_solution(u0: np.ndarray, t_end: float) -> np.ndarray:
    """Independent NumPy/SciPy solution of the dealiased Fourier-space KS system.

    dv/dt = (k^2 - k^4) v - (ik/2) P rfft(irfft(P v)^2) with P the 2/3 rule (3j < N). Modes
    outside P obey a linear ODE, solved exactly; the retained (mildly stiff) ones by DOP853.
    """
    j = np.arange(N // 2 + 1)
    k = 2 * np.pi / LENGTH * j
    lam = k**2 - k**4
    keep = 3 * j < N

    def rhs(_t: float, w: np.ndarray) -> np.ndarray:
        v = np.zeros(N // 2 + 1, dtype=complex)
        v[keep] = w
        u = np.fft.irfft(v, n=N)
        return (lam * v - 0.5j * k * np.fft.rfft(u * u))[keep]

    v0 = np.fft.rfft(u0)
    sol = solve_ivp(
        rhs, (0.0, t_end), v0[keep].astype(complex), method="DOP853", rtol=1e-13, atol=1e-12
    )
    assert sol.success
    v = v0 * np.exp(lam * t_end)
    v[keep] = sol.y[:, -1]
    return np.fft.irfft(v, n=N)


def etdrk4(u0: np.ndarray, dt: float, t_end: float) -> np.ndarray:
    steps = int(round(t_end / dt))
    return ks_etdrk4(torch.as_tensor(u0)[None], LENGTH, dt, steps)[0].numpy()


def test_etdrk4_converges_to_the_scipy_reference():
    u0 = smooth_state()
    ref = reference_solution(u0, 5.0)
    err = {dt: float(np.abs(etdrk4(u0, dt, 5.0) - ref).max()) for dt in (0.25, 0.125, 0.0625)}
    order = np.log2(err[0.125] / err[0.0625])
    print(f"KS ETDRK4 max error vs solve_ivp at t=5: {err}; observed order {order:.2f}")
    assert err[0.0625] < 1e-6
    assert order >= 2.9
    assert err[0.25] < 1e-3  # the production step size is accurate enough for the loss


def test_spatial_mean_is_conserved():
    u0 = torch.as_tensor(smooth_state(offset=0.3))[None]
    traj = ks_trajectory(u0, LENGTH, 0.25, 400, every=40)
    means = traj.mean(dim=-1)
    assert torch.max(torch.abs(means - u0.mean())) < 1e-12


def test_long_run_is_bounded_and_chaotic():
    """4000 steps to t = 1000: stays on the attractor (bounded, not decaying) and two states 1e-8
    apart decorrelate (sensitive dependence)."""
    u0 = torch.as_tensor(smooth_state())
    nudge = 1e-8 * torch.cos(2 * np.pi * torch.arange(N, dtype=torch.float64) / N)
    u = torch.cat(
        [ks_etdrk4(v[None], LENGTH, 0.25, 4000) for v in (u0, u0 + nudge)]
    )  # batch 1 each
    assert torch.all(torch.isfinite(u))
    assert float(u.abs().max()) < 10.0
    assert float(u[0].std()) > 0.5
    assert float((u[0] - u[1]).abs().max()) > 0.1


def test_trajectory_ends_at_the_final_state():
    u0 = torch.as_tensor(smooth_state())[None]
    traj = ks_trajectory(u0, LENGTH, 0.25, 20, every=5)
    assert traj.shape == (1, 5, N)
    torch.testing.assert_close(traj[:, 0], u0, rtol=0, atol=0)
    torch.testing.assert_close(traj[:, -1], ks_etdrk4(u0, LENGTH, 0.25, 20), rtol=0, atol=1e-14)


@pytest.fixture
def short():
    fam = KuramotoSivashinsky(horizon=5.0)
    pset = fam.sample(6, numpy_rng(1, "test"))
    return fam, pset, Objective.from_set(fam, pset)


def test_gradient_matches_central_finite_differences(short):
    fam, pset, obj = short
    x = torch.as_tensor(np.random.default_rng(2).uniform(-1, 1, (6, 2)))
    _, g = obj.value_and_grad(x)
    h = 1e-6
    for j in range(2):
        e = torch.zeros_like(x)
        e[:, j] = h
        fd = (obj(x + e) - obj(x - e)) / (2 * h)
        rel = (g[:, j] - fd).abs() / fd.abs().clamp_min(1e-12)
        assert float(rel.max()) < 1e-5, (g[:, j], fd)


def test_loss_is_zero_at_the_truth_without_noise(short):
    fam, pset, obj = short
    assert fam.params["noise"] == 0.0
    at_truth = obj(torch.as_tensor(pset.x_true))
    assert float(at_truth.abs().max()) < 1e-28
    off = obj(torch.as_tensor(pset.x_true) + 0.1)
    assert torch.all(off > 0)


def test_noise_sets_the_loss_at_the_truth():
    fam = KuramotoSivashinsky(horizon=2.0, noise=0.05)
    pset = fam.sample(64, numpy_rng(0, "noise"))
    at_truth = Objective.from_set(fam, pset)(torch.as_tensor(pset.x_true)).numpy()
    assert np.all(at_truth >= 0)
    assert abs(at_truth.mean() - 0.05**2) < 0.1 * 0.05**2


def test_batched_forward_equals_row_by_row(short):
    fam, pset, _ = short
    x, gam = torch.as_tensor(pset.x_true) - 0.05, torch.as_tensor(pset.gamma)
    y_all = fam.forward(x, gam)
    for i in range(pset.n):
        torch.testing.assert_close(
            fam.forward(x[i : i + 1], gam[i : i + 1])[0], y_all[i], rtol=0, atol=1e-13
        )


def test_float32_runs_and_is_close_to_float64(short):
    fam, pset, _ = short
    x, gam = torch.as_tensor(pset.x_true), torch.as_tensor(pset.gamma)
    y64 = fam.forward(x, gam)
    x32 = x.float().requires_grad_(True)
    y32 = fam.forward(x32, gam.float())
    assert y32.dtype == torch.float32
    assert float((y32.detach().double() - y64).abs().max()) < 1e-4
    fam.loss(y32, torch.as_tensor(pset.y_target).float()).sum().backward()
    assert (
        x32.grad is not None
        and x32.grad.dtype == torch.float32
        and torch.all(torch.isfinite(x32.grad))
    )


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_forward_follows_the_device(short):
    fam, pset, _ = short
    x, gam = torch.as_tensor(pset.x_true), torch.as_tensor(pset.gamma)
    y = fam.forward(x.cuda(), gam.cuda())
    assert y.device.type == "cuda"
    torch.testing.assert_close(y.cpu(), fam.forward(x, gam), rtol=0, atol=1e-10)


def test_sampling_is_deterministic_per_seed_and_follows_the_prior():
    fam = KuramotoSivashinsky()
    a = fam.sample(5, numpy_rng(5, "x"))
    b = fam.sample(5, numpy_rng(5, "x"))
    c = fam.sample(5, numpy_rng(6, "x"))
    assert a.y_target.shape == (5, N) and a.x_true.shape == (5, 2) and a.gamma.shape == (5, N)
    for field in ("y_target", "x_true", "gamma"):
        assert np.array_equal(getattr(a, field), getattr(b, field))
        assert not np.array_equal(getattr(a, field), getattr(c, field))
    assert np.all(np.abs(a.x_true) <= 1.0)
    # γ: zero-mean, smooth (only wavenumbers 1..3), coefficients bounded by gamma_amplitude
    spec = np.fft.rfft(a.gamma, axis=1) * 2 / N
    assert np.abs(spec[:, 0]).max() < 1e-12 and np.abs(spec[:, 4:]).max() < 1e-12
    assert np.abs(spec.real).max() <= 0.1 + 1e-12 and np.abs(spec.imag).max() <= 0.1 + 1e-12


def test_initial_state_is_the_documented_field():
    fam = KuramotoSivashinsky()
    z = ks_grid(N, LENGTH)
    gam = np.sin(6 * np.pi * z / LENGTH) * 0.05
    u0 = fam.initial_state(
        torch.tensor([[0.3, -0.7]], dtype=torch.float64), torch.as_tensor(gam)[None]
    )[0].numpy()
    expect = 0.3 * np.cos(2 * np.pi * z / LENGTH) - 0.7 * np.sin(4 * np.pi * z / LENGTH) + gam
    np.testing.assert_allclose(u0, expect, atol=1e-15)
    assert fam.name == "ks" and fam.param_names == ("beta1", "beta2") and fam.dim == 2
    np.testing.assert_array_equal(fam.x0, [0.0, 0.0])
    np.testing.assert_array_equal(fam.bounds, [[-1.0, 1.0], [-1.0, 1.0]])


def test_landscape_becomes_rugged_for_long_horizons():
    """Chaos makes L(β1) multimodal: one minimum at T = 5, many at T = 40 (β2 at the truth)."""
    b1 = np.linspace(-1, 1, 401)
    counts = {}
    for horizon in (5.0, 40.0):
        fam = KuramotoSivashinsky(horizon=horizon)
        pset = fam.sample(1, numpy_rng(0, "test"))
        x = torch.as_tensor(np.stack([b1, np.full_like(b1, pset.x_true[0, 1])], axis=1))
        with torch.no_grad():
            y = fam.forward(x, torch.as_tensor(pset.gamma).expand(len(b1), -1))
            loss = fam.loss(y, torch.as_tensor(pset.y_target)).numpy()
        counts[horizon] = int(np.sum((loss[1:-1] < loss[:-2]) & (loss[1:-1] < loss[2:])))
    assert counts[5.0] == 1 and counts[40.0] >= 5, counts


@pytest.mark.parametrize(
    "params, key",
    [
        ({"horizon": 20.1}, "horizon"),
        ({"n_grid": 63}, "n_grid"),
        ({"dt": -0.25}, "dt"),
        ({"noise": -1.0}, "noise"),
        ({"gamma_modes": 30}, "gamma_modes"),
        ({"beta_range": [1.0, -1.0]}, "beta_range"),
        ({"bounds": [[1.0, -1.0], [-1.0, 1.0]]}, r"bounds\[0\]"),
        ({"x0": [0.0]}, "x0"),
        ({"colour": 1}, "colour"),
    ],
)
def test_bad_parameters_name_the_key(params, key):
    with pytest.raises(ConfigError, match=rf"experiments\.ks\.problem\.{key}"):
        KuramotoSivashinsky(**params)


def test_a_problem_does_not_depend_on_its_batch():
    """Bit-identical rows whatever the batch (512 at once, one at a time) with one torch thread
    (the pipeline's `threads: 1`; with more, the batched FFT may round differently): batched BFGS
    must follow a per-problem loop exactly, and chaos amplifies any round-off difference."""
    fam = KuramotoSivashinsky(horizon=5.0)
    pset = fam.sample(512, numpy_rng(0, "batch"))
    x, gam = torch.as_tensor(pset.x_true), torch.as_tensor(pset.gamma)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        together = fam.forward(x, gam)
        alone = torch.cat([fam.forward(x[i : i + 1], gam[i : i + 1]) for i in range(0, 512, 37)])
    finally:
        torch.set_num_threads(threads)
    assert torch.equal(together[::37], alone)
