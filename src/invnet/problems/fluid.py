"""Incompressible fluid (docs/experiments.md §4.4): find two Gaussian vortices from where they carried
a passive marker.

2-D periodic box [0, L)², vorticity–streamfunction form, pseudo-spectral with the 2/3 rule, classic
RK4 (all terms explicit; the viscous term is small at the grids used, so no integrating factor):

    ω_t + ∇·(u ω) = ν Δω,     c_t + ∇·(u c) = κ Δc,
    Δψ = -ω,   u = (∂ψ/∂y, -∂ψ/∂x),

ω the vorticity, c the passive marker (advected in conservative form), u the divergence-free
velocity. State: the rfft2 spectra of ω and c on the N×N grid x_i = i L/N (axis -2: x, axis -1: y),
kept on the retained modes P = {3|j_x| < N and 3|j_y| < N}; every product is formed on the grid and
projected by P, so the system integrated is the dealiased Galerkin system (exact conservation of
energy and enstrophy at ν = 0 up to time stepping; the mean of c exactly).

The unknown x = (a1, b1, Γ1, a2, b2, Γ2): positions and circulations of K = 2 Gaussian vortices
of radius σ. The initial vorticity is the periodised Gaussians, written in Fourier space

    ω̂0(k) = P (N/L)² Σ_v Γ_v exp(-σ²|k|²/2) exp(-i k·(a_v, b_v)),   ω̂0(0) = 0

(smooth and exactly periodic in the positions; the mean vorticity is removed, as it must be on a
periodic box). γ = the known initial marker c0, a Gaussian blob per problem; y* = c(T) (+ noise).
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
import torch

from ..errors import ConfigError
from . import _spectral
from .base import ParamSpec, ProblemFamily, ProblemSet

_COMPLEX = {torch.float32: torch.complex64, torch.float64: torch.complex128}
TWO_PI = 2.0 * math.pi


def _complex_of(dtype: torch.dtype) -> torch.dtype:
    if dtype not in _COMPLEX:
        raise TypeError(f"fluid solver supports float32/float64, got {dtype}")
    return _COMPLEX[dtype]


def fluid_grid(n_grid: int, length: float) -> np.ndarray:
    """Periodic grid coordinates x_i = i L / N, i = 0..N-1 (float64)."""
    return np.arange(n_grid, dtype=np.float64) * (length / n_grid)


class FluidOperator:
    """Wavenumbers, 2/3-rule mask and inverse Laplacian of one (N, L) grid in the rfft2 layout
    (N, N/2+1), held in float64 on CPU; :meth:`on` casts them to a device and dtype (cached)."""

    def __init__(self, n_grid: int, length: float, dealias: bool = True):
        if n_grid < 4 or n_grid % 2:
            raise ValueError(f"n_grid must be even and >= 4, got {n_grid}")
        self.n_grid, self.length, self.dealias = int(n_grid), float(length), bool(dealias)
        jx = np.fft.fftfreq(n_grid, 1.0 / n_grid)  # 0, 1, ..., -1 (integers)
        jy = np.arange(n_grid // 2 + 1)
        kx = TWO_PI / length * jx[:, None] * np.ones(jy.size)[None, :]
        ky = TWO_PI / length * np.ones(n_grid)[:, None] * jy[None, :]
        k2 = kx**2 + ky**2
        if dealias:
            mask = (3 * np.abs(jx)[:, None] < n_grid) & (3 * jy[None, :] < n_grid)
        else:
            mask = np.ones(k2.shape, dtype=bool)
            mask[n_grid // 2, :] = False  # Nyquist modes: no consistent derivative
            mask[:, -1] = False
        inv_k2 = np.where(k2 > 0, 1.0 / np.where(k2 > 0, k2, 1.0), 0.0)
        self.kx, self.ky, self.k2 = kx, ky, k2
        self.mask = mask.astype(np.float64)
        self.inv_k2 = inv_k2
        self._cache: dict[tuple[torch.device, torch.dtype], dict[str, torch.Tensor]] = {}
        # The fused kernel reproduces torch's vectorised complex products, which run over each
        # problem's N (N/2+1) modes at once: exact when that count leaves no scalar tail (8 | it).
        self.fusable = (n_grid * (n_grid // 2 + 1)) % 8 == 0

    def on(self, device: torch.device | str, dtype: torch.dtype) -> dict[str, torch.Tensor]:
        key = (torch.device(device), dtype)
        if key not in self._cache:
            cdt = _complex_of(dtype)
            t = lambda a, d: torch.as_tensor(a, device=device).to(d)  # noqa: E731
            self._cache[key] = {
                "kx": t(self.kx, dtype),
                "ky": t(self.ky, dtype),
                "k2": t(self.k2, dtype),
                "mask": t(self.mask, dtype),
                # -P i k for the divergence of a flux, i k / |k|² for the velocity from ω
                "div_x": t(-1j * self.kx * self.mask, cdt),
                "div_y": t(-1j * self.ky * self.mask, cdt),
                "u_of_w": t(1j * self.ky * self.inv_k2, cdt),  # u = ∂ψ/∂y, ψ̂ = ω̂/|k|²
                "v_of_w": t(-1j * self.kx * self.inv_k2, cdt),  # v = -∂ψ/∂x
            }
        return self._cache[key]

    def rhs(
        self, w: torch.Tensor, c: torch.Tensor, coef: dict[str, torch.Tensor], nu: float, kappa: float
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Time derivatives of the spectra ω̂, ĉ (..., N, N/2+1) of the dealiased system."""
        n = self.n_grid
        spec = torch.stack([coef["u_of_w"] * w, coef["v_of_w"] * w, w, c], dim=-3)
        u, v, wg, cg = torch.fft.irfft2(spec, s=(n, n)).unbind(-3)
        flux = torch.fft.rfft2(torch.stack([u * wg, v * wg, u * cg, v * cg], dim=-3))
        fw_x, fw_y, fc_x, fc_y = flux.unbind(-3)
        dw = coef["div_x"] * fw_x + coef["div_y"] * fw_y
        dc = coef["div_x"] * fc_x + coef["div_y"] * fc_y
        if nu:
            dw = dw - nu * coef["k2"] * w
        if kappa:
            dc = dc - kappa * coef["k2"] * c
        return dw, dc

    def step(self, w, c, coef, dt: float, nu: float, kappa: float):
        """One classic RK4 step of size dt."""
        k1w, k1c = self.rhs(w, c, coef, nu, kappa)
        k2w, k2c = self.rhs(w + 0.5 * dt * k1w, c + 0.5 * dt * k1c, coef, nu, kappa)
        k3w, k3c = self.rhs(w + 0.5 * dt * k2w, c + 0.5 * dt * k2c, coef, nu, kappa)
        k4w, k4c = self.rhs(w + dt * k3w, c + dt * k3c, coef, nu, kappa)
        w = w + (dt / 6.0) * (k1w + 2.0 * k2w + 2.0 * k3w + k4w)
        c = c + (dt / 6.0) * (k1c + 2.0 * k2c + 2.0 * k3c + k4c)
        return w, c


