"""The fluid family: the pseudo-spectral RK4 solver against independent references (analytic
Taylor–Green decay, a NumPy/SciPy DOP853 integration of the same dealiased Fourier system), its
order, invariants and gradients, the vortex parameterisation and the swap symmetry."""

import math

import numpy as np
import pytest
import torch
from scipy.integrate import solve_ivp

from invnet.errors import ConfigError
from invnet.problems.base import Objective
from invnet.problems.fluid import Fluid, fluid_grid, fluid_rk4, order_vortices, swap_vortices, velocity
from invnet.seeding import numpy_rng

L = 2 * math.pi


def grid(n):
    z = fluid_grid(n, L)
    return np.meshgrid(z, z, indexing="ij")  # X[i, j] = x_i, Y[i, j] = y_j


def smooth_fields(n):
    """A fixed vorticity and marker made of a few low modes (all retained by the 2/3 rule at 16²)."""
    X, Y = grid(n)
    w = 1.2 * np.sin(X) * np.cos(2 * Y) + 0.8 * np.cos(X + Y + 0.3) - 0.6 * np.sin(3 * Y - 1.0)
    c = 1.0 + 0.5 * np.cos(X - 0.4) + 0.3 * np.sin(2 * X + Y) + 0.2 * np.cos(3 * Y)
    return w, c


# ----------------------------------------------------------------------------- references


def numpy_reference(w0, c0, t_end, nu, kappa):
    """The dealiased Fourier system in NumPy (full complex fft2, advective form u·∇ for ω,
    conservative ∇·(u c) for the marker), integrated by DOP853 at rtol 1e-13."""
    n = w0.shape[0]
    j = np.fft.fftfreq(n, 1.0 / n)
    kx, ky = np.meshgrid(2 * np.pi / L * j, 2 * np.pi / L * j, indexing="ij")
    k2 = kx**2 + ky**2
    keep = (3 * np.abs(j)[:, None] < n) & (3 * np.abs(j)[None, :] < n)
    ik2 = np.zeros_like(k2)
    ik2[k2 > 0] = 1.0 / k2[k2 > 0]
    m = int(keep.sum())

    def unpack(s):
        wh = np.zeros((n, n), complex)
        ch = np.zeros((n, n), complex)
        wh[keep], ch[keep] = s[:m], s[m:]
        return wh, ch

    def rhs(_t, s):
        wh, ch = unpack(s)
        psi = wh * ik2
        u = np.fft.ifft2(1j * ky * psi).real
        v = np.fft.ifft2(-1j * kx * psi).real
        wx = np.fft.ifft2(1j * kx * wh).real
        wy = np.fft.ifft2(1j * ky * wh).real
        c = np.fft.ifft2(ch).real
        dw = -np.fft.fft2(u * wx + v * wy) - nu * k2 * wh
        dc = -(1j * kx * np.fft.fft2(u * c) + 1j * ky * np.fft.fft2(v * c)) - kappa * k2 * ch
        return np.concatenate([dw[keep], dc[keep]])

    s0 = np.concatenate([np.fft.fft2(w0)[keep], np.fft.fft2(c0)[keep]])
    sol = solve_ivp(rhs, (0.0, t_end), s0, method="DOP853", rtol=1e-13, atol=1e-13)
    assert sol.success
    wh, ch = unpack(sol.y[:, -1])
    return np.fft.ifft2(wh).real, np.fft.ifft2(ch).real


def run(w0, c0, dt, t_end, nu, kappa, every=None):
    steps = int(round(t_end / dt))
    w, c = fluid_rk4(torch.as_tensor(w0)[None], torch.as_tensor(c0)[None], L, dt, steps, nu, kappa, every=every)
    return w[0].numpy(), c[0].numpy()


@pytest.fixture(scope="module")
def reference():
    w0, c0 = smooth_fields(16)
    return w0, c0, numpy_reference(w0, c0, 1.0, 0.01, 0.02)


# ----------------------------------------------------------------------------- solver


