"""Gradient alignment at initialisation: the measurement and the theory of Figure 2
(docs/theory.md, docs/experiments.md §3).

Model: problem i has a scalar unknown x_i, an identifier γ_i and the landscape

    L_i(x) = (x − x*_i)² + η_i(x),   η_i(x) = a · Σ_{k=1..K} sin(ω_k x + φ_ik) / √K,

with frequencies ω_k drawn per seed and phases φ_ik per problem. A small MLP x_i = N_θ(γ_i) is
initialised like JPO's network (random hidden layers, last layer zero weight and bias x0, so every
x_i starts at x0). One gradient step on θ of Σ_i L_i moves x_i by, to first order,

    Δx_i = −lr Σ_j K(γ_i, γ_j) g_j,   g_j = dL_j/dx_j,   K = J Jᵀ (J = ∂x/∂θ, the tangent kernel),

and with voting g_j is replaced by sign(g_j). Problem i is *aligned* when Δx_i points towards
x*_i. The measured alignment of one seed is the fraction of its n problems that are aligned; the
theory is the expected fraction given that seed's network (its kernel is computed numerically,
:func:`tangent_kernel`), averaged over what is random: the noise (panels a, c, d) or the
identifiers of the other problems (panel b).

Panels (the study's parts): ``a`` shared ground truth, alignment against n; ``b`` noise-free
x*_i = slope·γ_i against n; ``c`` x*_i = sin(2γ_i), sum of losses / voting / noise only / single
problem, against the noise amplitude; ``d`` the same against n.
"""

from __future__ import annotations

import csv
import itertools
import logging
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
from scipy.special import ndtr
from torch import nn
from torch.func import functional_call, jacrev

from ..artifacts import provenance, read_h5, write_h5
from ..devices import use_deterministic_algorithms
from ..errors import ArtifactError, ConfigError
from ..seeding import numpy_rng, torch_generator
from ..spec import ParamSpec
from .base import StudySpec

log = logging.getLogger("invnet.studies.alignment")

NAME = "alignment"
PANELS = ("a", "b", "c", "d")
EXACT_VOTES = 10  # voting theory: exact enumeration of the 2^n sign patterns up to this n
EXACT_SUM = 32  # panel b theory: exact (discretised) distribution of the sum up to n - 1 terms
ACTIVATIONS = {"tanh": nn.Tanh, "relu": nn.ReLU, "silu": nn.SiLU}
DTYPE = torch.float64

SETTINGS: dict[str, ParamSpec] = {
    "hidden": ParamSpec([32, 32], int, length=-1, positive=True, doc="hidden widths of the MLP N(γ)"),
    "activation": ParamSpec("tanh", str, choices=tuple(ACTIVATIONS), doc="hidden activation"),
    "x0": ParamSpec(0.0, float, doc="where the network starts every x_i (last layer: zero weight, bias x0)"),
    "gamma_range": ParamSpec([-1.0, 1.0], float, length=2, doc="identifiers γ_i ~ U(range)"),
    "noise_terms": ParamSpec(32, int, minimum=1, doc="K, sinusoids in each noise landscape"),
    "omega_range": ParamSpec([5.0, 15.0], float, length=2, positive=True, doc="frequencies ω_k ~ U(range) per seed"),
    "n": ParamSpec(
        [1, 2, 4, 8, 16, 32, 64, 128, 256], int, length=-1, minimum=1, unique=True,
        doc="problem counts of panels a, b and d",
    ),
    "a_target": ParamSpec(1.0, float, doc="panel a: the shared ground truth x*"),
    "a_noise": ParamSpec(1.0, float, positive=True, doc="panel a: noise amplitude a"),
    "b_slope": ParamSpec(10.0, float, doc="panel b: x*_i = slope · γ_i (no noise)"),
    "cd_frequency": ParamSpec(2.0, float, doc="panels c, d: x*_i = sin(frequency · γ_i)"),
    "c_noise": ParamSpec(
        [0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0], float, length=-1, positive=True, unique=True,
        doc="panel c: noise amplitudes a",
    ),
    "c_n": ParamSpec(64, int, minimum=1, doc="panel c: number of problems"),
    "d_noise": ParamSpec(1.0, float, positive=True, doc="panel d: noise amplitude a"),
    "theory_grid": ParamSpec(100, int, minimum=16, doc="panel b theory: quadrature points of the γ prior"),
    "split_panels": ParamSpec(False, bool, doc="one job per panel and seed chunk (else one job for all panels)"),
}