@lru_cache(maxsize=16)
def fluid_operator(n_grid: int, length: float, dealias: bool = True) -> FluidOperator:
    return FluidOperator(n_grid, length, dealias)


def fluid_rk4(
    w0: torch.Tensor,
    c0: torch.Tensor,
    length: float = TWO_PI,
    dt: float = 0.1,
    steps: int = 20,
    nu: float = 1e-3,
    kappa: float = 1e-3,
    *,
    every: int | None = None,
    dealias: bool = True,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Vorticity and marker (..., N, N) after ``steps`` RK4 steps of size ``dt``; differentiable.

    Both initial fields are projected onto the retained modes first. With ``every`` the states
    at steps 0, every, 2·every, ... are returned stacked on a new axis -3.
    """
    if steps < 0:
        raise ValueError(f"need steps >= 0, got {steps}")
    n = w0.shape[-1]
    op = fluid_operator(n, float(length), dealias)
    coef = op.on(w0.device, w0.dtype)
    w = torch.fft.rfft2(w0) * coef["mask"]
    c = torch.fft.rfft2(c0) * coef["mask"]
    return _integrate(op, coef, w, c, dt, steps, nu, kappa, every)


# Grid points per fused call: the fused loop runs all steps over a few problems at a time, whose
# fields then stay in the core's cache (4 problems on 32²: 13-20 % less CPU per problem than 64 at
# once, measured by benchmarks/fluid_chunks.py).
CHUNK_POINTS = 4 * 32 * 32


def chunk_sizes(rows: int, n_grid: int) -> list[int]:
    """Problems per fused call for ``rows`` problems on an N×N grid: ``CHUNK_POINTS`` worth each,
    the remainder joined to the last chunk. Every chunking gives the bits of one call over all
    rows (tests/test_spectral_kernels.py). No chunk holds a single problem: a guard, since MKL
    rounds a batch of one inverse transform differently from the same transform in a batch (the
    fused loop transforms four fields per problem, so it does not meet that case today)."""
    size = max(2, CHUNK_POINTS // (n_grid * n_grid))
    if rows < 2 * size:
        return [rows]
    return [size] * (rows // size - 1) + [size + rows % size]


def _integrate(op, coef, w, c, dt, steps, nu, kappa, every):
    n = op.n_grid

    def grid(a):
        return torch.fft.irfft2(a, s=(n, n))

    kernels = _spectral.applicable(w) if every is None and steps > 0 and op.fusable else None
    if kernels is not None and c.dtype == w.dtype and c.shape == w.shape:
        # all steps in one fused call, forward and adjoint bit for bit the loop below
        coefs = [coef[k] for k in ("u_of_w", "v_of_w", "div_x", "div_y")] + [nu * coef["k2"], kappa * coef["k2"]]
        shape = w.shape
        save = torch.is_grad_enabled() and (w.requires_grad or c.requires_grad)
        flat = (w, c) if w.dim() == 3 else (w.reshape(-1, *shape[-2:]), c.reshape(-1, *shape[-2:]))
        sizes = chunk_sizes(flat[0].shape[0], n)
        parts = [_FusedRK4.apply(wi, ci, kernels, coefs, n, steps, float(dt), float(nu), float(kappa), save)
                 for wi, ci in zip(flat[0].split(sizes), flat[1].split(sizes))]
        w, c = (t[0] if len(t) == 1 else torch.cat(t) for t in zip(*parts))  # no copy for one chunk
        if len(shape) != 3:
            w, c = w.reshape(shape), c.reshape(shape)
        return grid(w), grid(c)

    outs_w, outs_c = [grid(w)], [grid(c)]
    for i in range(1, steps + 1):
        w, c = op.step(w, c, coef, dt, nu, kappa)
        if every is not None and i % every == 0:
            outs_w.append(grid(w))
            outs_c.append(grid(c))
    if every is None:
        return grid(w), grid(c)
    return torch.stack(outs_w, dim=-3), torch.stack(outs_c, dim=-3)


class _FusedRK4(torch.autograd.Function):
    """The fused RK4 loop as one autograd node: its forward keeps the grid fields the adjoint
    needs (those of every right-hand side; ``save``: only when a gradient will be asked for), its
    backward is the adjoint kernel, told which outputs carry a gradient (no double backward)."""

    @staticmethod
    def forward(ctx, w, c, kernels, coefs, n, steps, dt, nu, kappa, save):
        ctx.set_materialize_grads(False)
        args = (coefs, n, steps, dt, bool(nu), bool(kappa))
        w1, c1, grids = kernels.fluid_forward(w.resolve_conj().resolve_neg(), c.resolve_conj().resolve_neg(), *args,
                                              save)
        if save:
            ctx.kernels, ctx.args, ctx.grids = kernels, args, grids
        return w1, c1

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, gw, gc):
        none = (None,) * 8
        if gw is None and gc is None:
            return (None, None, *none)
        given = gw if gw is not None else gc
        gw0, gc0 = ctx.kernels.fluid_backward(
            given if gw is None else gw.resolve_conj().resolve_neg(), gw is not None,
            given if gc is None else gc.resolve_conj().resolve_neg(), gc is not None, ctx.grids, *ctx.args)
        return (gw0 if ctx.needs_input_grad[0] else None), (gc0 if ctx.needs_input_grad[1] else None), *none


def velocity(w: torch.Tensor, length: float = TWO_PI) -> tuple[torch.Tensor, torch.Tensor]:
    """Velocity (u, v) on the grid of the (dealiased) vorticity field w (..., N, N)."""
    n = w.shape[-1]
    coef = fluid_operator(n, float(length)).on(w.device, w.dtype)
    wh = torch.fft.rfft2(w) * coef["mask"]
    return (torch.fft.irfft2(coef["u_of_w"] * wh, s=(n, n)),
            torch.fft.irfft2(coef["v_of_w"] * wh, s=(n, n)))


class Fluid(ProblemFamily):
    """Infer two Gaussian vortices x = (a1, b1, Γ1, a2, b2, Γ2) from the marker they advect.

    γ: c0 = exp(-|x - m|²_periodic / (2 w²)), m ~ U(position_range)², w ~ U(marker_width_range).
    Ground truth ordering (the loss is invariant under swapping the vortices): vortex 1 is the
    one with the smaller x-coordinate a (a1 <= a2), the order x0 has.
    """

    name = "fluid"
    label = "Fluid (Navier-Stokes)"
    noise_free = {"noise": 0.0}
    test_params = {"n_grid": 16, "horizon": 0.5, "dt": 0.1}  # 5 steps on 16²: fast contract tests
    # forward+backward on 32², 20 RK4 steps: ~7.5 ms per problem on one thread (~20x KS per
    # problem); only sizes SLURM runtimes (minutes, capped at 24 h), which 30 keeps generous
    cost = 30.0
    param_names = ("a1", "b1", "gamma1", "a2", "b2", "gamma2")
    params_spec = {
        "length": ParamSpec(TWO_PI, float, positive=True, doc="side L of the periodic box [0, L)²"),
        "n_grid": ParamSpec(32, int, positive=True, doc="grid points N per side (even, >= 8)"),
        "viscosity": ParamSpec(1e-3, float, minimum=0.0, doc="kinematic viscosity ν"),
        "diffusivity": ParamSpec(1e-3, float, minimum=0.0, doc="marker diffusivity κ"),
        "dt": ParamSpec(0.1, float, positive=True, doc="RK4 time step"),
        "horizon": ParamSpec(2.0, float, positive=True, doc="observation time T (multiple of dt)"),
        "vortex_radius": ParamSpec(0.5, float, positive=True, doc="Gaussian vortex radius σ"),
        "position_range": ParamSpec([1.0, 5.25], float, length=2, doc="prior of vortex positions a, b (uniform)"),
        "strength_range": ParamSpec([-6.0, 6.0], float, length=2, doc="prior of circulations Γ (uniform)"),
        "marker_width_range": ParamSpec([0.8, 1.2], float, length=2, doc="prior of the marker blob width w"),
        "noise": ParamSpec(0.01, float, minimum=0.0, doc="std of the additive Gaussian noise on y*"),
        "x0": ParamSpec(
            [2.0, 3.14159, 1.0, 4.28, 3.14159, -1.0], float, length=6,
            doc="shared initial guess: two distinct vortices (a1 < a2), opposite signs",
        ),
        "bounds": ParamSpec(
            [[0.0, TWO_PI], [0.0, TWO_PI], [-8.0, 8.0], [0.0, TWO_PI], [0.0, TWO_PI], [-8.0, 8.0]],
            float, length=6, doc="box for L-BFGS-B and network scaling",
        ),
    }

    def validate(self) -> None:
        p = self.params

        def err(key: str, msg: str) -> ConfigError:
            return ConfigError(f"{self.where}.{key}", msg)

        if p["n_grid"] % 2 or p["n_grid"] < 8:
            raise err("n_grid", f"must be even and >= 8, got {p['n_grid']}")
        steps = p["horizon"] / p["dt"]
        if abs(steps - round(steps)) > 1e-9 * max(1.0, steps):
            raise err("horizon", f"must be a multiple of dt={p['dt']}, got {p['horizon']}")
        for key in ("position_range", "strength_range", "marker_width_range"):
            lo, hi = p[key]
            if not lo < hi:
                raise err(key, f"need low < high, got {p[key]}")
        if p["marker_width_range"][0] <= 0:
            raise err("marker_width_range", f"widths must be > 0, got {p['marker_width_range']}")
        for i, b in enumerate(p["bounds"]):
            if not (isinstance(b, list) and len(b) == 2 and b[0] < b[1]):
                raise err(f"bounds[{i}]", f"need [low, high], got {b}")
        x0 = p["x0"]
        if x0[0] == x0[3] and x0[1] == x0[4]:
            raise err("x0", "the two vortices must start at distinct positions (else they never separate)")
        self.steps = int(round(steps))
        self.operator = fluid_operator(p["n_grid"], p["length"])
        self._spectral: dict[tuple[torch.device, torch.dtype], dict[str, torch.Tensor]] = {}

    @property
    def grid(self) -> np.ndarray:
        return fluid_grid(self.params["n_grid"], self.params["length"])

    @property
    def max_rows_per_call(self) -> int:
        """Rows per forward/backward call of a multi-start (:func:`invnet.solvers.compose.rows_per_call`):
        a row keeps its whole autograd graph, measured at ~9.4 MB on 32² with 20 RK4 steps in
        float64 (peak RSS of one call: 0.83 GB at 64 rows, 2.8 GB at 256), growing as N² times the
        steps; calls are sized to ~2.5 GB, so a matched-cost multi-start (K·n in the thousands)
        fits a 2-core, 24 GB machine."""
        per_row = 9.4e6 * (self.params["n_grid"] / 32) ** 2 * (self.steps / 20)
        return max(1, int(2.5e9 // per_row))

    def image_shape(self) -> tuple[int, int, int]:
        """The network input :meth:`features` (y* then γ, flattened) as a 2-channel N×N image."""
        n = self.params["n_grid"]
        return (2, n, n)

    def _vortex_basis(self, device, dtype) -> dict[str, torch.Tensor]:
        key = (torch.device(device), dtype)
        if key not in self._spectral:
            p, op = self.params, self.operator
            n, length, sigma = p["n_grid"], p["length"], p["vortex_radius"]
            shape = op.mask * (n / length) ** 2 * np.exp(-0.5 * sigma**2 * op.k2)
            shape[0, 0] = 0.0  # no mean vorticity on a periodic box
            self._spectral[key] = {
                "shape": torch.as_tensor(shape, device=device).to(dtype),
                "kx": torch.as_tensor(op.kx, device=device).to(dtype),
                "ky": torch.as_tensor(op.ky, device=device).to(dtype),
            }
        return self._spectral[key]

    def vorticity_spectrum(self, x: torch.Tensor) -> torch.Tensor:
        """ω̂0 (m, N, N/2+1) of the vortices x (m, 6), in x's device and complex dtype."""
        b = self._vortex_basis(x.device, x.dtype)
        total = None
        for v in range(2):
            a, bb, g = (x[:, 3 * v + j, None, None] for j in range(3))
            phase = b["kx"] * a + b["ky"] * bb
            term = g * b["shape"] * torch.complex(torch.cos(phase), -torch.sin(phase))
            total = term if total is None else total + term
        return total

    def initial_vorticity(self, x: torch.Tensor) -> torch.Tensor:
        """ω0 on the grid (m, N, N)."""
        n = self.params["n_grid"]
        return torch.fft.irfft2(self.vorticity_spectrum(x), s=(n, n))

    def simulate(
        self, x: torch.Tensor, gamma: torch.Tensor, every: int | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(vorticity, marker) at T, or stacked every ``every`` steps (axis -3)."""
        p, op = self.params, self.operator
        coef = op.on(x.device, x.dtype)
        w = self.vorticity_spectrum(x)
        c = torch.fft.rfft2(gamma.to(device=x.device, dtype=x.dtype)) * coef["mask"]
        return _integrate(op, coef, w, c, p["dt"], self.steps, p["viscosity"], p["diffusivity"], every)

    def forward(self, x: torch.Tensor, gamma: torch.Tensor | None = None) -> torch.Tensor:
        if gamma is None:
            raise ValueError("the fluid family needs the initial marker field γ")
        return self.simulate(x, gamma)[1]

    def loss(self, y: torch.Tensor, y_target: torch.Tensor) -> torch.Tensor:
        return ((y - y_target) ** 2).mean(dim=(-2, -1))

    def sample_gamma(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """n marker blobs (n, N, N), periodic Gaussians of unit height, drawn from ``rng`` only."""
        p = self.params
        length = p["length"]
        centre = rng.uniform(*p["position_range"], size=(n, 2))
        width = rng.uniform(*p["marker_width_range"], size=n)
        z = self.grid
        d = (z[None, :] - centre[:, 0:1] + length / 2) % length - length / 2  # (n, N)
        e = (z[None, :] - centre[:, 1:2] + length / 2) % length - length / 2
        return np.exp(-(d[:, :, None] ** 2 + e[:, None, :] ** 2) / (2 * width[:, None, None] ** 2))

    def sample_prior(self, n: int, rng: np.random.Generator) -> np.ndarray:
        p = self.params
        pos = rng.uniform(*p["position_range"], size=(n, 2, 2))
        strength = rng.uniform(*p["strength_range"], size=(n, 2, 1))
        x = np.concatenate([pos, strength], axis=2)  # (n, vortex, (a, b, Γ))
        return order_vortices(x.reshape(n, 6))

    def sample(self, n: int, rng: np.random.Generator) -> ProblemSet:
        p = self.params
        x_true = self.sample_prior(n, rng)
        gamma = self.sample_gamma(n, rng)
        with torch.no_grad():
            clean = self.forward(torch.as_tensor(x_true), torch.as_tensor(gamma)).numpy()
        y = clean + p["noise"] * rng.standard_normal(clean.shape) if p["noise"] > 0 else clean
        return ProblemSet(y_target=y, x_true=x_true, gamma=gamma)

    def data_view(self, x: np.ndarray, gamma: np.ndarray | None, y_target: np.ndarray) -> dict:
        """The marker fields c(T) of the vortices x (m, 6) from one problem's c0 (its γ), with y*."""
        xt = torch.as_tensor(x, dtype=torch.float64)
        g = torch.as_tensor(gamma, dtype=torch.float64).expand(xt.shape[0], -1, -1)
        with torch.no_grad():
            c = self.forward(xt, g).numpy()
        length = self.params["length"]
        return {"kind": "images", "outputs": c, "target": y_target, "axis": [0.0, length, 0.0, length],
                "xlabel": "$x$", "ylabel": "$y$"}


def order_vortices(x: np.ndarray) -> np.ndarray:
    """The ground-truth ordering rule: vortex 1 has the smaller x-coordinate (a1 <= a2)."""
    x = np.array(x, dtype=np.float64).reshape(-1, 2, 3)
    swap = x[:, 0, 0] > x[:, 1, 0]
    x[swap] = x[swap][:, ::-1]
    return x.reshape(-1, 6)


def swap_vortices(x: np.ndarray) -> np.ndarray:
    """The same flow with the two vortices' labels exchanged."""
    x = np.asarray(x, dtype=np.float64)
    return np.concatenate([x[..., 3:6], x[..., 0:3]], axis=-1)


__all__ = [
    "Fluid",
    "FluidOperator",
    "fluid_grid",
    "fluid_operator",
    "fluid_rk4",
    "order_vortices",
    "swap_vortices",
    "velocity",
]