def test_taylor_green_mode_decays_exactly():
    """ω = 2k² sin(kx) sin(ky)/... : u·∇ω ≡ 0, so ω(t) = ω0 exp(-2νk²t) (exact)."""
    n, k, nu, t_end = 16, 2, 0.05, 1.0
    X, Y = grid(n)
    w0 = np.sin(k * X) * np.sin(k * Y)
    w, _ = run(w0, np.zeros_like(w0), 0.01, t_end, nu, 0.0)
    exact = w0 * np.exp(-2 * nu * k**2 * t_end)
    rel = np.abs(w - exact).max() / np.abs(exact).max()
    print(f"Taylor-Green relative error at T={t_end}: {rel:.2e}")
    assert rel < 1e-10
    # and the nonlinear term vanishes: without viscosity the mode does not change at all
    w_inviscid, _ = run(w0, np.zeros_like(w0), 0.01, t_end, 0.0, 0.0)
    assert np.abs(w_inviscid - w0).max() < 1e-13


def test_rk4_equals_the_scipy_reference(reference):
    w0, c0, (w_ref, c_ref) = reference
    w, c = run(w0, c0, 0.005, 1.0, 0.01, 0.02)
    err = max(np.abs(w - w_ref).max(), np.abs(c - c_ref).max())
    print(f"fluid RK4 (dt=0.005) against DOP853 at T=1 on 16²: max error {err:.2e}")
    assert err < 1e-8


def test_observed_order_is_four(reference):
    w0, c0, (w_ref, c_ref) = reference
    err = {}
    for dt in (0.1, 0.05, 0.025):
        w, c = run(w0, c0, dt, 1.0, 0.01, 0.02)
        err[dt] = max(np.abs(w - w_ref).max(), np.abs(c - c_ref).max())
    orders = [np.log2(err[0.1] / err[0.05]), np.log2(err[0.05] / err[0.025])]
    print(f"errors {err}; observed orders {orders}")
    assert min(orders) >= 3.8


def invariants(w, n):
    """Energy ½⟨|u|²⟩ and enstrophy ½⟨ω²⟩ (grid means), the velocity from NumPy FFTs."""
    j = np.fft.fftfreq(n, 1.0 / n)
    kx, ky = np.meshgrid(j, j, indexing="ij")
    k2 = kx**2 + ky**2
    k2[0, 0] = 1.0
    psi = np.fft.fft2(w) / k2
    psi[0, 0] = 0.0
    u = np.fft.ifft2(1j * ky * psi).real
    v = np.fft.ifft2(-1j * kx * psi).real
    return 0.5 * np.mean(u**2 + v**2), 0.5 * np.mean(w**2)


def test_inviscid_flow_conserves_energy_and_enstrophy():
    fam = Fluid(viscosity=0.0, diffusivity=0.0, n_grid=32, horizon=2.0, dt=0.1)
    pset = fam.sample(4, numpy_rng(3, "invariants"))
    x = torch.as_tensor(pset.x_true)
    with torch.no_grad():
        w, _ = fam.simulate(x, torch.as_tensor(pset.gamma), every=fam.steps)
    drift = {}
    for name, (a, b) in {"energy": (0, 0), "enstrophy": (1, 1)}.items():
        d = [abs(invariants(w[i, -1].numpy(), 32)[a] / invariants(w[i, 0].numpy(), 32)[b] - 1) for i in range(4)]
        drift[name] = max(d)
    print(f"relative drift over T=2 with dt=0.1 (production), nu=0: {drift}")
    assert drift["energy"] < 1e-6 and drift["enstrophy"] < 1e-5
    # the drift is time-stepping error: it shrinks (by ~2^4 or more) when dt is halved
    fine = Fluid(viscosity=0.0, diffusivity=0.0, n_grid=32, horizon=2.0, dt=0.05)
    with torch.no_grad():
        wf, _ = fine.simulate(x, torch.as_tensor(pset.gamma), every=fine.steps)
    fine_drift = max(abs(invariants(wf[i, -1].numpy(), 32)[1] / invariants(wf[i, 0].numpy(), 32)[1] - 1) for i in range(4))
    assert fine_drift < drift["enstrophy"] / 8


