"""The gradient-alignment study of Figure 2 (invnet.studies.alignment, docs/theory.md).

The first-order change through the tangent kernel is checked against the actual change of the
network after a tiny optimiser step; each theory formula against a Monte Carlo simulation written
here; the measurement against hand-written references (pure noise, the single-problem gradient).
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from invnet.config import InvalidConfig, resolve_config
from invnet.seeding import numpy_rng, torch_generator
from invnet.spec import resolve
from invnet.studies import studies
from invnet.studies import alignment as al
from invnet.studies.base import STUDY_SPECS


def settings(**over):
    out = resolve({**STUDY_SPECS, **al.SETTINGS}, {}, "studies.alignment")
    out.update(over)
    return out


def _random_head(net: torch.nn.Module, seed: int) -> torch.nn.Module:
    """The same network with a random last layer, so that every layer has a gradient."""
    net = copy.deepcopy(net)
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        head = net[-1]
        head.weight.copy_(torch.randn(head.weight.shape, generator=g, dtype=head.weight.dtype) * 0.3)
    return net


@pytest.mark.parametrize("random_head", [False, True])
def test_first_order_change_matches_a_tiny_step(random_head):
    net = al.make_network(settings(), torch_generator(3, "test"))
    if random_head:
        net = _random_head(net, 1)
    rng = np.random.default_rng(0)
    gamma = torch.as_tensor(rng.uniform(-1, 1, 24))
    g = torch.as_tensor(rng.standard_normal(24))
    lr = 1e-6
    predicted = al.first_order_change(al.tangent_kernel(net, gamma), g, lr)

    # Reference: one plain SGD step on θ of Σ_j g_j x_j(θ) (the chain rule of Σ_j L_j with
    # dL_j/dx_j = g_j), then the actual change of the outputs.
    before = al.predict(net, gamma).detach()
    stepped = copy.deepcopy(net)
    params = list(stepped.parameters())
    grads = torch.autograd.grad((al.predict(stepped, gamma) * g).sum(), params)
    with torch.no_grad():
        for p, dp in zip(params, grads):
            p -= lr * dp
    actual = al.predict(stepped, gamma).detach() - before
    rel = float(torch.linalg.norm(actual - predicted) / torch.linalg.norm(actual))
    assert rel < 1e-3, rel
    if random_head:  # the hidden layers contribute: the last-layer kernel alone is not enough
        feats = net[:-1](gamma[:, None]).detach()
        head_only = -lr * (feats @ feats.T + 1) @ g
        assert float(torch.linalg.norm(actual - head_only) / torch.linalg.norm(actual)) > 1e-2


@pytest.mark.parametrize("random_head", [False, True])
def test_layerwise_kernel_equals_the_jacobian_kernel(random_head):
    net = al.make_network(settings(hidden=[6, 5]), torch_generator(4, "test"))
    if random_head:
        net = _random_head(net, 2)
    gamma = torch.linspace(-1, 1, 9, dtype=torch.float64)
    other = torch.linspace(-0.7, 0.9, 4, dtype=torch.float64)
    for b in (None, other):
        fast = al.tangent_kernel(net, gamma, b)
        slow = al.tangent_kernel_jacobian(net, gamma, b)
        assert torch.allclose(fast, slow, rtol=1e-12, atol=1e-12)


def test_kernel_of_the_jpo_start_is_the_last_layer_features():
    """Zero last layer (JPO's start): only the last layer has a gradient, K = φφᵀ + 1."""
    net = al.make_network(settings(hidden=[8, 8]), torch_generator(0, "test"))
    gamma = torch.linspace(-1, 1, 7, dtype=torch.float64)
    feats = net[:-1](gamma[:, None]).detach()
    expected = feats @ feats.T + 1
    assert torch.allclose(al.tangent_kernel(net, gamma), expected, rtol=1e-12, atol=1e-12)
    assert torch.all(al.predict(net, gamma) == 0.0)


def _problem(n, seed=0, random_head=True):
    rng = np.random.default_rng(seed)
    gamma = torch.as_tensor(rng.uniform(-1, 1, n))
    net = al.make_network(settings(hidden=[8]), torch_generator(seed, "t"))
    if random_head:
        net = _random_head(net, seed)
    kernel = al.tangent_kernel(net, gamma).numpy()
    mu = rng.normal(0.0, 1.0, n)
    target = np.sign(rng.standard_normal(n))
    return kernel, mu, target


@pytest.mark.parametrize("n", [1, 5, 40])
def test_gaussian_theory_against_monte_carlo(n):
    kernel, mu, target = _problem(n, seed=n)
    s, draws = 1.3, 40_000
    rng = np.random.default_rng(1)
    eps = rng.normal(0.0, s, (draws, n))
    dx = -(mu + eps) @ kernel.T
    mc = (target * dx > 0).mean(axis=0)
    theory = al.gaussian_theory(kernel, mu, s, target)
    assert np.max(np.abs(mc - theory)) < 4 * np.sqrt(0.25 / draws) + 1e-3


@pytest.mark.parametrize("n", [1, 6, 40])
def test_voting_theory_against_monte_carlo(n):
    """Exact up to EXACT_VOTES problems; above, the CLT over j, checked on the kernel of the study's
    network at its start (all entries positive, no single problem dominates a row)."""
    kernel, mu, target = _problem(n, seed=10 + n, random_head=False)
    s, draws = 1.0, 40_000
    rng = np.random.default_rng(2)
    votes = np.sign(mu + rng.normal(0.0, s, (draws, n)))
    dx = -votes @ kernel.T
    mc = (target * dx > 0).mean(axis=0)
    theory = al.voting_theory(kernel, mu, s, target)
    if n <= al.EXACT_VOTES:  # exact: every problem
        assert np.max(np.abs(mc - theory)) < 4 * np.sqrt(0.25 / draws)
    else:  # CLT: the sum is nearly a lattice (step ≈ 2·K̄), so single problems are off by up to a
        # few per cent either way; the mean over problems (what the figure shows) is close
        assert np.max(np.abs(mc - theory)) < 0.06
        assert abs(mc.mean() - theory.mean()) < 0.01


@pytest.mark.parametrize("count", [0, 1, 3, 20, 60])
def test_sum_theory_against_monte_carlo(count):
    """P(σ(h_ii + Σ of `count` iid draws of row i) > 0): exact by FFT up to EXACT_SUM, CLT above."""
    rng = np.random.default_rng(count)
    h = rng.gamma(0.5, 1.0, (6, 300)) - 0.4  # skewed rows: the CLT would be visibly off at small counts
    self_term = rng.normal(0.0, 1.0, 6)
    target = np.sign(rng.standard_normal(6))
    theory = al.sum_theory(h, self_term, target, count)
    draws = 40_000
    idx = rng.integers(0, h.shape[1], (draws, count))
    total = self_term[None, :] + np.stack([h[i][idx].sum(axis=1) for i in range(6)], axis=1)
    mc = (target * total > 0).mean(axis=0)
    tol = 4 * np.sqrt(0.25 / draws) + (0.005 if count <= al.EXACT_SUM else 0.03)
    assert np.max(np.abs(mc - theory)) < tol


def test_pure_noise_alignment_is_one_half():
    """Gradients of noise only (no signal): Δx points towards x* for half the problems."""
    s = settings(c_n=16, c_noise=[1.0])
    values = np.array([
        [m for curve, _, m, _, _ in al.panel_c(s, seed) if curve == "noise"][0] for seed in range(300)
    ])
    se = values.std(ddof=1) / np.sqrt(values.size)
    assert abs(values.mean() - 0.5) < 3 * se, (values.mean(), se)


def test_panel_a_at_n1_is_the_single_problem_gradient_sign():
    """n = 1: alignment is 1 exactly when −dL/dx points towards x*, computed here by hand."""
    s = settings(n=[1])
    for seed in range(60):
        (_, n, measured, _, _), = al.panel_a(s, seed)
        omega = numpy_rng(seed, "alignment/a/frequencies").uniform(*s["omega_range"], s["noise_terms"])
        rng = numpy_rng(seed, "alignment/a/n1")
        rng.uniform(*s["gamma_range"], 1)
        phase = rng.uniform(0.0, 2 * np.pi, (1, s["noise_terms"]))[0]
        x0, x_star, a = s["x0"], s["a_target"], s["a_noise"]
        grad = 2 * (x0 - x_star) + a * np.sum(omega * np.cos(omega * x0 + phase)) / np.sqrt(omega.size)
        assert measured == float(np.sign(-grad) == np.sign(x_star - x0))


def test_chunks_are_deterministic_and_aggregate(tmp_path):
    s = settings(seeds=4, chunk=2, n=[1, 4], c_noise=[0.5], c_n=8, theory_grid=32)
    spec = studies()["alignment"]
    assert spec.chunks(s) == [[0, 1], [2, 3]]
    paths = []
    for part in spec.parts(s):
        for k, seeds in enumerate(spec.chunks(s)):
            paths.append(tmp_path / f"{part}_{k}.h5")
            spec.run_chunk(s, part, seeds, paths[-1])
    again = tmp_path / "again.h5"
    spec.run_chunk(s, spec.parts(s)[0], [0, 1], again)
    from invnet.artifacts import read_h5

    first, _ = read_h5(paths[0])
    second, _ = read_h5(again)
    for key in first:
        np.testing.assert_array_equal(first[key], second[key])

    csv = tmp_path / "table.csv"
    spec.aggregate(s, paths, csv)
    import pandas as pd

    table = pd.read_csv(csv)
    assert {"panel", "x", "measured", "stderr", "theory"} <= set(table.columns)
    assert set(table["panel"]) == {"a", "b", "c", "d"}
    assert (table["seeds"] == 4).all()
    with pytest.raises(Exception, match="seeds"):
        spec.aggregate(s, paths[:1], tmp_path / "partial.csv")  # a missing chunk is refused


def test_config_errors_name_the_key():
    base = {"experiments": {"wavepacket": {"family": "wavepacket", "solvers": {"bfgs": {}}}}}
    for studies_block, needle in (
        ({"alignmnt": {}}, "studies.alignmnt"),
        ({"alignment": {"sedes": 3}}, "studies.alignment.sedes"),
        ({"alignment": {"gamma_range": [1.0, -1.0]}}, "studies.alignment.gamma_range"),
        ({"alignment": {"c_noise": [0.0]}}, "studies.alignment.c_noise"),
    ):
        with pytest.raises(InvalidConfig, match=needle.replace(".", r"\.")):
            resolve_config({**base, "studies": studies_block}, check_cuda=False)
    assert resolve_config(base, check_cuda=False)["studies"] == {}
