"""Billiards against an independent NumPy time integration, collision laws and finite differences."""

import numpy as np
import pytest
import torch

from invnet.errors import ConfigError
from invnet.problems.billiards import Billiards, BilliardsChain

R, MU, E = 0.03, 0.5, 0.8


def integrate(p0, v0, t_end=4.0, dt=1e-4):
    """Reference rest positions by explicit time stepping (independent of the event solver).

    p0, v0: (N, B, 2) initial positions/velocities of B balls. Each step moves every ball by the
    exact friction displacement v (1 - e^{-mu dt}) / mu and decays v by e^{-mu dt}. When a pair of
    approaching balls starts to overlap within a step, both are moved back to the (linearly
    interpolated) moment of contact, the impulse is applied along the line of centres, and they
    finish the step with the new velocities. After t_end the free rest displacement v / mu is added.
    Returns rest positions (N, B, 2) and the s = (1 - e^{-mu t_end}) / mu reached by stepping.
    """
    p, v = p0.astype(float).copy(), v0.astype(float).copy()
    b = p.shape[1]
    pi, pj = np.triu_indices(b, 1)
    f = (1 - np.exp(-MU * dt)) / MU
    decay = np.exp(-MU * dt)
    gap = np.linalg.norm(p[:, pi] - p[:, pj], axis=-1) - 2 * R
    for _ in range(int(round(t_end / dt))):
        disp = v * f
        pn = p + disp
        gap_new = np.linalg.norm(pn[:, pi] - pn[:, pj], axis=-1) - 2 * R
        hit = (gap_new < 0) & (gap >= 0)
        if hit.any():
            for n, k in zip(*np.nonzero(hit)):
                i, j = pi[k], pj[k]
                a = gap[n, k] / (gap[n, k] - gap_new[n, k])
                ci, cj = p[n, i] + a * disp[n, i], p[n, j] + a * disp[n, j]
                nrm = (cj - ci) / np.linalg.norm(cj - ci)
                u = (v[n, i] - v[n, j]) @ nrm
                if u <= 0:
                    continue
                v[n, i] -= 0.5 * (1 + E) * u * nrm
                v[n, j] += 0.5 * (1 + E) * u * nrm
                pn[n, i] = ci + v[n, i] * (1 - a) * f
                pn[n, j] = cj + v[n, j] * (1 - a) * f
            gap_new = np.linalg.norm(pn[:, pi] - pn[:, pj], axis=-1) - 2 * R
        p, gap = pn, gap_new
        v *= decay
    return p + v / MU, (1 - np.exp(-MU * t_end)) / MU


def sampled(fam, n, seed):
    pset = fam.sample(n, np.random.default_rng(seed))
    return pset, torch.as_tensor(pset.x_true), torch.as_tensor(pset.gamma)


def grad(fam, x, gamma, y_target):
    xr = x.detach().clone().requires_grad_(True)
    f = fam.loss(fam.forward(xr, gamma), y_target)
    (g,) = torch.autograd.grad(f.sum(), xr)
    return f.detach(), g


@pytest.mark.parametrize("chain", [1, 2])
def test_rest_positions_match_time_integration(chain):
    fam = Billiards(chain=chain)
    pset, x, gamma = sampled(fam, 12, 11)
    n = pset.n
    p0 = np.concatenate([np.zeros((n, 1, 2)), pset.gamma.reshape(n, chain, 2)], axis=1)
    v0 = np.zeros_like(p0)
    v0[:, 0] = pset.x_true
    ref, s_reached = integrate(p0, v0)
    ev = fam.events(x, gamma)
    last = ev["s2"] if chain == 2 else ev["s1"]
    assert float(last.max()) < s_reached  # every collision happens while stepping
    rest = fam.trajectory(x, gamma, torch.tensor([np.inf]))[:, 0].numpy()  # (n, balls, 2)
    np.testing.assert_allclose(rest, ref, atol=1e-4, rtol=0)  # observed ~1e-6
    np.testing.assert_allclose(fam.forward(x, gamma).numpy(), ref[:, -1], atol=1e-4, rtol=0)
    assert np.linalg.norm(ref[:, -1] - pset.gamma[:, -2:], axis=1).min() > 0.05  # it moved


