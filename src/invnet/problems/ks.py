"""Kuramoto–Sivashinsky initial-state inference (docs/experiments.md §4.3): find β of a KS initial condition.

u_t = -u u_x - u_xx - u_xxxx on a periodic domain [0, L), integrated in Fourier space with
exponential time differencing RK4 (ETDRK4, Kassam & Trefethen 2005). The initial state is
u0(z) = β1 cos(2πz/L) + β2 sin(4πz/L) + γ(z), where γ is a known small random smooth field (the
identifier); the target y* is u(T). The dynamics are chaotic, so for long horizons T the loss in
β becomes rugged with many local minima.

Fourier-space system, v = rfft(u) on the grid z_j = j L / N (unnormalised coefficients):

    dv/dt = Λ v + N(v),  Λ_k = k^2 - k^4,
    N(v)  = -(i k / 2) P rfft((irfft(P v))^2),

with P the 2/3-rule projection (keep wavenumber indices j with 3 j < N). Modes removed by P
evolve linearly (and decay fast); the retained ones form the dealiased Galerkin system. The
spatial mean (mode 0) is an exact invariant.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch

from ..errors import ConfigError
from .base import ParamSpec, ProblemFamily, ProblemSet

_COMPLEX = {torch.float32: torch.complex64, torch.float64: torch.complex128}


def _complex_of(dtype: torch.dtype) -> torch.dtype:
    if dtype not in _COMPLEX:
        raise TypeError(f"KS solver supports float32/float64, got {dtype}")
    return _COMPLEX[dtype]


def ks_grid(n_grid: int, length: float) -> np.ndarray:
    """Periodic grid z_j = j L / N, j = 0..N-1 (float64)."""
    return np.arange(n_grid, dtype=np.float64) * (length / n_grid)


class KSOperator:
    """Precomputed ETDRK4 coefficients for one (N, L, dt), held in float64/complex128 on CPU.

    :meth:`on` returns the tensors cast to a working device and real dtype (cached), so the
    expensive contour integrals are evaluated once and in double precision.
    """

    def __init__(
        self, n_grid: int, length: float, dt: float, contour_points: int = 32, dealias: bool = True
    ):
        if n_grid < 4 or n_grid % 2:
            raise ValueError(f"n_grid must be even and >= 4, got {n_grid}")
        self.n_grid, self.length, self.dt = int(n_grid), float(length), float(dt)
        self.contour_points, self.dealias = int(contour_points), bool(dealias)

        j = np.arange(n_grid // 2 + 1)
        k = 2.0 * np.pi / length * j
        lin = k**2 - k**4  # Λ: real, diagonal
        mask = (3 * j < n_grid) if dealias else np.ones_like(j, dtype=bool)
        h = self.dt

        # Kassam & Trefethen (2005): φ-functions by the mean over M points on the upper half of a
        # unit circle centred at each hΛ_k (real part = mean over the full 2M-point circle), which
        # avoids the cancellation error of the closed forms for small |hΛ|.
        r = np.exp(1j * np.pi * (np.arange(1, contour_points + 1) - 0.5) / contour_points)
        lr = h * lin[:, None] + r[None, :]
        el = np.exp(lr)
        q = h * np.real(np.mean((np.exp(lr / 2) - 1) / lr, axis=1))
        f1 = h * np.real(np.mean((-4 - lr + el * (4 - 3 * lr + lr**2)) / lr**3, axis=1))
        f2 = h * np.real(np.mean((2 + lr + el * (lr - 2)) / lr**3, axis=1))
        f3 = h * np.real(np.mean((-4 - 3 * lr - lr**2 + el * (4 - lr)) / lr**3, axis=1))

        as_t = lambda a: torch.as_tensor(a, dtype=torch.float64)  # noqa: E731
        self.k = as_t(k)
        self.linear = as_t(lin)
        self.mask = as_t(mask.astype(np.float64))
        self.E, self.E2 = as_t(np.exp(h * lin)), as_t(np.exp(h * lin / 2))
        self.Q, self.f1, self.f2, self.f3 = as_t(q), as_t(f1), as_t(f2), as_t(f3)
        # N(v) = g * rfft((irfft(mask v))^2) with g = -i k/2 * mask
        self.g = torch.as_tensor(-0.5j * k * mask, dtype=torch.complex128)
        self._cache: dict[tuple[torch.device, torch.dtype], dict[str, torch.Tensor]] = {}

    def on(self, device: torch.device | str, dtype: torch.dtype) -> dict[str, torch.Tensor]:
        """The coefficients on ``device`` in real ``dtype`` (g in its complex counterpart)."""
        key = (torch.device(device), dtype)
        if key not in self._cache:
            cdt = _complex_of(dtype)
            real = {
                n: getattr(self, n).to(device=device, dtype=dtype)
                for n in ("E", "E2", "Q", "f1", "f2", "f3", "mask")
            }
            self._cache[key] = {**real, "g": self.g.to(device=device, dtype=cdt)}
        return self._cache[key]

    def nonlinear(self, v: torch.Tensor, c: dict[str, torch.Tensor]) -> torch.Tensor:
        """Dealiased N(v) = -(ik/2) P rfft((irfft(P v))^2) for spectra v (..., N/2+1)."""
        u = torch.fft.irfft(v * c["mask"], n=self.n_grid)
        return c["g"] * torch.fft.rfft(u * u)

    def step(self, v: torch.Tensor, c: dict[str, torch.Tensor]) -> torch.Tensor:
        """One ETDRK4 step of size dt (Cox & Matthews scheme, K&T coefficients)."""
        nv = self.nonlinear(v, c)
        a = c["E2"] * v + c["Q"] * nv
        na = self.nonlinear(a, c)
        b = c["E2"] * v + c["Q"] * na
        nb = self.nonlinear(b, c)
        cc = c["E2"] * a + c["Q"] * (2 * nb - nv)
        nc = self.nonlinear(cc, c)
        return c["E"] * v + c["f1"] * nv + 2 * c["f2"] * (na + nb) + c["f3"] * nc


@lru_cache(maxsize=32)
def ks_operator(
    n_grid: int, length: float, dt: float, contour_points: int = 32, dealias: bool = True
) -> KSOperator:
    """Shared, cached :class:`KSOperator` for (N, L, dt, M, dealias)."""
    return KSOperator(n_grid, length, dt, contour_points, dealias)


def ks_trajectory(
    u0: torch.Tensor,
    length: float = 22.0,
    dt: float = 0.25,
    steps: int = 80,
    *,
    every: int = 1,
    contour_points: int = 32,
    dealias: bool = True,
) -> torch.Tensor:
    """Grid states every ``every`` steps, including t = 0: u0 (..., N) -> (..., steps//every + 1, N).

    Differentiable by autograd; works in u0's device and dtype (float32 or float64).
    """
    if steps < 0 or every < 1:
        raise ValueError(f"need steps >= 0 and every >= 1, got steps={steps}, every={every}")
    n = u0.shape[-1]
    op = ks_operator(n, float(length), float(dt), contour_points, dealias)
    c = op.on(u0.device, u0.dtype)
    v = torch.fft.rfft(u0)
    out = [u0]
    for i in range(1, steps + 1):
        v = op.step(v, c)
        if i % every == 0:
            out.append(torch.fft.irfft(v, n=n))
    return torch.stack(out, dim=-2)


def ks_etdrk4(
    u0: torch.Tensor,
    length: float = 22.0,
    dt: float = 0.25,
    steps: int = 80,
    *,
    contour_points: int = 32,
    dealias: bool = True,
) -> torch.Tensor:
    """u(steps * dt) from u0 (..., N) on the periodic grid of length ``length``; differentiable."""
    if steps < 0:
        raise ValueError(f"need steps >= 0, got {steps}")
    n = u0.shape[-1]
    op = ks_operator(n, float(length), float(dt), contour_points, dealias)
    c = op.on(u0.device, u0.dtype)
    v = torch.fft.rfft(u0)
    for _ in range(steps):
        v = op.step(v, c)
    return torch.fft.irfft(v, n=n)


class KuramotoSivashinsky(ProblemFamily):
    """Infer β = (β1, β2) of u0 = β1 cos(2πz/L) + β2 sin(4πz/L) + γ from y* = u(T) (+ noise).

    γ (shape (n_grid,)) = Σ_{k=1..K} a_k cos(2πkz/L) + b_k sin(2πkz/L), with K = gamma_modes and
    a_k, b_k ~ U(-gamma_amplitude, gamma_amplitude) i.i.d. (RMS of γ = gamma_amplitude·sqrt(K/3)).
    """

    name = "ks"
    label = "Kuramoto-Sivashinsky"
    noise_free = {"noise": 0.0}
    test_params = {"horizon": 2.0}  # 8 steps: fast contract tests
    cost = 60.0  # forward+backward at T = 20, 256 problems, 1 thread: ~65x the wave packet
    param_names = ("beta1", "beta2")
    params_spec = {
        "length": ParamSpec(22.0, float, positive=True, doc="periodic domain length L"),
        "n_grid": ParamSpec(64, int, positive=True, doc="grid points N (even)"),
        "dt": ParamSpec(0.25, float, positive=True, doc="ETDRK4 time step"),
        "horizon": ParamSpec(20.0, float, positive=True, doc="observation time T (multiple of dt)"),
        "contour_points": ParamSpec(32, int, positive=True, doc="K&T contour points (half circle)"),
        "noise": ParamSpec(0.0, float, doc="std of the additive Gaussian noise on y*"),
        "gamma_amplitude": ParamSpec(0.1, float, doc="γ Fourier coefficients ~ U(-a, a)"),
        "gamma_modes": ParamSpec(3, int, positive=True, doc="γ uses wavenumbers 1..K"),
        "beta_range": ParamSpec([-1.0, 1.0], float, length=2, doc="prior of β1 and β2 (uniform)"),
        "x0": ParamSpec([0.0, 0.0], float, length=2, doc="shared initial guess (β1, β2)"),
        "bounds": ParamSpec(
            [[-1.0, 1.0], [-1.0, 1.0]], float, length=2, doc="box for L-BFGS-B and network scaling"
        ),
    }

    def prior_ranges(self) -> list[tuple[str, int, tuple[float, float]]]:
        r = tuple(self.params["beta_range"])
        return [("beta_range", 0, r), ("beta_range", 1, r)]

    def validate(self) -> None:
        p = self.params

        def err(key: str, msg: str) -> ConfigError:
            return ConfigError(f"experiments.{self.name}.problem.{key}", msg)

        if p["n_grid"] % 2 or p["n_grid"] < 8:
            raise err("n_grid", f"must be even and >= 8, got {p['n_grid']}")
        steps = p["horizon"] / p["dt"]
        if abs(steps - round(steps)) > 1e-9 * max(1.0, steps):
            raise err("horizon", f"must be a multiple of dt={p['dt']}, got {p['horizon']}")
        for key in ("noise", "gamma_amplitude"):
            if p[key] < 0:
                raise err(key, f"must be >= 0, got {p[key]}")
        if 3 * p["gamma_modes"] >= p["n_grid"]:
            raise err("gamma_modes", f"must be < n_grid/3 (dealiased band), got {p['gamma_modes']}")
        lo, hi = p["beta_range"]
        if not lo < hi:
            raise err("beta_range", f"need low < high, got {p['beta_range']}")
        for i, b in enumerate(p["bounds"]):
            if not (isinstance(b, list) and len(b) == 2 and b[0] < b[1]):
                raise err(f"bounds[{i}]", f"need [low, high], got {b}")

        self.steps = int(round(steps))
        self.operator = ks_operator(p["n_grid"], p["length"], p["dt"], p["contour_points"], True)
        z = 2.0 * np.pi * ks_grid(p["n_grid"], p["length"]) / p["length"]
        self._z = z
        self._basis64 = torch.as_tensor(np.stack([np.cos(z), np.sin(2 * z)]), dtype=torch.float64)
        self._basis: dict[tuple[torch.device, torch.dtype], torch.Tensor] = {}

    @property
    def grid(self) -> np.ndarray:
        """Grid points z_j (float64, (n_grid,))."""
        return ks_grid(self.params["n_grid"], self.params["length"])

    def initial_state(self, x: torch.Tensor, gamma: torch.Tensor | None = None) -> torch.Tensor:
        """u0 on the grid for each β: x (m, 2), γ (m, N) or None -> (m, N), in x's device/dtype."""
        key = (x.device, x.dtype)
        if key not in self._basis:
            self._basis[key] = self._basis64.to(device=x.device, dtype=x.dtype)
        basis = self._basis[key]
        # Element-wise, not x @ basis: BLAS picks kernels (and rounding) by batch size, so a
        # matmul made a problem's u0 depend on the batch it is in by round-off, which chaos
        # amplifies (batched BFGS then drifts from a per-problem SciPy loop).
        u0 = x[:, 0:1] * basis[0] + x[:, 1:2] * basis[1]
        if gamma is not None:
            u0 = u0 + gamma.to(device=x.device, dtype=x.dtype)
        return u0

    def forward(self, x: torch.Tensor, gamma: torch.Tensor | None = None) -> torch.Tensor:
        p = self.params
        return ks_etdrk4(
            self.initial_state(x, gamma),
            p["length"],
            p["dt"],
            self.steps,
            contour_points=p["contour_points"],
        )

    def trajectory(
        self, x: torch.Tensor, gamma: torch.Tensor | None = None, every: int = 1
    ) -> torch.Tensor:
        """Space-time field to the horizon: (m, steps//every + 1, N), e.g. for plots."""
        p = self.params
        u0 = self.initial_state(x, gamma)
        return ks_trajectory(
            u0, p["length"], p["dt"], self.steps, every=every, contour_points=p["contour_points"]
        )

    def loss(self, y: torch.Tensor, y_target: torch.Tensor) -> torch.Tensor:
        return ((y - y_target) ** 2).mean(dim=-1)

    def sample_gamma(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """n identifier fields γ, (n, n_grid) float64, drawn from ``rng`` only."""
        p = self.params
        amp, kmax = p["gamma_amplitude"], p["gamma_modes"]
        coef = rng.uniform(-amp, amp, size=(n, 2, kmax))
        kz = np.arange(1, kmax + 1)[:, None] * self._z[None, :]  # (K, N)
        return coef[:, 0] @ np.cos(kz) + coef[:, 1] @ np.sin(kz)

    def sample(self, n: int, rng: np.random.Generator) -> ProblemSet:
        p = self.params
        x_true = rng.uniform(*p["beta_range"], size=(n, 2))
        gamma = self.sample_gamma(n, rng)
        with torch.no_grad():
            clean = self.forward(torch.as_tensor(x_true), torch.as_tensor(gamma)).numpy()
        y = clean + p["noise"] * rng.standard_normal(clean.shape) if p["noise"] > 0 else clean
        return ProblemSet(y_target=y, x_true=x_true, gamma=gamma)

    def data_view(self, x: np.ndarray, gamma: np.ndarray | None, y_target: np.ndarray) -> dict:
        """The fields u(z, T) of the solutions β (m, 2) of one problem (its γ) against z, over y*."""
        xt = torch.as_tensor(x, dtype=torch.float64)
        g = None if gamma is None else torch.as_tensor(gamma, dtype=torch.float64).expand(xt.shape[0], -1)
        with torch.no_grad():
            y = self.forward(xt, g).numpy()
        return {"kind": "curves", "outputs": y, "target": y_target, "axis": self.grid,
                "xlabel": "$z$", "ylabel": "$u(z, T)$"}


__all__ = [
    "KSOperator",
    "KuramotoSivashinsky",
    "ks_etdrk4",
    "ks_grid",
    "ks_operator",
    "ks_trajectory",
]
