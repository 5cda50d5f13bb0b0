"""SciPy's BFGS for many independent small problems at once, vectorised over problems in torch.

:func:`bfgs_batched` runs, for every problem, exactly the algorithm of
``scipy.optimize.minimize(fun, x0_i, jac=True, method="BFGS")`` (``_minimize_bfgs`` with its
MINPACK line search ``scalar_search_wolfe1`` / ``DCSRCH`` / ``dcstep``), written as a masked
state machine over the batch: each problem has its own inverse Hessian, its own line-search state
(stage, bracket, ...) and its own stopping rule, and in every *round* all problems that still
search get their next function value and gradient from ONE call of the batched objective.

Exactness. All scalar arithmetic follows SciPy's order of operations (``torch.where`` for its
branches, Python ``min``/``max``/``np.clip`` semantics for NaN and ties). The few BLAS calls of
``_minimize_bfgs`` (``np.dot`` as ddot, dgemv and dgemm) are reproduced with their summation order
and fused multiply-adds, the FMAs emulated exactly in plain float64 arithmetic (Dekker/Knuth
error-free transforms). The orders are those of the OpenBLAS Haswell/SkylakeX kernels that NumPy
ships for x86-64 (measured, see ``tests/test_batched_bfgs.py``); on another BLAS or device the
result still agrees with SciPy to rounding, i.e. to ~1e-15 unless a line-search decision flips.
torch's CPU float64 ``sqrt`` is not correctly rounded, so square roots are refined to match
``np.sqrt``. With these, iterates, ``nit``, ``nfev`` and ``status`` are bit-identical to SciPy's
whenever the batched objective returns the same bits as the single-problem one.
Problems whose MINPACK search fails fall back, one by one, to SciPy's own ``line_search_wolfe2``
(as ``_line_search_wolfe12`` does) with single-problem evaluations: exact, only slow for the rare
problems that need it.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch

FunAndGrad = Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]
RoundCallback = Callable[[int, torch.Tensor], None]

# scalar_search_wolfe1 / DCSRCH constants as _minimize_bfgs uses them
_AMIN, _AMAX, _XTOL, _LS_MAXITER = 1e-100, 1e100, 1e-14, 100
_WIDTH0 = _AMAX - _AMIN
_WIDTH1_0 = _WIDTH0 / 0.5
_SPLITTER = 134217729.0  # 2**27 + 1, Veltkamp splitting of a float64


@dataclass
class BatchedResult:
    """Per-problem outcome of a batched SciPy optimiser, with SciPy's meaning of each field.

    ``status``: 0 success, 1 maxiter, 2 precision loss / line-search failure, 3 NaN.
    ``rounds``: number of batched objective calls (single-problem fallback calls not included).
    """

    x: torch.Tensor  # (n, d)
    fun: torch.Tensor  # (n,)
    jac: torch.Tensor  # (n, d)
    nit: torch.Tensor  # (n,) int64
    nfev: torch.Tensor  # (n,) int64, counted like SciPy's res.nfev
    status: torch.Tensor  # (n,) int64
    rounds: int


# --- exact float64 building blocks ---------------------------------------------------------------


def _split(a: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Veltkamp split a = hi + lo, each half with at most 26 significant bits."""
    t = a * _SPLITTER
    hi = t - (t - a)
    return hi, a - hi