def test_collisions_conserve_momentum_and_scale_normal_velocity():
    fam = Billiards(chain=2)
    pset, x, gamma = sampled(fam, 32, 2)
    ev = fam.events(x, gamma)
    assert ev["hit1"].all() and ev["hit2"].all()
    n1, n2 = ev["n1"], ev["n2"]
    torch.testing.assert_close(n1.norm(dim=1), torch.ones(32, dtype=torch.float64))
    torch.testing.assert_close(n2.norm(dim=1), torch.ones(32, dtype=torch.float64))
    # cue -> ball 1 (at rest)
    torch.testing.assert_close(ev["cue_after"] + ev["ball1_after"], x)
    rel_after = ((ev["cue_after"] - ev["ball1_after"]) * n1).sum(1)
    torch.testing.assert_close(rel_after, -E * (x * n1).sum(1))
    assert ((x * n1).sum(1) > 0).all()
    # ball 1 -> ball 2 (at rest)
    torch.testing.assert_close(ev["ball1_final"] + ev["ball2_after"], ev["ball1_after"])
    rel_after = ((ev["ball1_final"] - ev["ball2_after"]) * n2).sum(1)
    torch.testing.assert_close(rel_after, -E * (ev["ball1_after"] * n2).sum(1))
    # the balls touch at the contact s values
    pos1 = fam.positions_at_s(x, gamma, ev["s1"][:, None])[:, 0]
    pos2 = fam.positions_at_s(x, gamma, ev["s2"][:, None])[:, 0]
    torch.testing.assert_close(
        (pos1[:, 0] - pos1[:, 1]).norm(dim=1), torch.full((32,), 2 * R, dtype=torch.float64)
    )
    torch.testing.assert_close(
        (pos2[:, 1] - pos2[:, 2]).norm(dim=1), torch.full((32,), 2 * R, dtype=torch.float64)
    )


@pytest.mark.parametrize("chain", [1, 2])
def test_gradient_matches_central_finite_differences(chain):
    fam = Billiards(chain=chain)
    pset, x_true, gamma = sampled(fam, 64, 4)
    y_t = torch.as_tensor(pset.y_target)
    x = x_true + 0.02 * torch.as_tensor(np.random.default_rng(5).standard_normal((64, 2)))
    key = "hit2" if chain == 2 else "hit1"
    h = 1e-6
    keep = fam.events(x, gamma)[key]
    for j in range(2):
        for sign in (-1, 1):
            e = torch.zeros_like(x)
            e[:, j] = sign * 1e-4
            keep &= fam.events(x + e, gamma)[key]  # same collisions nearby: away from grazing
    assert keep.sum() >= 40
    x, gamma, y_t = x[keep], gamma[keep], y_t[keep]
    _, g = grad(fam, x, gamma, y_t)
    fd = torch.zeros_like(g)
    for j in range(2):
        e = torch.zeros_like(x)
        e[:, j] = h
        fd[:, j] = (fam.loss(fam.forward(x + e, gamma), y_t) - fam.loss(fam.forward(x - e, gamma), y_t)) / (
            2 * h
        )
    rel = (g - fd).norm(dim=1) / g.norm(dim=1)
    assert float(rel.max()) < 1e-5
    assert (g.norm(dim=1) > 0).all()


@pytest.mark.parametrize("chain", [1, 2])
def test_gradient_is_exactly_zero_on_misses_and_finite_everywhere(chain):
    fam = Billiards(chain=chain)
    pset, x_true, gamma = sampled(fam, 128, 6)
    y_t = torch.as_tensor(pset.y_target)
    x0 = torch.as_tensor(fam.x0).expand(128, 2)
    f, g = grad(fam, x0, gamma, y_t)
    ev = fam.events(x0, gamma)
    hit = ev["hit2"] if chain == 2 else ev["hit1"]
    assert 0 < int((~hit).sum()) < 128
    assert (g[~hit] == 0.0).all()
    assert (g[hit].norm(dim=1) > 0).all()
    # a missed target ball rests where it started: the loss does not depend on x there
    start = gamma[:, -2:]
    torch.testing.assert_close(f[~hit], ((start - y_t) ** 2).sum(1)[~hit], rtol=0, atol=0)
    if chain == 2:  # cue hits ball 1, which misses ball 2: also flat
        assert (g[ev["hit1"] & ~hit] == 0.0).all()
    # random velocities over the bounds, zero velocity and exactly grazing shots: no NaN/inf
    rng = np.random.default_rng(7)
    lo, hi = fam.bounds[:, 0], fam.bounds[:, 1]
    xs = [torch.as_tensor(rng.uniform(lo, hi, (128, 2))), torch.zeros(128, 2, dtype=torch.float64)]
    g1 = gamma[:, :2]
    tangent = torch.stack([-g1[:, 1], g1[:, 0]], 1) / g1.norm(dim=1, keepdim=True)
    for sign in (-1.0, 1.0):  # lines through the origin at distance exactly ~2r from ball 1
        d = g1.norm(dim=1, keepdim=True)
        aim = (g1 * torch.sqrt(d**2 - (2 * R) ** 2) + sign * 2 * R * tangent) / d
        xs.append(1.5 * aim / aim.norm(dim=1, keepdim=True))
    for xx in xs:
        f, g = grad(fam, xx, gamma, y_t)
        assert torch.isfinite(f).all() and torch.isfinite(g).all()
        assert (f >= 0).all()