def test_velocity_is_divergence_free_and_marker_mass_is_conserved():
    fam = Fluid(n_grid=32)
    pset = fam.sample(4, numpy_rng(4, "mass"))
    with torch.no_grad():
        w, c = fam.simulate(torch.as_tensor(pset.x_true), torch.as_tensor(pset.gamma), every=5)
    u, v = (a.numpy() for a in velocity(w))
    n = 32
    j = np.fft.fftfreq(n, 1.0 / n)
    kx, ky = np.meshgrid(j, j, indexing="ij")
    div = np.fft.ifft2(1j * kx * np.fft.fft2(u) + 1j * ky * np.fft.fft2(v)).real
    scale = np.abs(np.fft.ifft2(1j * kx * np.fft.fft2(u)).real).max()
    print(f"max |div u| / max |du/dx| = {np.abs(div).max() / scale:.2e}")
    assert np.abs(div).max() < 1e-13 * scale
    mass = c.numpy().sum(axis=(-2, -1))  # (problems, times)
    rel = np.abs(mass / mass[:, :1] - 1).max()
    print(f"marker mass: max relative change {rel:.2e}")
    assert rel < 1e-13


# ----------------------------------------------------------------------------- family


def test_initial_vorticity_is_the_periodised_gaussians():
    """ω0 = Σ_v Γ_v G_σ(x - p_v) summed over periodic images, minus its mean (NumPy, 64² grid)."""
    fam = Fluid(n_grid=64, vortex_radius=0.5)
    x = np.array([[0.3, 3.0, 2.5, 4.0, 6.0, -1.5]])  # the first vortex near the x-edge, the second near y
    w0 = fam.initial_vorticity(torch.as_tensor(x))[0].numpy()
    X, Y = grid(64)
    s = 0.5
    expect = np.zeros_like(X)
    for a, b, g in (x[0, :3], x[0, 3:]):
        for px in (-1, 0, 1):
            for py in (-1, 0, 1):
                r2 = (X - a - px * L) ** 2 + (Y - b - py * L) ** 2
                expect += g / (2 * np.pi * s**2) * np.exp(-r2 / (2 * s**2))
    expect -= expect.mean()
    assert np.abs(w0 - expect).max() < 1e-10 * np.abs(expect).max()
    # circulation of vortex 1 alone: Γ1 (its mean, Γ1/L², is what the box removes)
    one = fam.initial_vorticity(torch.tensor([[0.3, 3.0, 2.5, 4.0, 6.0, 0.0]], dtype=torch.float64))[0].numpy()
    r = np.hypot((X - 0.3 + L / 2) % L - L / 2, Y - 3.0) < 3.0
    assert abs((one[r] + 2.5 / L**2).sum() * (L / 64) ** 2 - 2.5) < 1e-6


def test_swapping_the_vortices_gives_the_same_flow():
    fam = Fluid(n_grid=16, horizon=1.0)
    pset = fam.sample(5, numpy_rng(0, "swap"))
    x, gam = torch.as_tensor(pset.x_true), torch.as_tensor(pset.gamma)
    y = fam.forward(x, gam)
    y_swap = fam.forward(torch.as_tensor(swap_vortices(pset.x_true)), gam)
    assert float((y - y_swap).abs().max()) < 1e-13
    assert np.all(pset.x_true[:, 0] <= pset.x_true[:, 3])  # the ordering rule
    np.testing.assert_array_equal(order_vortices(swap_vortices(pset.x_true)), pset.x_true)


@pytest.fixture(scope="module")
def short():
    fam = Fluid(n_grid=16, horizon=1.0, noise=0.0)
    pset = fam.sample(4, numpy_rng(1, "test"))
    return fam, pset, Objective.from_set(fam, pset)