# ------------------------------------------------------------------------------ the model


def make_network(settings: dict[str, Any], generator: torch.Generator) -> nn.Sequential:
    """N(γ): MLP 1 → hidden → 1. Hidden layers: weights and biases U(±1/√fan_in) (PyTorch's
    default init) from ``generator``; last layer zero weight and bias x0 (JPO's start)."""
    layers: list[nn.Module] = []
    width = 1
    for h in settings["hidden"]:
        lin = nn.Linear(width, h, dtype=DTYPE)
        bound = 1.0 / np.sqrt(width)
        with torch.no_grad():
            lin.weight.copy_(torch.empty(lin.weight.shape, dtype=DTYPE).uniform_(-bound, bound, generator=generator))
            lin.bias.copy_(torch.empty(lin.bias.shape, dtype=DTYPE).uniform_(-bound, bound, generator=generator))
        layers += [lin, ACTIVATIONS[settings["activation"]]()]
        width = h
    head = nn.Linear(width, 1, dtype=DTYPE)
    with torch.no_grad():
        head.weight.zero_()
        head.bias.fill_(float(settings["x0"]))
    return nn.Sequential(*layers, head)


def predict(net: nn.Module, gamma: torch.Tensor) -> torch.Tensor:
    return net(gamma[:, None])[:, 0]


def jacobian(net: nn.Module, gamma: torch.Tensor) -> torch.Tensor:
    """J[i, p] = ∂x_i/∂θ_p over every parameter of ``net`` (n × P), by reverse-mode autodiff."""
    params = {k: v.detach() for k, v in net.named_parameters()}

    def outputs(p: dict[str, torch.Tensor]) -> torch.Tensor:
        return functional_call(net, p, (gamma[:, None],))[:, 0]

    jac = jacrev(outputs)(params)
    return torch.cat([jac[k].reshape(gamma.shape[0], -1) for k in params], dim=1)


def tangent_kernel_jacobian(net: nn.Module, gamma: torch.Tensor, other: torch.Tensor | None = None) -> torch.Tensor:
    """K(γ_i, γ'_j) = J(γ_i) · J(γ'_j) with the full Jacobian J (slow; the reference in the tests)."""
    j = jacobian(net, gamma)
    return j @ (j if other is None else jacobian(net, other)).T