@pytest.mark.parametrize("cls", [Billiards, BilliardsChain])
def test_sampling_is_deterministic_and_hits(cls):
    fam = cls()
    a = fam.sample(16, np.random.default_rng(0))
    b = fam.sample(16, np.random.default_rng(0))
    c = fam.sample(16, np.random.default_rng(1))
    assert np.array_equal(a.y_target, b.y_target) and np.array_equal(a.x_true, b.x_true)
    assert np.array_equal(a.gamma, b.gamma)
    assert not np.array_equal(a.x_true, c.x_true)
    chain = fam.params["chain"]
    assert a.gamma.shape == (16, 2 * chain) and a.x_true.shape == (16, 2) and a.y_target.shape == (16, 2)
    assert np.all((a.gamma[:, 0] >= 0.4) & (a.gamma[:, 0] <= 0.8))
    assert np.all((a.gamma[:, 1] >= -0.2) & (a.gamma[:, 1] <= 0.2))
    speed = np.linalg.norm(a.x_true, axis=1)
    assert np.all((speed >= 1.0) & (speed <= 2.0))
    if chain == 2:
        np.testing.assert_allclose(np.linalg.norm(a.gamma[:, 2:] - a.gamma[:, :2], axis=1), 0.3)
    x, gamma = torch.as_tensor(a.x_true), torch.as_tensor(a.gamma)
    loss = fam.loss(fam.forward(x, gamma), torch.as_tensor(a.y_target))
    assert float(loss.max()) < 1e-20  # noise 0: the truth reproduces y*
    noisy = cls(noise=0.01).sample(16, np.random.default_rng(0))
    assert 1e-6 < np.mean((noisy.y_target - a.y_target) ** 2) < 1e-3


@pytest.mark.parametrize("chain", [1, 2])
def test_batched_equals_row_by_row_and_float32(chain):
    fam = Billiards(chain=chain)
    pset, x_true, gamma = sampled(fam, 16, 8)
    y_t = torch.as_tensor(pset.y_target)
    x = x_true + 0.05 * torch.as_tensor(np.random.default_rng(9).standard_normal((16, 2)))
    x[0] = torch.as_tensor(fam.x0)
    f_all, g_all = grad(fam, x, gamma, y_t)
    assert f_all.shape == (16,) and (f_all >= 0).all()
    for i in range(16):
        f_i, g_i = grad(fam, x[i : i + 1], gamma[i : i + 1], y_t[i : i + 1])
        assert float(f_i[0]) == float(f_all[i])
        assert torch.equal(g_i[0], g_all[i])
    # float32 inputs stay float32 (gamma given in float64 is cast to x's dtype)
    y32 = fam.forward(x.float(), gamma)
    assert y32.dtype == torch.float32
    np.testing.assert_allclose(y32.numpy(), fam.forward(x, gamma).numpy(), atol=1e-4)
    f32, g32 = grad(fam, x.float(), gamma.float(), y_t.float())
    assert f32.dtype == g32.dtype == torch.float32 and torch.isfinite(g32).all()
    traj = fam.trajectory(x.float(), gamma.float(), np.array([0.0, 1.0, np.inf]))
    assert traj.dtype == torch.float32 and traj.shape == (16, 3, 1 + chain, 2)


def test_trajectory_starts_at_setup_and_ends_at_rest():
    fam = BilliardsChain()
    pset, x, gamma = sampled(fam, 8, 3)
    traj = fam.trajectory(x, gamma, torch.tensor([0.0, 0.5, 2.0, np.inf], dtype=torch.float64))
    torch.testing.assert_close(traj[:, 0, 0], torch.zeros(8, 2, dtype=torch.float64))
    torch.testing.assert_close(traj[:, 0, 1:].reshape(8, 4), gamma)
    torch.testing.assert_close(traj[:, -1, 2], fam.forward(x, gamma))
    # between events the cue moves at the decaying speed |v| e^{-mu t}
    step = fam.trajectory(x, gamma, torch.tensor([0.0, 1e-6], dtype=torch.float64))
    torch.testing.assert_close((step[:, 1, 0] - step[:, 0, 0]) / 1e-6, x, rtol=1e-5, atol=1e-8)


@pytest.mark.parametrize(
    "params, key",
    [
        ({"radius": -0.1}, "radius"),
        ({"chain": 3}, "chain"),
        ({"restitution": 1.5}, "restitution"),
        ({"object_x_range": [0.8, 0.4]}, "object_x_range"),
        ({"object_x_range": [0.0, 0.5], "object_y_range": [-0.01, 0.01]}, "object_x_range"),
        ({"chain_distance": 0.05}, "chain_distance"),
        ({"speed_range": [-1.0, 2.0]}, "speed_range"),
        ({"bounds": [[0.0, 3.0], [1.0, -1.0]]}, r"bounds\[1\]"),
        ({"x0": [1.0]}, "x0"),
        ({"colour": 1}, "colour"),
    ],
)
def test_bad_physical_parameters_name_the_key(params, key):
    with pytest.raises(ConfigError, match=rf"experiments\.billiards\.problem\.{key}"):
        Billiards(**params)
    with pytest.raises(ConfigError, match=rf"experiments\.billiards_chain\.problem\.{key}"):
        BilliardsChain(**params)