def test_gradient_matches_central_finite_differences(short):
    fam, pset, obj = short
    x = torch.as_tensor(pset.x_true + np.random.default_rng(2).normal(0, 0.2, (4, 6)))
    _, g = obj.value_and_grad(x)
    h = 1e-5
    worst = 0.0
    for j in range(6):
        e = torch.zeros_like(x)
        e[:, j] = h
        fd = (obj(x + e) - obj(x - e)) / (2 * h)
        rel = (g[:, j] - fd).abs() / fd.abs().clamp_min(1e-10)
        worst = max(worst, float(rel.max()))
    print(f"max relative gradient error over the 6 unknowns: {worst:.2e}")
    assert worst < 1e-5


def test_loss_is_zero_at_the_truth_without_noise_and_noise_sets_it(short):
    fam, pset, obj = short
    assert float(obj(torch.as_tensor(pset.x_true)).abs().max()) == 0.0
    assert torch.all(obj(torch.as_tensor(pset.x_true) + 0.1) > 0)
    noisy = Fluid(n_grid=16, horizon=0.5, noise=0.05)
    ps = noisy.sample(16, numpy_rng(0, "noise"))
    at_truth = Objective.from_set(noisy, ps)(torch.as_tensor(ps.x_true)).numpy()
    assert abs(at_truth.mean() - 0.05**2) < 0.05 * 0.05**2


def test_sampling_follows_the_prior():
    fam = Fluid(n_grid=16, horizon=0.5)
    a = fam.sample(64, numpy_rng(5, "x"))
    assert a.y_target.shape == (64, 16, 16) and a.gamma.shape == (64, 16, 16) and a.x_true.shape == (64, 6)
    pos = a.x_true[:, [0, 1, 3, 4]]
    assert pos.min() >= 1.0 and pos.max() <= 5.25
    assert np.abs(a.x_true[:, [2, 5]]).max() <= 6.0
    assert a.gamma.max() <= 1.0 and a.gamma.min() > 0  # unit-height blobs
    assert fam.image_shape() == (2, 16, 16)


def test_float32_is_close_to_float64(short):
    fam, pset, _ = short
    x, gam = torch.as_tensor(pset.x_true), torch.as_tensor(pset.gamma)
    y64 = fam.forward(x, gam)
    y32 = fam.forward(x.float(), gam.float())
    assert y32.dtype == torch.float32 and float((y32.double() - y64).abs().max()) < 1e-4


@pytest.mark.parametrize(
    "params, key",
    [
        ({"horizon": 2.05}, "horizon"),
        ({"n_grid": 31}, "n_grid"),
        ({"viscosity": -1.0}, "viscosity"),
        ({"strength_range": [1.0, -1.0]}, "strength_range"),
        ({"x0": [1.0, 1.0, 1.0, 1.0, 1.0, -1.0]}, "x0"),
        ({"bounds": [[1.0, 0.0]] * 6}, r"bounds\[0\]"),
        ({"colour": 1}, "colour"),
    ],
)
def test_bad_parameters_name_the_key(params, key):
    with pytest.raises(ConfigError, match=rf"experiments\.fluid\.problem\.{key}"):
        Fluid(**params)


def test_a_problem_does_not_depend_on_its_batch():
    """Rows are the same bits in any batch of two problems or more; a problem alone agrees to
    round-off only: MKL rounds an inverse FFT of a batch of one (the output field's) differently
    from the same transform in a batch, so a per-problem BFGS loop follows the batched one only to
    round-off here."""
    fam = Fluid(n_grid=16, horizon=0.5)
    pset = fam.sample(64, numpy_rng(0, "batch"))
    x, gam = torch.as_tensor(pset.x_true), torch.as_tensor(pset.gamma)
    together = fam.forward(x, gam)
    for size in (2, 5, 8):
        starts = list(range(0, 64 - size + 1, size))
        parts = torch.cat([fam.forward(x[i : i + size], gam[i : i + size]) for i in starts])
        rows = torch.cat([torch.arange(i, i + size) for i in starts])
        assert torch.equal(parts.view(torch.int64), together[rows].contiguous().view(torch.int64)), size
    alone = torch.cat([fam.forward(x[i : i + 1], gam[i : i + 1]) for i in range(0, 64, 9)])
    torch.testing.assert_close(together[::9], alone, rtol=0, atol=1e-13)