def _prod_err(a: torch.Tensor, b: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
    """Exact rounding error of p = a*b (Dekker), so that a*b = p + err."""
    ah, al = _split(a)
    bh, bl = _split(b)
    return ((ah * bh - p) + ah * bl + al * bh) + al * bl


def _fma_parts(p: torch.Tensor, e: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    """fma(a, b, c) given p = a*b and its error e: round(p + e + c) via TwoSum.

    Correctly rounded except for double rounding of the two tiny error terms (probability ~2**-50);
    falls back to p + c where the transforms overflow.
    """
    s = p + c
    z = s - p
    r = s + (((p - (s - z)) + (c - z)) + e)
    return torch.where(torch.isfinite(r), r, s)


def _fma(a: torch.Tensor, b: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    """a*b + c with a single rounding, like the hardware FMA inside OpenBLAS."""
    p = a * b
    return _fma_parts(p, _prod_err(a, b, p), c)


def _sqrt(x: torch.Tensor) -> torch.Tensor:
    """Correctly rounded square root, like ``np.sqrt``: torch's float64 sqrt on CPU is off by one
    ulp for ~1% of inputs, so refine it once with the exact residual x - r*r (no-op where exact)."""
    r = torch.sqrt(x)
    p = r * r
    res = (x - p) - _prod_err(r, r, p)
    return torch.where((x > 1e-290) & (x < 1e300), r + res / (r + r), r)


def _ddot_uses_fma() -> bool:
    """Which order NumPy's ddot has for short vectors here: an FMA chain (OpenBLAS SkylakeX
    kernel) or rounded products summed in turn (the Haswell kernel's scalar loop, below 16)."""
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((2, 64, 8))
    plain = a[:, 0] * b[:, 0]
    for k in range(1, 8):
        plain = plain + a[:, k] * b[:, k]
    return not all(np.dot(x, y) == s for x, y, s in zip(a, b, plain))


_DDOT_FMA = _ddot_uses_fma()


def _dot(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Row-wise ``np.dot`` of 1-D vectors in the order of NumPy's ddot here (one FMA chain from
    +0, or rounded products summed in turn; see :func:`_ddot_uses_fma`)."""
    p = a * b
    s = p[:, 0] + 0.0
    if not _DDOT_FMA:
        for k in range(1, a.shape[1]):
            s = s + p[:, k]
        return s
    e = _prod_err(a, b, p)
    for k in range(1, a.shape[1]):
        s = _fma_parts(p[:, k], e[:, k], s)
    return s


def _matmul(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Batched ``np.dot`` of (d, d) matrices (OpenBLAS dgemm: one FMA chain over k from +0)."""
    ah, al = _split(a)
    bh, bl = _split(b)
    c = a[:, :, 0:1] * b[:, 0:1, :] + 0.0
    for k in range(1, a.shape[2]):
        ak, bk = a[:, :, k : k + 1], b[:, k : k + 1, :]
        ahk, alk = ah[:, :, k : k + 1], al[:, :, k : k + 1]
        bhk, blk = bh[:, k : k + 1, :], bl[:, k : k + 1, :]
        p = ak * bk
        e = ((ahk * bhk - p) + ahk * blk + alk * bhk) + alk * blk
        c = _fma_parts(p, e, c)
    return c


def _matvec(h: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    """Batched ``np.dot(H, g)`` for C-ordered H: OpenBLAS dgemv_t's summation order.

    Columns in blocks of four go through the 4x4 kernel (four FMA lanes, then (l0+l2)+(l1+l3)) for
    the first 4*(d//4) rows, and the SSE 4x2 / 4x1 kernels (no FMA) for the remaining rows; the
    last d % 4 columns are added by C code that the compiler contracted into FMAs.
    """
    d = g.shape[1]
    m1, m3 = d - d % 4, d % 4
    prod = h * g[:, None, :]
    y = torch.zeros_like(g)
    if m1:
        parts = []
        p4 = prod[:, :m1, :m1]
        e4 = _prod_err(h[:, :m1, :m1], g[:, None, :m1], p4)
        lanes = []
        for lane in range(4):
            acc = p4[..., lane] + 0.0
            for c in range(lane + 4, m1, 4):
                acc = _fma_parts(p4[..., c], e4[..., c], acc)
            lanes.append(acc)
        parts.append((lanes[0] + lanes[2]) + (lanes[1] + lanes[3]))
        row = m1
        if d & 2:
            q = prod[:, row : row + 2, :m1]
            even, odd = q[..., 0] + 0.0, q[..., 1] + 0.0
            for c in range(2, m1, 2):
                even, odd = even + q[..., c], odd + q[..., c + 1]
            parts.append(even + odd)
            row += 2
        if d & 1:
            q = prod[:, row, :m1]
            acc = [q[:, j] + 0.0 for j in range(4)]
            for c in range(4, m1, 4):
                acc = [acc[j] + q[:, c + j] for j in range(4)]
            parts.append(((acc[0] + acc[2]) + (acc[1] + acc[3]))[:, None])
        y = y + torch.cat(parts, dim=1)
    if m3 == 1:
        y = _fma(h[..., m1], g[:, m1 : m1 + 1], y)
    elif m3 == 2:
        y = y + _fma(h[..., m1], g[:, m1 : m1 + 1], prod[..., m1 + 1])
    elif m3 == 3:
        inner = _fma(h[..., m1], g[:, m1 : m1 + 1], prod[..., m1 + 1])
        y = y + _fma(h[..., m1 + 2], g[:, m1 + 2 : m1 + 3], inner)
    return y


def _np_sum(a: torch.Tensor) -> torch.Tensor:
    """Row-wise ``np.sum`` of a short vector: sequential below 8 terms, else NumPy's 8 lanes."""
    d = a.shape[1]
    if d < 8:
        s = a[:, 0]
        for k in range(1, d):
            s = s + a[:, k]
        return s
    r = [a[:, j] for j in range(8)]
    i = 8
    while i < d - d % 8:
        r = [r[j] + a[:, i + j] for j in range(8)]
        i += 8
    s = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]))
    for k in range(i, d):
        s = s + a[:, k]
    return s


def _vecnorm(x: torch.Tensor, ord: float) -> torch.Tensor:
    """SciPy's ``vecnorm`` row-wise (max/min of |x| for +-inf, else (sum |x|**ord)**(1/ord))."""
    if ord == math.inf:
        return x.abs().amax(dim=1)
    if ord == -math.inf:
        return x.abs().amin(dim=1)
    a = x.abs()
    return _np_sum(a * a if ord == 2 else a**ord) ** (1.0 / ord)


def _pymin(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Python's min(a, b): a unless b < a (NaN and ties keep a)."""
    return torch.where(b < a, b, a)


def _pymax(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Python's max(a, b): a unless b > a."""
    return torch.where(b > a, b, a)


def _npclip(x: torch.Tensor, lo: torch.Tensor | float, hi: torch.Tensor | float) -> torch.Tensor:
    """``np.clip`` for floats: min(max(x, lo), hi), each step keeping a NaN first argument."""
    y = torch.where((x > lo) | torch.isnan(x), x, lo)
    return torch.where((y < hi) | torch.isnan(y), y, hi)


# --- MINPACK line search (scipy.optimize._dcsrch) -------------------------------------------------


def _dcstep(
    stx: torch.Tensor,
    fx: torch.Tensor,
    dx: torch.Tensor,
    sty: torch.Tensor,
    fy: torch.Tensor,
    dy: torch.Tensor,
    stp: torch.Tensor,
    fp: torch.Tensor,
    dp: torch.Tensor,
    brackt: torch.Tensor,
    stpmin: torch.Tensor,
    stpmax: torch.Tensor,
) -> tuple[torch.Tensor, ...]:
    """``dcstep`` for all rows: safeguarded cubic/quadratic step and interval update.

    The four cases of the original are evaluated together; the cubic of cases 1-3 through
    (stx, stp) and that of case 4 through (sty, stp) share one evaluation with per-row endpoints
    (the reflected formula of case 4 is bitwise the same up to the sign of a zero).
    """
    c1 = fp > fx
    opp = ((dp < 0) & (dx > 0)) | ((dp > 0) & (dx < 0))  # sign(dp) * sign(dx) < 0
    c2 = ~c1 & opp
    c3 = ~c1 & ~opp & (dp.abs() < dx.abs())
    c4 = ~c1 & ~opp & ~c3
    a = torch.where(c4, sty, stx)
    fa = torch.where(c4, fy, fx)
    da = torch.where(c4, dy, dx)
    theta = 3.0 * (fa - fp) / (stp - a) + da + dp
    s = _pymax(_pymax(theta.abs(), da.abs()), dp.abs())
    ts = theta / s
    rad = ts * ts - (da / s) * (dp / s)
    rad = torch.where(c3 & ~(rad > 0), 0.0, rad)  # max(0, rad) in case 3
    gamma = s * _sqrt(rad)
    gamma = torch.where(torch.where(c1, stp < a, stp > a), -gamma, gamma)
    gu = gamma - torch.where(c1, dx, dp)
    p = gu + theta
    q = torch.where(c3, (gamma + (dx - dp)) + gamma, (gu + gamma) + torch.where(c1, dp, da))
    r = p / q
    stpc = torch.where(c1, stx + r * (stp - stx), stp + r * (a - stp))
    edge = torch.where(stp > stx, stpmax, stpmin)
    stpc = torch.where(c3 & ~((r < 0) & (gamma != 0)), edge, stpc)
    stpq = torch.where(
        c1,
        stx + ((dx / ((fx - fp) / (stp - stx) + dx)) / 2.0) * (stp - stx),
        stp + (dp / (dp - dx)) * (stx - stp),
    )
    dc = torch.where(c1, (stpc - stx).abs(), (stpc - stp).abs())
    dq = torch.where(c1, (stpq - stx).abs(), (stpq - stp).abs())
    f1 = torch.where(dc <= dq, stpc, stpc + (stpq - stpc) / 2.0)
    f2 = torch.where(dc > dq, stpc, stpq)
    f3 = torch.where(dc < dq, stpc, stpq)
    lim = stp + 0.66 * (sty - stp)
    f3 = torch.where(stp > stx, _pymin(lim, f3), _pymax(lim, f3))
    f3 = torch.where(brackt, f3, _npclip(f2, stpmin, stpmax))
    f4 = torch.where(brackt, stpc, edge)
    stpf = torch.where(c1, f1, torch.where(c2, f2, torch.where(c3, f3, f4)))
    y_from_x = ~c1 & opp
    nsty = torch.where(c1, stp, torch.where(y_from_x, stx, sty))
    nfy = torch.where(c1, fp, torch.where(y_from_x, fx, fy))
    ndy = torch.where(c1, dp, torch.where(y_from_x, dx, dy))
    nstx = torch.where(c1, stx, stp)
    nfx = torch.where(c1, fx, fp)
    ndx = torch.where(c1, dx, dp)
    return nstx, nfx, ndx, nsty, nfy, ndy, stpf, brackt | c1 | c2


# --- batch state ---------------------------------------------------------------------------------

# per-problem scalars, stored as the rows of one (len(_COLS), n) float64 tensor
_COLS = (
    "f", "fold", "gnorm", "warn", "nit", "nfev", "fresh",  # BFGS
    "stp", "ginit", "gtest", "stx", "fx", "gx", "sty", "fy", "gy",  # DCSRCH
    "stmin", "stmax", "width", "width1", "brackt", "stage", "calls",
)  # fmt: skip


@dataclass
class _Rows:
    """Gathered state of some problems: scalars ``c`` by name, iterate x, gradient g, search
    direction p, last evaluated point xl (SciPy's ScalarFunction cache) and inverse Hessian h."""

    c: dict[str, torch.Tensor]
    x: torch.Tensor
    g: torch.Tensor
    p: torch.Tensor
    xl: torch.Tensor
    h: torch.Tensor

    def merge(self, mask: torch.Tensor, names: tuple[str, ...], block: torch.Tensor) -> None:
        """Overwrite the scalars ``names`` with the rows of ``block`` (len(names), m) where
        ``mask``: one stacked ``where`` instead of one per scalar (the per-op overhead dominates)."""
        old = torch.stack([self.c[k] for k in names])
        self.c.update(zip(names, torch.where(mask, block, old).unbind(0)))


@dataclass
class _Options:
    """The solver's settings, plus constants it needs on the device."""

    gtol: float
    maxiter: int
    norm: float
    c1: float
    c2: float
    xrtol: float
    start_consts: torch.Tensor  # width, width1, brackt, stage, calls after DCSRCH 'START'


_START = ("ginit", "gtest", "stp", "stx", "fx", "gx", "sty", "fy", "gy", "stmin", "stmax")
_START_CONSTS = ("width", "width1", "brackt", "stage", "calls")
_SEARCH = (
    "stp",
    "stx",
    "fx",
    "gx",
    "sty",
    "fy",
    "gy",
    "stmin",
    "stmax",
    "width",
    "width1",
    "brackt",
    "stage",
    "calls",
)
_ACCEPT = ("fold", "f", "gnorm", "nit", "warn")


class _Batch:
    """All problems' state in a few stacked tensors; gather/scatter by problem index."""

    def __init__(self, x0: torch.Tensor):
        n, d = x0.shape
        self.s = torch.zeros(len(_COLS), n, dtype=x0.dtype, device=x0.device)
        self.v = torch.zeros(4, n, d, dtype=x0.dtype, device=x0.device)  # x, g, p, xl
        self.h = torch.eye(d, dtype=x0.dtype, device=x0.device).expand(n, d, d).clone()
        self.done = torch.zeros(n, dtype=torch.bool, device=x0.device)

    def gather(self, idx: torch.Tensor) -> _Rows:
        x, g, p, xl = self.v.index_select(1, idx).unbind(0)
        return _Rows(dict(zip(_COLS, self.s.index_select(1, idx).unbind(0))), x, g, p, xl, self.h[idx])

    def scatter(self, idx: torch.Tensor, rows: _Rows, finished: torch.Tensor) -> None:
        self.s.index_copy_(1, idx, torch.stack([rows.c[k] for k in _COLS]))
        self.v.index_copy_(1, idx, torch.stack([rows.x, rows.g, rows.p, rows.xl]))
        self.h.index_copy_(0, idx, rows.h)
        self.done.index_copy_(0, idx, self.done[idx] | finished)


def _start_search(rows: _Rows, mask: torch.Tensor, opt: _Options) -> torch.Tensor:
    """New direction p = -H g and DCSRCH 'START' with scalar_search_wolfe1's initial step.

    Returns the rows (within ``mask``) whose START is an error, which SciPy hands to wolfe2.
    """
    c = rows.c
    p = -_matvec(rows.h, rows.g)
    dphi0 = _dot(rows.g, p)
    guess = (1.01 * 2) * (c["f"] - c["fold"]) / dphi0
    alpha1 = torch.where(guess < 1.0, guess, 1.0)  # min(1.0, guess)
    alpha1 = torch.where(alpha1 < 0, 1.0, alpha1)
    alpha1 = torch.where(dphi0 != 0, alpha1, 1.0)
    error = (alpha1 < _AMIN) | (alpha1 > _AMAX) | (dphi0 >= 0)
    zero, f = torch.zeros_like(alpha1), c["f"]
    rows.p = torch.where(mask[:, None], p, rows.p)
    block = torch.stack(
        [dphi0, opt.c1 * dphi0, alpha1, zero, f, dphi0, zero, f, dphi0, zero, alpha1 + 4.0 * alpha1]
    )
    consts = opt.start_consts[:, None].expand(len(_START_CONSTS), alpha1.shape[0])
    rows.merge(mask, _START + _START_CONSTS, torch.cat([block, consts]))
    return mask & error


def _search_step(
    rows: _Rows, f: torch.Tensor, g: torch.Tensor, opt: _Options
) -> tuple[torch.Tensor, torch.Tensor, bool]:
    """One DCSRCH call for every row, given phi(stp) = f and phi'(stp) = g.

    Returns (converged, failed, any converged); the other rows get their next trial step in
    ``c['stp']``. The step computation is skipped when every row has terminated (one host sync).
    """
    c = rows.c
    stp, gtest, ginit = c["stp"], c["gtest"], c["ginit"]
    brackt, stmin, stmax = c["brackt"] != 0, c["stmin"], c["stmax"]
    ftest = c["f"] + stp * gtest
    stage1 = (c["stage"] == 1) & ~((f <= ftest) & (g >= 0))
    warn = (
        (brackt & ((stp <= stmin) | (stp >= stmax)))
        | (brackt & (stmax - stmin <= _XTOL * stmax))
        | ((stp == _AMAX) & (f <= ftest) & (g <= gtest))
        | ((stp == _AMIN) & ((f > ftest) | (g >= gtest)))
    )
    conv = (f <= ftest) & (g.abs() <= opt.c2 * -ginit)
    limit = c["calls"] >= _LS_MAXITER  # scalar_search_wolfe1's maxiter=100 DCSRCH calls
    failed = limit | (warn & ~conv)
    conv = conv & ~limit
    going = ~(conv | failed)
    any_going, any_conv = torch.stack([going.any(), conv.any()]).tolist()
    if not any_going:
        return conv, failed, any_conv

    # modified function psi in stage 1 when f decreased but not sufficiently
    mod = stage1 & (f <= c["fx"]) & (f > ftest)
    fx, fy, gx, gy, stx, sty = c["fx"], c["fy"], c["gx"], c["gy"], c["stx"], c["sty"]
    out = _dcstep(
        stx, torch.where(mod, fx - stx * gtest, fx), torch.where(mod, gx - gtest, gx),
        sty, torch.where(mod, fy - sty * gtest, fy), torch.where(mod, gy - gtest, gy),
        stp, torch.where(mod, f - stp * gtest, f), torch.where(mod, g - gtest, g),
        brackt, stmin, stmax,
    )  # fmt: skip
    nstx, nfx, ngx, nsty, nfy, ngy, nstp, nbr = out
    nfx = torch.where(mod, nfx + nstx * gtest, nfx)
    nfy = torch.where(mod, nfy + nsty * gtest, nfy)
    ngx = torch.where(mod, ngx + gtest, ngx)
    ngy = torch.where(mod, ngy + gtest, ngy)

    spread = (nsty - nstx).abs()
    nstp = torch.where(nbr & (spread >= 0.66 * c["width1"]), nstx + 0.5 * (nsty - nstx), nstp)
    nwidth1 = torch.where(nbr, c["width"], c["width1"])
    nwidth = torch.where(nbr, spread, c["width"])
    nstmin = torch.where(nbr, _pymin(nstx, nsty), nstp + 1.1 * (nstp - nstx))
    nstmax = torch.where(nbr, _pymax(nstx, nsty), nstp + 4.0 * (nstp - nstx))
    nstp = _npclip(nstp, _AMIN, _AMAX)
    stuck = nbr & ((nstp <= nstmin) | (nstp >= nstmax) | (nstmax - nstmin <= _XTOL * nstmax))
    nstp = torch.where(stuck, nstx, nstp)

    stage = torch.where(stage1, 1.0, 2.0)
    block = [
        nstp,
        nstx,
        nfx,
        ngx,
        nsty,
        nfy,
        ngy,
        nstmin,
        nstmax,
        nwidth,
        nwidth1,
        nbr.to(stp.dtype),
        stage,
        c["calls"] + 1,
    ]
    rows.merge(going, _SEARCH, torch.stack(block))
    return conv, failed | (going & ~torch.isfinite(nstp)), any_conv


def _accept_step(
    rows: _Rows,
    mask: torch.Tensor,
    alpha: torch.Tensor,
    fnew: torch.Tensor,
    gnew: torch.Tensor,
    opt: _Options,
    rho_inv: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The rest of one ``_minimize_bfgs`` iteration after a successful line search (rows in mask).

    Takes the step, applies SciPy's stopping tests and the inverse-Hessian update, and starts the
    next line search. ``rho_inv`` = y.s if the caller already has it. Returns (finished,
    start_error) masks.
    """
    c = rows.c
    m = mask[:, None]
    sk = alpha[:, None] * rows.p
    x1 = rows.x + sk
    yk = gnew - rows.g
    nit = c["nit"] + 1
    gnorm = _vecnorm(gnew, opt.norm)
    stop = (gnorm <= opt.gtol) | (alpha * _vecnorm(rows.p, 2) <= opt.xrtol * (opt.xrtol + _vecnorm(x1, 2)))
    nonfinite = ~stop & ~torch.isfinite(fnew)
    stop = stop | nonfinite

    if rho_inv is None:
        rho_inv = _dot(yk, sk)
    rho = torch.where(rho_inv == 0.0, 1000.0, 1.0 / rho_inv)
    eye = torch.eye(sk.shape[1], dtype=sk.dtype, device=sk.device)
    r3 = rho[:, None, None]
    a1 = eye - sk[:, :, None] * yk[:, None, :] * r3
    a2 = eye - yk[:, :, None] * sk[:, None, :] * r3
    h1 = _matmul(a1, _matmul(rows.h, a2)) + (r3 * sk[:, :, None] * sk[:, None, :])

    rows.h = torch.where((mask & ~stop)[:, None, None], h1, rows.h)
    rows.x = torch.where(m, x1, rows.x)
    rows.g = torch.where(m, gnew, rows.g)
    rows.merge(mask, _ACCEPT, torch.stack([c["f"], fnew, gnorm, nit, torch.where(nonfinite, 1.0, c["warn"])]))
    going = mask & ~stop & (gnorm > opt.gtol) & (nit < opt.maxiter)
    return mask & ~going, _start_search(rows, going, opt)


# --- rare path: SciPy's wolfe2 for one problem ---------------------------------------------------


class _ScalarProblem:
    """One problem behind SciPy's ScalarFunction cache: same values and the same nfev count
    (a value at a new point costs one evaluation; a gradient alone is counted by njev only)."""

    def __init__(self, fun_and_grad: FunAndGrad, i: int, like: torch.Tensor, x_last: np.ndarray, fresh: bool):
        self.fun_and_grad = fun_and_grad
        self.idx = torch.tensor([i], device=like.device)
        self.like = like
        self.x = x_last
        self.f_updated = fresh
        self.nfev = 0
        self._memo: tuple[np.ndarray, float, np.ndarray] | None = None

    def _move(self, x: np.ndarray) -> None:
        if not np.array_equal(x, self.x):
            self.x = np.array(x, dtype=np.float64)
            self.f_updated = False

    def _values(self) -> tuple[float, np.ndarray]:
        if self._memo is None or not np.array_equal(self._memo[0], self.x):
            xt = torch.as_tensor(self.x, dtype=self.like.dtype).to(self.like.device)[None]
            f, g = self.fun_and_grad(xt, self.idx)
            self._memo = (
                self.x,
                float(f.reshape(-1)[0]),
                g.reshape(-1).detach().to("cpu", torch.float64).numpy(),
            )
        return self._memo[1], self._memo[2]

    def fun(self, x: np.ndarray) -> float:
        self._move(x)
        if not self.f_updated:
            self.nfev += 1
            self.f_updated = True
        return self._values()[0]

    def grad(self, x: np.ndarray) -> np.ndarray:
        self._move(x)
        return self._values()[1]


def _fallback(batch: _Batch, idx: torch.Tensor, fun_and_grad: FunAndGrad, opt: _Options) -> None:
    """``_line_search_wolfe12``'s second try for problems whose DCSRCH failed: SciPy's
    ``line_search_wolfe2``, one problem at a time; failures end with status 2 (``_LineSearchError``)."""
    # imported here: scipy.optimize costs a job 0.4 s of CPU, and most solvers never get here
    from scipy.optimize._linesearch import LineSearchWarning, line_search_wolfe2

    while idx.numel():
        rows = batch.gather(idx)
        c = rows.c
        xk, pk, gk, xl = (t.cpu().numpy() for t in (rows.x, rows.p, rows.g, rows.xl))
        f0, fold, fresh = (c[k].tolist() for k in ("f", "fold", "fresh"))
        alpha, fnew, gnew, xlast, fresh_out, extra, ok = [], [], [], [], [], [], []
        for j, i in enumerate(idx.tolist()):
            prob = _ScalarProblem(fun_and_grad, i, rows.x, xl[j].copy(), bool(fresh[j]))
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", LineSearchWarning)
                a, _, _, fa, _, ga = line_search_wolfe2(
                    prob.fun, prob.grad, xk[j], pk[j], gk[j], f0[j], fold[j], c1=opt.c1, c2=opt.c2, amax=_AMAX
                )
            if a is not None and ga is None:
                ga = prob.grad(xk[j] + a * pk[j])
            ok.append(a is not None)
            alpha.append(0.0 if a is None else float(a))
            fnew.append(0.0 if a is None else float(fa))
            gnew.append(gk[j] if a is None else np.asarray(ga, dtype=np.float64))
            xlast.append(prob.x)
            fresh_out.append(float(prob.f_updated))
            extra.append(float(prob.nfev))

        def tensor(values: list) -> torch.Tensor:
            return torch.as_tensor(
                np.asarray(values, dtype=np.float64), device=rows.x.device, dtype=rows.x.dtype
            )

        okm = tensor(ok) != 0
        rows.xl = tensor(xlast)
        c["fresh"], c["nfev"] = tensor(fresh_out), c["nfev"] + tensor(extra)
        c["warn"] = torch.where(okm, c["warn"], 1.0)
        finished, start_error = _accept_step(rows, okm, tensor(alpha), tensor(fnew), tensor(gnew), opt)
        batch.scatter(idx, rows, finished | ~okm)
        idx = idx[start_error]


# --- driver --------------------------------------------------------------------------------------


def _evaluate(
    fun_and_grad: FunAndGrad, x: torch.Tensor, idx: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """One batched call; values (m,) and gradients (m, d) detached, in x's dtype."""
    f, g = fun_and_grad(x, idx)
    return f.detach().to(x.dtype).reshape(-1), g.detach().to(x.dtype).reshape(x.shape)


def bfgs_batched(
    fun_and_grad: FunAndGrad,
    x0: torch.Tensor,
    *,
    gtol: float = 1e-5,
    maxiter: int | None = None,
    norm: float = float("inf"),
    c1: float = 1e-4,
    c2: float = 0.9,
    xrtol: float = 0.0,
    callback: RoundCallback | None = None,
) -> BatchedResult:
    """SciPy BFGS (``jac=True``) for each row of ``x0`` (n, d), all problems advanced together.

    ``fun_and_grad(x (m, d), idx (m,))`` returns the losses (m,) and gradients (m, d) of problems
    ``idx`` at ``x``. Round 0 evaluates every problem at x0; each later round evaluates, in one
    call, the next line-search trial point of every problem that has not finished, so the number
    of rounds is the largest per-problem ``nfev`` (plus rare fallback detours). After each round
    k = 0, 1, ... ``callback(k, f)`` gets the loss at every problem's current iterate (k = 0: at
    x0; finished problems keep their final value). Works in float64 on x0's device.
    """
    if not 0 < c1 < c2 < 1:
        raise ValueError("'c1' and 'c2' do not satisfy'0 < c1 < c2 < 1'.")
    x0 = x0.detach().to(torch.float64)
    n, d = x0.shape
    consts = torch.tensor([_WIDTH0, _WIDTH1_0, 0.0, 1.0, 1.0], dtype=x0.dtype, device=x0.device)
    opt = _Options(gtol, 200 * d if maxiter is None else maxiter, norm, c1, c2, xrtol, consts)
    batch = _Batch(x0)
    every = torch.arange(n, device=x0.device)

    f0, g0 = _evaluate(fun_and_grad, x0, every)
    rounds = 1
    if callback is not None:
        callback(0, f0.clone())
    rows = batch.gather(every)
    rows.x, rows.g, rows.xl = x0, g0, x0
    gnorm = _vecnorm(g0, norm)
    one = torch.ones_like(f0)
    fold = f0 + _sqrt(_dot(g0, g0)) / 2
    rows.merge(one != 0, ("f", "fold", "gnorm", "nfev", "fresh"), torch.stack([f0, fold, gnorm, one, one]))
    going = (gnorm > gtol) & (0 < opt.maxiter)
    start_error = _start_search(rows, going, opt)
    batch.scatter(every, rows, ~going)
    _fallback(batch, every[start_error], fun_and_grad, opt)

    while True:
        act = torch.nonzero(~batch.done).squeeze(1)
        if act.numel() == 0:
            break
        rows = batch.gather(act)
        c = rows.c
        xt = rows.x + c["stp"][:, None] * rows.p
        ft, gt = _evaluate(fun_and_grad, xt, act)
        rounds += 1
        c["nfev"] = c["nfev"] + ((xt != rows.xl).any(dim=1) | (c["fresh"] == 0)).to(xt.dtype)
        c["fresh"] = torch.ones_like(ft)
        rows.xl = xt
        # phi'(stp) = g.p, and y.s of the BFGS update in case the step is accepted: one call
        m = act.shape[0]
        alpha = c["stp"]
        dots = _dot(torch.cat([gt, gt - rows.g]), torch.cat([rows.p, alpha[:, None] * rows.p]))
        conv, pending, any_conv = _search_step(rows, ft, dots[:m], opt)
        if any_conv:
            finished, start_error = _accept_step(rows, conv, alpha, ft, gt, opt, dots[m:])
            pending = pending | start_error
        else:
            finished = conv
        batch.scatter(act, rows, finished)
        if bool(pending.any()):
            _fallback(batch, act[pending], fun_and_grad, opt)
        if callback is not None:
            callback(rounds - 1, batch.s[_COLS.index("f")].clone())

    s = dict(zip(_COLS, batch.s.unbind(0)))
    x, g = batch.v[0].clone(), batch.v[1].clone()
    nit = s["nit"].to(torch.int64)
    nan = torch.isnan(s["gnorm"]) | torch.isnan(s["f"]) | torch.isnan(x).any(dim=1)
    status = torch.where(s["warn"] != 0, 2, torch.where(nit >= opt.maxiter, 1, torch.where(nan, 3, 0))).to(
        torch.int64
    )
    return BatchedResult(
        x=x, fun=s["f"].clone(), jac=g, nit=nit, nfev=s["nfev"].to(torch.int64), status=status, rounds=rounds
    )