def _layer_factors(net: nn.Sequential, gamma: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Per Linear layer l: its inputs A_l (n × in) and the per-problem gradients Δ_l = ∂x_i/∂z_l
    of the output with respect to its pre-activations (n × out), by one backward pass (problem i's
    output depends only on its own row, so the gradient of Σ_i x_i has them row by row)."""
    inputs, pre = [], []
    h = gamma[:, None]
    for module in net:
        if isinstance(module, nn.Linear):
            inputs.append(h.detach())
            h = module(h)
            pre.append(h)
        else:
            h = module(h)
    deltas = torch.autograd.grad(h.sum(), pre)
    return [(a, d.detach()) for a, d in zip(inputs, deltas)]


def tangent_kernel(net: nn.Sequential, gamma: torch.Tensor, other: torch.Tensor | None = None) -> torch.Tensor:
    """K(γ_i, γ'_j) = Σ_p ∂x(γ_i)/∂θ_p · ∂x(γ'_j)/∂θ_p, the network's tangent kernel.

    The gradient of layer l's weights for problem i is Δ_l[i] ⊗ A_l[i] and of its bias Δ_l[i], so
    K = Σ_l (Δ_l Δ'_lᵀ) ⊙ (A_l A'_lᵀ + 1): exact, without forming the Jacobian
    (equal to :func:`tangent_kernel_jacobian`, tested).
    """
    left = _layer_factors(net, gamma)
    right = left if other is None else _layer_factors(net, other)
    out = torch.zeros(gamma.shape[0], (gamma if other is None else other).shape[0], dtype=gamma.dtype)
    for (a, d), (a2, d2) in zip(left, right):
        out += (d @ d2.T) * (a @ a2.T + 1)
    return out


def first_order_change(kernel: torch.Tensor, g: torch.Tensor, lr: float = 1.0) -> torch.Tensor:
    """Δx = −lr K g: the change of the outputs, to first order, after one step θ ← θ − lr Jᵀg."""
    return -lr * (kernel @ g)


def sample_frequencies(settings: dict[str, Any], rng: np.random.Generator) -> np.ndarray:
    return rng.uniform(*settings["omega_range"], settings["noise_terms"])


def noise_std(amplitude: float, omega: np.ndarray) -> float:
    """Standard deviation of η_i'(x) over uniform phases: a · sqrt(Σ ω_k² / (2K))."""
    return float(amplitude * np.sqrt(np.sum(omega**2) / (2 * omega.size)))


def landscape_gradient(
    x: torch.Tensor, x_star: torch.Tensor, amplitude: float, omega: np.ndarray, phase: np.ndarray
) -> torch.Tensor:
    """g_i = dL_i/dx_i of L_i(x) = (x − x*_i)² + a Σ_k sin(ω_k x + φ_ik)/√K, by autograd."""
    x = x.detach().requires_grad_(True)
    om = torch.as_tensor(omega, dtype=x.dtype)
    ph = torch.as_tensor(phase, dtype=x.dtype)
    noise = amplitude * torch.sin(om[None, :] * x[:, None] + ph).sum(dim=1) / np.sqrt(omega.size)
    loss = ((x - x_star) ** 2 + noise).sum()
    (g,) = torch.autograd.grad(loss, x)
    return g


def aligned(dx: torch.Tensor, x: torch.Tensor, x_star: torch.Tensor) -> np.ndarray:
    """Per problem: does Δx_i point towards x*_i (strictly)?"""
    return (torch.sign(dx) * torch.sign(x_star - x) > 0).numpy()


# ------------------------------------------------------------------------------ theory


def gaussian_theory(kernel: np.ndarray, mu: np.ndarray, s: float, target: np.ndarray) -> np.ndarray:
    """P(problem i aligned) for the summed gradient g = μ + ε, ε_j iid N(0, s²):
    Δx_i = −(Kμ)_i − (Kε)_i ~ N(−(Kμ)_i, s² Σ_j K_ij²), so P = Φ(−σ_i (Kμ)_i / (s ‖K_i‖))."""
    mean = -target * (kernel @ mu)
    if s == 0:
        return (mean > 0).astype(float)
    return ndtr(mean / (s * np.sqrt((kernel**2).sum(axis=1))))


def voting_theory(kernel: np.ndarray, mu: np.ndarray, s: float, target: np.ndarray) -> np.ndarray:
    """P(problem i aligned) when each g_j is replaced by its sign v_j = ±1, P(v_j = +1) = Φ(μ_j/s).

    Δx_i = −Σ_j K_ij v_j. Exact (all 2^n sign patterns) for n ≤ EXACT_VOTES, else the central limit
    theorem over j: mean Σ_j K_ij (2p_j − 1), variance Σ_j K_ij² 4 p_j (1 − p_j).
    """
    n = mu.size
    p = ndtr(mu / s) if s > 0 else (mu > 0).astype(float)
    if n <= EXACT_VOTES:
        patterns = np.array(list(itertools.product((1.0, -1.0), repeat=n)))  # 2^n × n
        prob = np.prod(np.where(patterns > 0, p[None, :], 1 - p[None, :]), axis=1)
        dx = -(patterns @ kernel.T)  # 2^n × n: Δx_i of each pattern
        return ((target[None, :] * dx > 0) * prob[:, None]).sum(axis=0)
    mean = -target * (kernel @ (2 * p - 1))
    var = (kernel**2) @ (4 * p * (1 - p))
    out = (mean > 0).astype(float)
    ok = var > 0
    out[ok] = ndtr(mean[ok] / np.sqrt(var[ok]))
    return out


def sum_theory(h: np.ndarray, self_term: np.ndarray, target: np.ndarray, count: int, bins: int = 128) -> np.ndarray:
    """P(σ_i (self_i + T_i) > 0), T_i = sum of ``count`` iid draws from the row h[i, :] (each entry
    equally likely: a quadrature of the identifier prior).

    Exact up to discretisation (pmf on ``bins`` points, linear interpolation, FFT convolution)
    for count ≤ EXACT_SUM, else the central limit theorem.
    """
    if count == 0:
        return (target * self_term > 0).astype(float)
    if count == 1:  # no discretisation needed
        return (target[:, None] * (self_term[:, None] + h) > 0).mean(axis=1)
    if count > EXACT_SUM:
        mean = self_term + count * h.mean(axis=1)
        sd = np.sqrt(count * h.var(axis=1))
        z = np.where(sd > 0, target * mean / np.where(sd > 0, sd, 1), np.sign(target * mean) * np.inf)
        return ndtr(z)
    lo, hi = h.min(axis=1), h.max(axis=1)
    width = np.where(hi > lo, hi - lo, 1.0)
    step = width / (bins - 1)
    pos = (h - lo[:, None]) / step[:, None]
    left = np.clip(np.floor(pos).astype(int), 0, bins - 2)
    frac = pos - left
    flat = (np.arange(h.shape[0])[:, None] * bins + left).ravel()
    weight = np.bincount(flat, (1 - frac).ravel(), h.shape[0] * bins)
    weight += np.bincount(flat + 1, frac.ravel(), h.shape[0] * bins)
    pmf = weight.reshape(h.shape[0], bins) / h.shape[1]
    size = count * (bins - 1) + 1
    fft_size = 1 << int(np.ceil(np.log2(size)))
    total = np.fft.irfft(np.fft.rfft(pmf, fft_size, axis=1) ** count, fft_size, axis=1)[:, :size]
    cdf = np.cumsum(np.clip(total, 0.0, None), axis=1)
    cdf /= cdf[:, -1:]
    # σ = +1 needs self + count·lo + step·k > 0, i.e. k > k*; σ = −1 needs k < k*
    k_star = (-self_term - count * lo) / step
    rows = np.arange(h.shape[0])
    below = np.where(k_star > 0, cdf[rows, np.clip(np.ceil(k_star).astype(int) - 1, 0, size - 1)], 0.0)
    at_most = np.where(k_star >= 0, cdf[rows, np.clip(np.floor(k_star).astype(int), 0, size - 1)], 0.0)
    return np.where(target > 0, 1.0 - at_most, below)


# ------------------------------------------------------------------------------ panels
# Each returns rows (curve, x, measured, theory, theory_constant_kernel) for one seed.

Row = tuple[str, float, float, float, float]


def _setup(settings: dict[str, Any], part: str, seed: int):
    net = make_network(settings, torch_generator(seed, f"{NAME}/{part}/network"))
    omega = sample_frequencies(settings, numpy_rng(seed, f"{NAME}/{part}/frequencies"))
    return net, omega


def _problems(settings: dict[str, Any], part: str, seed: int, n: int):
    rng = numpy_rng(seed, f"{NAME}/{part}/n{n}")
    gamma = torch.as_tensor(rng.uniform(*settings["gamma_range"], n), dtype=DTYPE)
    phase = rng.uniform(0.0, 2 * np.pi, (n, settings["noise_terms"]))
    return gamma, phase


def panel_a(settings: dict[str, Any], seed: int) -> list[Row]:
    """Shared ground truth x* for every problem, independent noise, against n."""
    net, omega = _setup(settings, "a", seed)
    a = settings["a_noise"]
    s = noise_std(a, omega)
    rows = []
    for n in settings["n"]:
        gamma, phase = _problems(settings, "a", seed, n)
        x = predict(net, gamma).detach()
        x_star = torch.full_like(x, settings["a_target"])
        kernel = tangent_kernel(net, gamma).detach()
        g = landscape_gradient(x, x_star, a, omega, phase)
        measured = aligned(first_order_change(kernel, g), x, x_star).mean()
        target = torch.sign(x_star - x).numpy()
        mu = (2 * (x - x_star)).numpy()
        theory = gaussian_theory(kernel.numpy(), mu, s, target).mean()
        snr = float(np.abs(mu).mean()) / s
        rows.append(("sum", float(n), float(measured), float(theory), float(ndtr(np.sqrt(n) * snr))))
    return rows


def panel_b(settings: dict[str, Any], seed: int) -> list[Row]:
    """No noise, x*_i = slope · γ_i, against n: the kernel alone decides."""
    net, _ = _setup(settings, "b", seed)
    slope = settings["b_slope"]
    lo, hi = settings["gamma_range"]
    m = settings["theory_grid"]
    grid = torch.as_tensor(lo + (hi - lo) * (np.arange(m) + 0.5) / m, dtype=DTYPE)  # midpoint rule
    xg = predict(net, grid).detach()
    kg = tangent_kernel(net, grid).detach().numpy()
    mu_g = (2 * (xg - slope * grid)).numpy()
    h = -kg * mu_g[None, :]  # h[i, j]: contribution of a problem at γ_j to Δx at γ_i
    target_g = np.sign((slope * grid - xg).numpy())
    rows = []
    for n in settings["n"]:
        gamma, _ = _problems(settings, "b", seed, n)
        x = predict(net, gamma).detach()
        x_star = slope * gamma
        kernel = tangent_kernel(net, gamma).detach()
        g = landscape_gradient(x, x_star, 0.0, np.zeros(1), np.zeros((n, 1)))
        measured = aligned(first_order_change(kernel, g), x, x_star).mean()
        theory = sum_theory(h, np.diag(h).copy(), target_g, n - 1).mean()
        rows.append(("sum", float(n), float(measured), float(theory), float("nan")))
    return rows


def _sine_rows(settings, net, omega, gamma, phase, a, xval) -> list[Row]:
    """Sum of losses, voting, noise only and single-problem alignment for one problem set."""
    x = predict(net, gamma).detach()
    x_star = torch.sin(settings["cd_frequency"] * gamma)
    kernel = tangent_kernel(net, gamma).detach()
    g = landscape_gradient(x, x_star, a, omega, phase)
    noise = g - 2 * (x - x_star)  # the noise gradient alone (no signal)
    s = noise_std(a, omega)
    target = torch.sign(x_star - x).numpy()
    mu = (2 * (x - x_star)).numpy()
    k = kernel.numpy()
    nan = float("nan")
    out = []
    for curve, grad, theory in (
        ("sum", g, gaussian_theory(k, mu, s, target)),
        ("vote", torch.sign(g), voting_theory(k, mu, s, target)),
        ("noise", noise, np.full(mu.size, 0.5)),
    ):
        measured = aligned(first_order_change(kernel, grad), x, x_star).mean()
        out.append((curve, xval, float(measured), float(theory.mean()), nan))
    single = aligned(-g, x, x_star).mean()  # each problem optimised alone: its own gradient
    out.append(("single", xval, float(single), float(ndtr(-target * mu / s).mean()), nan))
    return out


def panel_c(settings: dict[str, Any], seed: int) -> list[Row]:
    """x*_i = sin(2γ_i) under noise, against the noise amplitude (one problem set per seed)."""
    net, omega = _setup(settings, "c", seed)
    gamma, phase = _problems(settings, "c", seed, settings["c_n"])
    rows: list[Row] = []
    for a in settings["c_noise"]:
        rows += _sine_rows(settings, net, omega, gamma, phase, a, float(a))
    return rows


def panel_d(settings: dict[str, Any], seed: int) -> list[Row]:
    """x*_i = sin(2γ_i) under noise, against n."""
    net, omega = _setup(settings, "d", seed)
    rows: list[Row] = []
    for n in settings["n"]:
        gamma, phase = _problems(settings, "d", seed, n)
        rows += _sine_rows(settings, net, omega, gamma, phase, settings["d_noise"], float(n))
    return rows


PANEL_FUNCTIONS = {"a": panel_a, "b": panel_b, "c": panel_c, "d": panel_d}


# ------------------------------------------------------------------------------ jobs


def validate(settings: dict[str, Any], where: str) -> None:
    for key in ("gamma_range", "omega_range"):
        lo, hi = settings[key]
        if not lo < hi:
            raise ConfigError(f"{where}.{key}", f"expected [low, high] with low < high, got {[lo, hi]}")


def parts(settings: dict[str, Any]) -> list[str]:
    """Jobs per seed chunk: one for all panels, or one per panel (``split_panels``)."""
    return list(PANELS) if settings["split_panels"] else ["".join(PANELS)]


def run_chunk(settings: dict[str, Any], part: str, seeds: list[int], out: str | os.PathLike) -> None:
    """Every point of the panels named by ``part`` (e.g. "abcd") for ``seeds``: arrays of
    rows × seeds in one HDF5 artifact; row r is (panel, curve) = ``rows[r]`` at ``x[r]``."""
    unknown = sorted(set(part) - set(PANELS))
    if unknown or not part:
        raise ValueError(f"unknown panels {unknown} in part '{part}'; allowed: {', '.join(PANELS)}")
    use_deterministic_algorithms()
    keys: list[tuple[str, str, float]] = []
    values = []
    for panel in part:
        per_seed = []
        for seed in seeds:
            per_seed.append(PANEL_FUNCTIONS[panel](settings, seed))
        log.info("panel %s: seeds %d..%d done", panel, seeds[0], seeds[-1])
        keys += [(panel, r[0], r[1]) for r in per_seed[0]]
        values.append(np.array([[r[2:] for r in rows] for rows in per_seed], dtype=np.float64))
    arr = np.concatenate(values, axis=1)  # seeds × rows × (measured, theory, constant-kernel theory)
    labels = list(dict.fromkeys(f"{p}:{c}" for p, c, _ in keys))
    write_h5(
        out,
        {
            "seed": np.asarray(seeds, dtype=np.int64),
            "row": np.asarray([labels.index(f"{p}:{c}") for p, c, _ in keys], dtype=np.int64),
            "x": np.asarray([x for _, _, x in keys], dtype=np.float64),
            "measured": arr[:, :, 0].T.copy(),
            "theory": arr[:, :, 1].T.copy(),
            "theory_constant_kernel": arr[:, :, 2].T.copy(),
        },
        {
            "kind": "study",
            "study": NAME,
            "part": part,
            "rows": ",".join(labels),
            "config": settings,
            "provenance": provenance(seeds=[int(s) for s in seeds]),
        },
    )


COLUMNS = ("panel", "curve", "x", "measured", "stderr", "theory", "theory_constant_kernel", "seeds")
QUANTITIES = ("measured", "theory", "theory_constant_kernel")


def aggregate(settings: dict[str, Any], chunks: list[str | os.PathLike], out: str | os.PathLike) -> None:
    """results/tables/fig2_alignment.csv: per (panel, curve, x) the mean over seeds of the measured
    alignment, its standard error (sample std / √seeds), and the mean of the per-seed theory."""
    by_part: dict[str, list[dict[str, np.ndarray]]] = {}
    labels: dict[str, list[str]] = {}
    for path in chunks:
        arrays, attrs = read_h5(path)
        if attrs.get("study") != NAME:
            raise ArtifactError(f"{path} is not a chunk of the {NAME} study")
        by_part.setdefault(str(attrs["part"]), []).append(arrays)
        labels[str(attrs["part"])] = str(attrs["rows"]).split(",")
    expected = list(range(int(settings["seeds"])))
    lines = []
    for part in sorted(by_part):
        found = sorted(by_part[part], key=lambda a: int(a["seed"][0]))
        seeds = np.concatenate([a["seed"] for a in found])
        if seeds.tolist() != expected:
            raise ArtifactError(f"part {part}: the chunks cover seeds {seeds.tolist()[:5]}..., expected 0..{expected[-1]}")
        stack = {k: np.concatenate([a[k] for a in found], axis=1) for k in QUANTITIES}
        for r in range(found[0]["x"].size):
            panel, curve = labels[part][int(found[0]["row"][r])].split(":")
            m = stack["measured"][r]
            lines.append({
                "panel": panel,
                "curve": curve,
                "x": float(found[0]["x"][r]),
                "measured": float(m.mean()),
                "stderr": float(m.std(ddof=1) / np.sqrt(m.size)) if m.size > 1 else float("nan"),
                "theory": float(stack["theory"][r].mean()),
                "theory_constant_kernel": float(stack["theory_constant_kernel"][r].mean()),
                "seeds": int(m.size),
            })
    lines.sort(key=lambda d: (d["panel"], list(CURVE_ORDER).index(d["curve"]), d["x"]))
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".{out.name}.tmp.{os.getpid()}"
    try:
        with tmp.open("w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=COLUMNS, lineterminator="\n")
            writer.writeheader()
            for line in lines:
                writer.writerow({k: (repr(v) if isinstance(v, float) else v) for k, v in line.items()})
        os.replace(tmp, out)
    finally:
        if tmp.exists():
            tmp.unlink()


CURVE_ORDER = ("sum", "vote", "noise", "single")


STUDY = StudySpec(
    name=NAME,
    doc="gradient alignment at initialisation, measured against theory (Figure 2)",
    table="fig2_alignment",
    parts=parts,
    run_chunk=run_chunk,
    aggregate=aggregate,
    settings_spec=SETTINGS,
    validate=validate,
)
