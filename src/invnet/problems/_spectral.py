"""Fused CPU kernels for the spectral time steppers: the Kuramoto–Sivashinsky ETDRK4 loop and the
fluid's RK4 loop, forward and adjoint, each in one compiled call instead of thousands of small torch
operations.

They compute bit for bit what the eager torch code of :mod:`invnet.problems.ks` and
:mod:`invnet.problems.fluid` and autograd compute:
every element with the formula and in the order of PyTorch's CPU kernels (a complex product as
(ar·br − ai·bi, ar·bi + ai·br), a real factor promoted to (r, 0), no product fused into an FMA), every
gradient sum in the order autograd's engine adds its terms, and the FFTs are those ATen makes
(``at::_fft_c2r``, ``_fft_r2c``, ``_fft_c2c``, with torch.fft's normalisations): the same MKL
routines, configured as ATen configures them, with one committed plan per shape kept across calls,
where ATen makes a new plan on every call (about 2 µs each, most of a one-problem KS step), and
without ATen's copies of a batch into each transform's layout (the fluid's 2-D c2r). Each call
reuses its buffers across its right-hand sides. The tests compare
both paths bit for bit (tests/test_spectral_kernels.py); where they could differ the eager code
runs instead: a CPU without AVX2/AVX512, more than one torch thread (torch then splits its loops at
points that depend on the thread count) or a grid whose vector-loop tails (where torch rounds
complex products with a scalar FMA loop) hold modes that are not removed by the 2/3 rule.

The library is compiled on first use (about 30 s of CPU, once per machine and source version) into
``$TORCH_EXTENSIONS_DIR`` (default ``~/.cache/torch_extensions``) and later only loaded. If it cannot
be built (no C++ compiler, no writable cache), the eager code runs: the same numbers, slower, with
one warning in the job's log. ``INVNET_SPECTRAL_KERNELS=0`` turns the kernels off.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import sys
from functools import lru_cache
from pathlib import Path

import torch

log = logging.getLogger("invnet")

# -O3 -mavx2: the element loops vectorised (each element still one IEEE operation per product and
# sum, in the same order; the kernels only run on AVX2/AVX512 CPUs, see :func:`enabled`);
# -ffp-contract=off: no FMA contraction, so the products round as torch's do.
CFLAGS = ("-O3", "-mavx2", "-ffp-contract=off")
ENV_SWITCH = "INVNET_SPECTRAL_KERNELS"

SOURCE = r"""// The KS ETDRK4 and fluid RK4 loops, forward and adjoint, fused. Every element is computed with
// the formulas and in the order of PyTorch's eager kernels and autograd (complex products as
// (ar*br - ai*bi, ar*bi + ai*br), a real factor promoted to (r, 0)); the FFTs are ATen's own.
// Compiled with -ffp-contract=off, so no product is fused into an FMA.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <cmath>
#include <map>
#include <mutex>
#include <tuple>
#include <vector>

// MKL's DFTI API, as torch's own library exports it (the oneMKL 2024 mkl_dfti.h values, LP64).
extern "C" {
typedef struct DFTI_DESCRIPTOR* DFTI_DESCRIPTOR_HANDLE;
long DftiCreateDescriptor_d_1d(DFTI_DESCRIPTOR_HANDLE*, int, ...);
long DftiCreateDescriptor_d_md(DFTI_DESCRIPTOR_HANDLE*, int, long, long*);
long DftiSetValue(DFTI_DESCRIPTOR_HANDLE, int, ...);
long DftiCommitDescriptor(DFTI_DESCRIPTOR_HANDLE);
long DftiComputeForward(DFTI_DESCRIPTOR_HANDLE, void*, ...);
long DftiComputeBackward(DFTI_DESCRIPTOR_HANDLE, void*, ...);
long DftiFreeDescriptor(DFTI_DESCRIPTOR_HANDLE*);
}

namespace {

using at::Tensor;

struct C {  // one complex number, interleaved as in c10::complex<double>
  double r, i;
};

inline C cmul(C a, C b) { return {a.r * b.r - a.i * b.i, a.r * b.i + a.i * b.r}; }
inline C rmul(double a, C b) { return cmul({a, 0.0}, b); }   // real tensor * complex tensor
inline C mulr(C a, double b) { return cmul(a, {b, 0.0}); }   // complex tensor * real (or scalar)
inline C add(C a, C b) { return {a.r + b.r, a.i + b.i}; }
inline C sub(C a, C b) { return {a.r - b.r, a.i - b.i}; }
inline C neg(C a) { return {-a.r, -a.i}; }

inline C* cptr(const Tensor& t) { return reinterpret_cast<C*>(t.data_ptr()); }
inline double* rptr(const Tensor& t) { return t.data_ptr<double>(); }

// The ETDRK4 coefficients (length K = N/2 + 1; g complex).
struct Coef {
  const double *E, *E2, *Q, *f1, *f2x2, *f3, *mask;
  const C* g;
  int64_t K, N;
};

Coef coef_of(const std::vector<Tensor>& c, int64_t n) {
  // c = [E, E2, Q, f1, f2x2, f3, mask, g]
  for (const auto& t : c) TORCH_CHECK(t.is_contiguous() && t.device().is_cpu(), "coefficients must be contiguous CPU tensors");
  return {rptr(c[0]), rptr(c[1]), rptr(c[2]), rptr(c[3]), rptr(c[4]), rptr(c[5]), rptr(c[6]), cptr(c[7]),
          c[0].size(0), n};
}

template <typename F>
void rows(int64_t m, F f) {  // f(row begin, row end), rows in parallel as ATen's own loops would
  at::parallel_for(0, m, 64, f);
}

// ---------------------------------------------------------------- 1-D FFTs of a batch of rows
// ATen's MKL path (aten/src/ATen/native/mkl/SpectralOps.cpp, _plan_mkl_fft and _exec_fft) creates
// and commits a DFTI descriptor on every call, about 2 us each: most of what a KS forward + backward
// of one problem costs (1,284 transforms). Here one committed descriptor per (kind, rows, N,
// normalisation) is kept and reused: configured as ATen configures it for a contiguous (rows, N)
// batch (double, out of place, NUMBER_OF_TRANSFORMS = rows, distances and unit strides, CCE storage
// for real transforms, the scale of the normalisation), computed by the same MKL on buffers
// allocated as ATen allocates them. tests/test_spectral_kernels.py compares each with ATen's
// call, as bits.
enum Dfti : int {
  FORWARD_SCALE = 4, BACKWARD_SCALE = 5, NUMBER_OF_TRANSFORMS = 7, CONJUGATE_EVEN_STORAGE = 10, PLACEMENT = 11,
  INPUT_STRIDES = 12, OUTPUT_STRIDES = 13, INPUT_DISTANCE = 14, OUTPUT_DISTANCE = 15, COMPLEX = 32, REAL = 33,
  COMPLEX_COMPLEX = 39, NOT_INPLACE = 44
};
enum Kind : int { R2C = 0, C2R = 1, C2C_BACKWARD = 2 };  // 1-D, or 2-D (N, N) with dims = 2

void dfti(long status, const char* what) { TORCH_CHECK(status == 0, "MKL DFTI ", what, " failed (status ", status, ")"); }

DFTI_DESCRIPTOR_HANDLE plan(Kind kind, int64_t rows, int64_t n, int64_t norm, int dims = 1) {
  static std::mutex lock;
  static std::map<std::tuple<int, int64_t, int64_t, int64_t, int>, DFTI_DESCRIPTOR_HANDLE> plans;
  std::lock_guard<std::mutex> guard(lock);
  auto key = std::make_tuple(int(kind), rows, n, norm, dims);
  auto found = plans.find(key);
  if (found != plans.end()) return found->second;
  if (plans.size() >= 256) {  // row counts vary (batched BFGS rounds): keep the cache bounded
    for (auto& entry : plans) DftiFreeDescriptor(&entry.second);
    plans.clear();
  }
  DFTI_DESCRIPTOR_HANDLE h = nullptr;
  long K = long(n / 2 + 1), N = long(n);
  const int domain = kind == C2C_BACKWARD ? COMPLEX : REAL;
  // A row is the last dimension: 1-D rows of N (K stored for a spectrum), 2-D (N, N) (N, K) fields
  // with row strides N and K, as ATen's _exec_fft passes a contiguous batch.
  long half = dims == 1 ? K : N * K, whole = dims == 1 ? N : N * N;
  if (dims == 1) {
    dfti(DftiCreateDescriptor_d_1d(&h, domain, N), "create");
  } else {
    TORCH_CHECK(dims == 2 && kind != C2R, "MKL DFTI: no such plan");  // ATen's 2-D c2r is c2c then 1-D c2r
    long lengths[2] = {N, N};
    dfti(DftiCreateDescriptor_d_md(&h, domain, 2, lengths), "create");
  }
  dfti(DftiSetValue(h, PLACEMENT, NOT_INPLACE), "placement");
  dfti(DftiSetValue(h, NUMBER_OF_TRANSFORMS, long(rows)), "transforms");
  dfti(DftiSetValue(h, INPUT_DISTANCE, kind == C2R ? half : whole), "input distance");
  dfti(DftiSetValue(h, OUTPUT_DISTANCE, kind == R2C ? half : whole), "output distance");
  if (dims == 1) {
    long strides[2] = {0, 1};
    dfti(DftiSetValue(h, INPUT_STRIDES, strides), "input strides");
    dfti(DftiSetValue(h, OUTPUT_STRIDES, strides), "output strides");
  } else {
    long in[3] = {0, N, 1}, out[3] = {0, kind == R2C ? K : N, 1};
    dfti(DftiSetValue(h, INPUT_STRIDES, in), "input strides");
    dfti(DftiSetValue(h, OUTPUT_STRIDES, out), "output strides");
  }
  if (kind != C2C_BACKWARD) dfti(DftiSetValue(h, CONJUGATE_EVEN_STORAGE, COMPLEX_COMPLEX), "storage");
  if (norm != 0) {  // torch.fft's norm modes: 1 by 1/sqrt(N), 2 by 1/N (the signal's N or N^2 points)
    double points = double(whole);
    double scale = norm == 1 ? 1.0 / std::sqrt(points) : 1.0 / points;
    dfti(DftiSetValue(h, kind == R2C ? FORWARD_SCALE : BACKWARD_SCALE, scale), "scale");
  }
  dfti(DftiCommitDescriptor(h), "commit");
  plans.emplace(key, h);
  return h;
}

// r2c (onesided) over dim 1 of a contiguous real (rows, N) batch: at::_fft_r2c(q, {1}, norm, true).
Tensor r2c(const Tensor& q, int64_t norm, Tensor out = Tensor()) {  // out: (rows, N/2 + 1) to reuse
  if (!q.is_contiguous() || q.dim() != 2) return at::_fft_r2c(q, {1}, norm, true);
  if (!out.defined()) out = at::empty({q.size(0), q.size(1) / 2 + 1}, q.options().dtype(at::kComplexDouble));
  dfti(DftiComputeForward(plan(R2C, q.size(0), q.size(1), norm), q.data_ptr(), out.data_ptr()), "r2c");
  return out;
}

// c2r over dim 1 of a contiguous (rows, N/2 + 1) batch: at::_fft_c2r(s, {1}, norm, n).
Tensor c2r(const Tensor& s, int64_t n, int64_t norm, Tensor out = Tensor()) {  // out: (rows, n) to reuse
  if (!s.is_contiguous() || s.dim() != 2 || s.size(1) != n / 2 + 1) return at::_fft_c2r(s, {1}, norm, n);
  if (!out.defined()) out = at::empty({s.size(0), n}, s.options().dtype(at::kDouble));
  dfti(DftiComputeBackward(plan(C2R, s.size(0), n, norm), s.data_ptr(), out.data_ptr()), "c2r");
  return out;
}

// Inverse c2c over dim 1 of a contiguous complex (rows, N) batch: at::_fft_c2c(z, {1}, norm, false).
Tensor c2c_backward(const Tensor& z, int64_t norm, Tensor out = Tensor()) {  // out: z's shape, to reuse
  if (!z.is_contiguous() || z.dim() != 2) return at::_fft_c2c(z, {1}, norm, false);
  if (!out.defined()) out = at::empty_like(z);
  dfti(DftiComputeBackward(plan(C2C_BACKWARD, z.size(0), z.size(1), norm), z.data_ptr(), out.data_ptr()), "c2c");
  return out;
}

// ---------------------------------------------------------------- 2-D FFTs of (N, N) fields
// The fluid's transforms over dims {2, 3} of (m, 4, N, N) batches, as ATen's MKL path computes them
// (_fft_r2c_mkl, _fft_c2c_mkl, _fft_c2r_mkl), with kept plans and without ATen's copies.

// Buffers one kernel call reuses across its right-hand sides instead of allocating each anew
// (about 1,000 allocations per fluid forward + backward): only where results are stored changes.
struct Buffers {
  std::map<int, Tensor> buffers;
  Tensor get(int slot, at::IntArrayRef sizes, const at::TensorOptions& options) {
    Tensor& t = buffers[slot];
    if (!t.defined()) t = at::empty(sizes, options);
    TORCH_CHECK(t.sizes() == sizes, "kernel workspace: buffer ", slot, " changed shape");
    return t;
  }
};
enum Slot : int { SPEC, C2C_OUT, C2R_IN, GRID, PRODUCTS, FLUX, FULL, Z, GGRID, GI };

// r2c (onesided) of a contiguous real (B, N, N) batch: at::_fft_r2c(q, {1, 2}, norm, true).
Tensor r2c_2d(const Tensor& q, int64_t norm, Tensor out = Tensor()) {
  const int64_t B = q.size(0), N = q.size(1);
  if (!out.defined()) out = at::empty({B, N, N / 2 + 1}, q.options().dtype(at::kComplexDouble));
  dfti(DftiComputeForward(plan(R2C, B, N, norm, 2), q.data_ptr(), out.data_ptr()), "r2c 2-D");
  return out;
}

// Inverse c2c of a contiguous complex (B, N, N) batch: at::_fft_c2c(z, {1, 2}, norm, false).
Tensor c2c_backward_2d(const Tensor& z, int64_t norm, Tensor out = Tensor()) {
  if (!out.defined()) out = at::empty_like(z);
  dfti(DftiComputeBackward(plan(C2C_BACKWARD, z.size(0), z.size(1), norm, 2), z.data_ptr(), out.data_ptr()),
       "c2c 2-D");
  return out;
}

// at::_fft_c2r(s, {1, 2}, 2, n) of a (B, n, K) spectrum given as its transpose st (B, K, n): ATen
// computes it as an inverse c2c over dim 1 (scale 1/n) of the batch it copies into exactly st's
// layout, then copies the result back to (B, n, K) and runs a 1-D c2r (scale 1/n) over its rows.
// A batch of one field is not copied there (strided plans, other bits): ATen computes it.
// With ws, its buffers hold the intermediates, and out (if given) the result.
Tensor c2r_2d_transposed(const Tensor& st, int64_t n, Buffers* ws = nullptr, Tensor out = Tensor()) {
  const int64_t B = st.size(0), K = st.size(1);
  if (B == 1) return at::_fft_c2r(st.transpose(1, 2).contiguous(), {1, 2}, 2, n);
  auto opts = st.options();
  Tensor t = c2c_backward(st.view({B * K, n}), 2, ws ? ws->get(C2C_OUT, {B * K, n}, opts) : Tensor());  // (B, K, n)
  Tensor u = ws ? ws->get(C2R_IN, {B, n, K}, opts) : at::empty({B, n, K}, opts);
  const C* pt = cptr(t);
  C* pu = cptr(u);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t x = 0; x < n; ++x)
      for (int64_t j = 0; j < K; ++j) pu[(b * n + x) * K + j] = pt[(b * K + j) * n + x];
  return c2r(u.view({B * n, K}), n, 2, out).view({B, n, n});
}

// The transforms by kind (0 r2c, 1 c2r to n points, 2 inverse c2c), 1-D over dim 1 of (rows, N)
// or, with dims = 2, 2-D over dims {1, 2} of (B, N, N) (c2r: of a (B, N, K) spectrum), for the tests.
Tensor batch_fft(const Tensor& x, int64_t kind, int64_t n, int64_t norm, int64_t dims) {
  if (dims == 2) {
    if (kind == R2C) return r2c_2d(x.contiguous(), norm);
    if (kind == C2R) {
      TORCH_CHECK(norm == 2, "batch_fft: the 2-D c2r is the fluid's, norm 2");
      return c2r_2d_transposed(x.transpose(1, 2).contiguous(), n);
    }
    return c2c_backward_2d(x.contiguous(), norm);
  }
  if (kind == R2C) return r2c(x, norm);
  if (kind == C2R) return c2r(x, n, norm);
  return c2c_backward(x, norm);
}

// irfft (norm "backward": 1/N) and rfft (no normalisation) exactly as torch.fft calls them.
Tensor irfft(const Tensor& s, int64_t n, Tensor out = Tensor()) { return c2r(s, n, 2, out); }
Tensor rfft(const Tensor& q, Tensor out = Tensor()) { return r2c(q, 0, out); }

// q = u * u, f = rfft(q): the spectrum the nonlinear term multiplies by g.
Tensor square_rfft(const Tensor& u, Tensor& q, Tensor out) {
  const double* pu = rptr(u);
  double* pq = rptr(q);
  int64_t total = u.numel();
  for (int64_t k = 0; k < total; ++k) pq[k] = pu[k] * pu[k];
  return rfft(q, out);
}

// ---------------------------------------------------------------- Kuramoto-Sivashinsky, ETDRK4
// The adjoint of N(v) = g * rfft(irfft(mask v)^2) at the saved u = irfft(mask v), applied to G:
// torch's MulBackward (G * conj(g)), FftR2CBackward (zero-pad, inverse c2c, real part),
// MulBackward of u*u (two equal terms summed), FftC2RBackward (r2c with 1/N, modes 1..N-K doubled)
// and MulBackward of the mask.
struct Work {  // buffers the adjoint reuses: the zero-padded spectrum, its transform, the grid
  Tensor full, gu, z, gi;  // gradient and its spectrum (each call's result is used before the next)
};

Tensor nonlinear_adjoint(const Tensor& G, const Tensor& u, const Coef& c, Work& w) {
  int64_t m = G.size(0), K = c.K, N = c.N;
  Tensor& full = w.full;
  {
    C* pf = cptr(full);
    const C* pg = cptr(G);
    rows(m, [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) {
        for (int64_t j = 0; j < K; ++j) pf[r * N + j] = cmul(pg[r * K + j], {c.g[j].r, -c.g[j].i});
        for (int64_t j = K; j < N; ++j) pf[r * N + j] = {0.0, 0.0};
      }
    });
  }
  Tensor z = c2c_backward(full, 0, w.z);
  Tensor& gu = w.gu;
  {
    const C* pz = cptr(z);
    const double* pu = rptr(u);
    double* pgu = rptr(gu);
    rows(m, [&](int64_t r0, int64_t r1) {
      for (int64_t k = r0 * N; k < r1 * N; ++k) {
        double t = pz[k].r * pu[k];
        pgu[k] = t + t;
      }
    });
  }
  Tensor gi = r2c(gu, 2, w.gi);
  {
    C* p = cptr(gi);
    int64_t doubled = N - K;
    rows(m, [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r)
        for (int64_t j = 0; j < K; ++j) {
          C x = p[r * K + j];
          if (j >= 1 && j <= doubled) x = mulr(x, 2.0);
          p[r * K + j] = mulr(x, c.mask[j]);
        }
    });
  }
  return gi;
}

// Forward: v0 (m, K) complex128 -> (v_steps, U) with U (steps, 4, m, N) the grid states the
// nonlinear terms squared (saved for the adjoint; empty when save is false).
std::tuple<Tensor, std::vector<Tensor>> ks_forward(const Tensor& v0, std::vector<Tensor> coefs, int64_t n, int64_t steps, bool save) {
  TORCH_CHECK(v0.scalar_type() == at::kComplexDouble && v0.dim() == 2 && v0.device().is_cpu(),
              "ks_forward: v0 must be a CPU complex128 tensor (m, K)");
  Coef c = coef_of(coefs, n);
  TORCH_CHECK(v0.size(1) == c.K, "ks_forward: v0 has ", v0.size(1), " modes, the coefficients ", c.K);
  const int64_t m = v0.size(0), K = c.K;
  Tensor v = v0.contiguous().clone();
  std::vector<Tensor> U;
  if (save) U.reserve(4 * steps);
  Tensor q = at::empty({m, n}, v0.options().dtype(at::kDouble));
  auto opts = v0.options();
  Tensor s = at::empty({m, K}, opts), nv = at::empty({m, K}, opts), e2v = at::empty({m, K}, opts),
         a = at::empty({m, K}, opts), na = at::empty({m, K}, opts);
  C *pv = cptr(v), *ps = cptr(s), *pnv = cptr(nv), *pe2v = cptr(e2v), *pa = cptr(a), *pna = cptr(na);

  Tensor u_buffer = at::empty({m, n}, opts.dtype(at::kDouble)), f_buffer = at::empty({m, K}, opts);
  auto stage = [&](int64_t step, int64_t k) {  // u = irfft(s) (saved: then a new tensor), returns rfft(u^2)
    Tensor u = irfft(s, n, save ? Tensor() : u_buffer);
    if (save) U.push_back(u);
    return square_rfft(u, q, f_buffer);  // used before the next stage
  };
  auto each = [&](auto body) {
    rows(m, [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r)
        for (int64_t j = 0; j < K; ++j) body(r * K + j, j);
    });
  };
  each([&](int64_t x, int64_t j) { ps[x] = mulr(pv[x], c.mask[j]); });
  for (int64_t step = 0; step < steps; ++step) {
    Tensor f = stage(step, 0);
    const C* pf = cptr(f);
    each([&](int64_t x, int64_t j) {  // nv = N(v); a = E2 v + Q nv
      pnv[x] = cmul(c.g[j], pf[x]);
      pe2v[x] = rmul(c.E2[j], pv[x]);
      pa[x] = add(pe2v[x], rmul(c.Q[j], pnv[x]));
      ps[x] = mulr(pa[x], c.mask[j]);
    });
    f = stage(step, 1);
    pf = cptr(f);
    each([&](int64_t x, int64_t j) {  // na = N(a); b = E2 v + Q na
      pna[x] = cmul(c.g[j], pf[x]);
      ps[x] = mulr(add(pe2v[x], rmul(c.Q[j], pna[x])), c.mask[j]);
    });
    f = stage(step, 2);
    pf = cptr(f);
    each([&](int64_t x, int64_t j) {  // nb = N(b) (kept in e2v); c = E2 a + Q (2 nb - nv)
      C nb = cmul(c.g[j], pf[x]);
      pe2v[x] = nb;
      C cc = add(rmul(c.E2[j], pa[x]), rmul(c.Q[j], sub(mulr(nb, 2.0), pnv[x])));
      ps[x] = mulr(cc, c.mask[j]);
    });
    f = stage(step, 3);
    pf = cptr(f);
    each([&](int64_t x, int64_t j) {  // v <- E v + f1 nv + 2 f2 (na + nb) + f3 nc
      C nc = cmul(c.g[j], pf[x]);
      C o3 = add(rmul(c.E[j], pv[x]), rmul(c.f1[j], pnv[x]));
      C o7 = add(o3, rmul(c.f2x2[j], add(pna[x], pe2v[x])));
      pv[x] = add(o7, rmul(c.f3[j], nc));
      ps[x] = mulr(pv[x], c.mask[j]);
    });
  }
  return std::make_tuple(v, U);
}

// Adjoint: the gradient w.r.t. v0 of <G, v_steps> as autograd sums it (the order of every sum).
Tensor ks_backward(const Tensor& G0, std::vector<Tensor> U, std::vector<Tensor> coefs, int64_t n, int64_t steps) {
  Coef c = coef_of(coefs, n);
  const int64_t m = G0.size(0), K = c.K;
  TORCH_CHECK(G0.scalar_type() == at::kComplexDouble && G0.dim() == 2 && G0.size(1) == K, "ks_backward: bad gradient");
  auto opts = G0.options();
  Tensor G = G0.contiguous().clone();
  Tensor go5 = at::empty({m, K}, opts), gnvo = at::empty({m, K}, opts), gve = at::empty({m, K}, opts),
         t = at::empty({m, K}, opts), gap5 = at::empty({m, K}, opts);
  Work w{at::empty({m, c.N}, opts), at::empty({m, c.N}, opts.dtype(at::kDouble)), at::empty({m, c.N}, opts),
         at::empty({m, K}, opts)};
  C *pG = cptr(G), *pgo5 = cptr(go5), *pgnvo = cptr(gnvo), *pgve = cptr(gve), *pt = cptr(t), *pgap5 = cptr(gap5);
  auto each = [&](auto body) {
    rows(m, [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r)
        for (int64_t j = 0; j < K; ++j) body(r * K + j, j);
    });
  };
  for (int64_t step = steps - 1; step >= 0; --step) {
    each([&](int64_t x, int64_t j) {
      C g = pG[x];
      pt[x] = mulr(g, c.f3[j]);       // d nc
      pgo5[x] = mulr(g, c.f2x2[j]);   // d (na + nb)
      pgnvo[x] = mulr(g, c.f1[j]);    // d nv, from the output
      pgve[x] = mulr(g, c.E[j]);      // d v, from E v
    });
    Tensor gcc = nonlinear_adjoint(t, U[4 * step + 3], c, w);
    const C* pgcc = cptr(gcc);
    each([&](int64_t x, int64_t j) {
      pgap5[x] = mulr(pgcc[x], c.E2[j]);  // d a, from E2 a
      C gp7 = mulr(pgcc[x], c.Q[j]);
      pgnvo[x] = add(pgnvo[x], neg(gp7));   // d nv: output term + (-gp7)
      pt[x] = add(pgo5[x], mulr(gp7, 2.0));  // d nb
    });
    Tensor gb = nonlinear_adjoint(t, U[4 * step + 2], c, w);
    const C* pgb = cptr(gb);
    each([&](int64_t x, int64_t j) {
      pgve[x] = add(pgve[x], mulr(pgb[x], c.E2[j]));  // d v: E term + E2 (from b)
      pt[x] = add(pgo5[x], mulr(pgb[x], c.Q[j]));     // d na
    });
    Tensor ga = nonlinear_adjoint(t, U[4 * step + 1], c, w);
    const C* pga = cptr(ga);
    each([&](int64_t x, int64_t j) {
      C gat = add(pgap5[x], pga[x]);                   // d a
      pgve[x] = add(pgve[x], mulr(gat, c.E2[j]));      // + E2 (from a)
      pt[x] = add(pgnvo[x], mulr(gat, c.Q[j]));        // d nv
    });
    Tensor gv = nonlinear_adjoint(t, U[4 * step + 0], c, w);
    const C* pgv = cptr(gv);
    each([&](int64_t x, int64_t j) { pG[x] = add(pgve[x], pgv[x]); });
  }
  return G;
}

// ---------------------------------------------------------------- incompressible fluid, RK4
// State: the rfft2 spectra of vorticity w and marker c, (m, N, K) with K = N/2 + 1 (P = N K per
// problem). The right-hand side as invnet.problems.fluid.FluidOperator.rhs computes it.
struct Fluid {
  const C *uw, *vw, *dx, *dy;  // u_of_w, v_of_w, div_x, div_y (N, K)
  const double *nk, *kk;       // nu k^2, kappa k^2 (N, K)
  bool nu, kappa;              // whether the diffusion terms are there (`if nu:` in the eager code)
  int64_t N, K, P;
};

Fluid fluid_of(const std::vector<Tensor>& c, int64_t n, bool nu, bool kappa) {
  // c = [u_of_w, v_of_w, div_x, div_y, nu k2, kappa k2]
  for (const auto& t : c) TORCH_CHECK(t.is_contiguous() && t.device().is_cpu(), "coefficients must be contiguous CPU tensors");
  int64_t K = n / 2 + 1;
  TORCH_CHECK(c[0].numel() == n * K, "fluid: coefficients do not match the grid");
  return {cptr(c[0]), cptr(c[1]), cptr(c[2]), cptr(c[3]), rptr(c[4]), rptr(c[5]), nu, kappa, n, K, n * K};
}

inline C conj(C a) { return {a.r, -a.i}; }

// dw, dc = rhs(w, c); returns the grid fields (u, v, w, c) (m, 4, N, N) the products used: a new
// tensor if keep (the forward saves it for the adjoint), else a buffer of ws.
Tensor fluid_rhs(const C* w, const C* c, C* dw, C* dc, int64_t m, const Fluid& f, const at::TensorOptions& copts,
                 Buffers& ws, bool keep) {
  const int64_t P = f.P, NN = f.N * f.N;
  // The stacked spectra (m, 4, N, K), written transposed, (m, 4, K, N), as ATen's c2r copies them.
  Tensor spec = ws.get(SPEC, {m * 4, f.K, f.N}, copts);
  C* ps = cptr(spec);
  const int64_t N = f.N, K = f.K;
  rows(m, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r)
      for (int64_t ix = 0; ix < N; ++ix)
        for (int64_t j = 0; j < K; ++j) {
          int64_t e = ix * K + j, o = j * N + ix;
          C we = w[r * P + e];
          ps[(4 * r + 0) * P + o] = cmul(f.uw[e], we);
          ps[(4 * r + 1) * P + o] = cmul(f.vw[e], we);
          ps[(4 * r + 2) * P + o] = we;
          ps[(4 * r + 3) * P + o] = c[r * P + e];
        }
  });
  Tensor grid_out = keep ? Tensor() : ws.get(GRID, {m * 4 * f.N, f.N}, copts.dtype(at::kDouble));
  Tensor grid = c2r_2d_transposed(spec, f.N, &ws, grid_out).view({m, 4, f.N, f.N});  // at::_fft_c2r(spec, {2, 3}, 2, N)
  Tensor st = ws.get(PRODUCTS, {m, 4, f.N, f.N}, copts.dtype(at::kDouble));
  const double* g = rptr(grid);
  double* q = rptr(st);
  rows(m, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const double *u = g + 4 * r * NN, *v = u + NN, *wg = v + NN, *cg = wg + NN;
      double* o = q + 4 * r * NN;
      for (int64_t e = 0; e < NN; ++e) {
        o[e] = u[e] * wg[e];
        o[NN + e] = v[e] * wg[e];
        o[2 * NN + e] = u[e] * cg[e];
        o[3 * NN + e] = v[e] * cg[e];
      }
    }
  });
  Tensor flux = r2c_2d(st.view({m * 4, f.N, f.N}), 0, ws.get(FLUX, {m * 4, f.N, f.K}, copts));  // at::_fft_r2c(st, {2, 3}, 0, true)
  const C* fl = cptr(flux);
  rows(m, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r)
      for (int64_t e = 0; e < P; ++e) {
        const C* x = fl + 4 * r * P + e;
        C tw = add(cmul(f.dx[e], x[0]), cmul(f.dy[e], x[P]));
        if (f.nu) tw = sub(tw, rmul(f.nk[e], w[r * P + e]));
        C tc = add(cmul(f.dx[e], x[2 * P]), cmul(f.dy[e], x[3 * P]));
        if (f.kappa) tc = sub(tc, rmul(f.kk[e], c[r * P + e]));
        dw[r * P + e] = tw;
        dc[r * P + e] = tc;
      }
  });
  return grid;
}

// A gradient buffer as autograd's engine fills it: undefined until the first term arrives, then
// each further term added to the running sum, in arrival order.
struct Acc {
  Tensor t;
  bool defined = false;
  C* p() const { return cptr(t); }
};

template <typename F>
void accumulate(Acc& acc, int64_t m, int64_t P, F term) {  // term(r, e): problem r, element e
  C* a = acc.p();
  const bool first = !acc.defined;
  rows(m, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r)
      for (int64_t e = 0; e < P; ++e) a[r * P + e] = first ? term(r, e) : add(a[r * P + e], term(r, e));
  });
  acc.defined = true;
}

// The adjoint of fluid_rhs at its saved grid: gradients gdw, gdc (either may be undefined) of
// (dw, dc), folded onto the input buffers accw, accc in autograd's order of terms:
// the diffusion term, the stacked spectrum, v_of_w w, u_of_w w (w); the diffusion term, the stack (c).
void fluid_rhs_adjoint(const Acc& gdw, const Acc& gdc, const Tensor& grid, Acc& accw, Acc& accc, int64_t m,
                       const Fluid& f, const at::TensorOptions& copts, Buffers& ws) {
  const int64_t P = f.P, N = f.N, K = f.K, NN = N * N;
  Tensor full = ws.get(FULL, {m, 4, N, N}, copts);  // every element written below
  C* pf = cptr(full);
  const C* gw = gdw.defined ? gdw.p() : nullptr;
  const C* gc = gdc.defined ? gdc.p() : nullptr;
  const C zero{0.0, 0.0};
  rows(m, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r)
      for (int64_t ix = 0; ix < N; ++ix) {
        for (int64_t j = 0; j < K; ++j) {
          int64_t e = ix * K + j, o = 4 * r * NN + ix * N + j;
          pf[o] = gw ? cmul(gw[r * P + e], conj(f.dx[e])) : zero;
          pf[o + NN] = gw ? cmul(gw[r * P + e], conj(f.dy[e])) : zero;
          pf[o + 2 * NN] = gc ? cmul(gc[r * P + e], conj(f.dx[e])) : zero;
          pf[o + 3 * NN] = gc ? cmul(gc[r * P + e], conj(f.dy[e])) : zero;
        }
        for (int64_t j = K; j < N; ++j) {
          int64_t o = 4 * r * NN + ix * N + j;
          pf[o] = pf[o + NN] = pf[o + 2 * NN] = pf[o + 3 * NN] = zero;
        }
      }
  });
  Tensor z = c2c_backward_2d(full.view({m * 4, N, N}), 0, ws.get(Z, {m * 4, N, N}, copts));  // at::_fft_c2c(full, {2, 3}, 0, false)
  const C* pz = cptr(z);
  const double* g = rptr(grid);
  Tensor ggrid = ws.get(GGRID, {m, 4, N, N}, copts.dtype(at::kDouble));
  double* gg = rptr(ggrid);
  rows(m, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const double *u = g + 4 * r * NN, *v = u + NN, *wg = v + NN, *cg = wg + NN;
      const C* q = pz + 4 * r * NN;  // gradients of u wg, v wg, u cg, v cg: real parts
      double* o = gg + 4 * r * NN;
      for (int64_t e = 0; e < NN; ++e) {
        double q1 = q[e].r, q2 = q[NN + e].r, q3 = q[2 * NN + e].r, q4 = q[3 * NN + e].r;
        o[e] = q1 * wg[e] + q3 * cg[e];          // u
        o[NN + e] = q2 * wg[e] + q4 * cg[e];     // v
        o[2 * NN + e] = q1 * u[e] + q2 * v[e];   // w on the grid
        o[3 * NN + e] = q3 * u[e] + q4 * v[e];   // c on the grid
      }
    }
  });
  Tensor gi = r2c_2d(ggrid.view({m * 4, N, N}), 2, ws.get(GI, {m * 4, N, K}, copts));  // at::_fft_r2c(ggrid, {2, 3}, 2, true); modes 1..N-K doubled below
  C* pi = cptr(gi);
  rows(m, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r)
      for (int64_t k = 0; k < 4; ++k)
        for (int64_t ix = 0; ix < N; ++ix)
          for (int64_t j = 1; j <= N - K; ++j) {
            C& x = pi[(4 * r + k) * P + ix * K + j];
            x = mulr(x, 2.0);
          }
  });
  auto gi_ = [&](int64_t k, int64_t r, int64_t e) { return pi[(4 * r + k) * P + e]; };
  if (gw && f.nu) accumulate(accw, m, P, [&](int64_t r, int64_t e) { return mulr(neg(gw[r * P + e]), f.nk[e]); });
  accumulate(accw, m, P, [&](int64_t r, int64_t e) { return gi_(2, r, e); });
  accumulate(accw, m, P, [&](int64_t r, int64_t e) { return cmul(gi_(1, r, e), conj(f.vw[e])); });
  accumulate(accw, m, P, [&](int64_t r, int64_t e) { return cmul(gi_(0, r, e), conj(f.uw[e])); });
  if (gc && f.kappa) accumulate(accc, m, P, [&](int64_t r, int64_t e) { return mulr(neg(gc[r * P + e]), f.kk[e]); });
  accumulate(accc, m, P, [&](int64_t r, int64_t e) { return gi_(3, r, e); });
}

// RK4: (w0, c0) -> (w, c) after `steps` steps, and the grids of every rhs (4 per step) if save.
std::tuple<Tensor, Tensor, std::vector<Tensor>> fluid_forward(const Tensor& w0, const Tensor& c0, std::vector<Tensor> coefs,
                                                            int64_t n, int64_t steps, double dt, bool nu, bool kappa,
                                                            bool save) {
  TORCH_CHECK(w0.scalar_type() == at::kComplexDouble && w0.dim() == 3 && w0.device().is_cpu() &&
                  c0.sizes() == w0.sizes() && c0.scalar_type() == at::kComplexDouble,
              "fluid_forward: w0, c0 must be CPU complex128 tensors (m, N, N/2+1)");
  Fluid f = fluid_of(coefs, n, nu, kappa);
  const int64_t m = w0.size(0), total = m * f.P;
  auto opts = w0.options();
  Tensor w = w0.contiguous().clone(), c = c0.contiguous().clone();
  std::vector<Tensor> k(8), tmp(2);
  for (auto& t : k) t = at::empty({m, f.N, f.K}, opts);
  for (auto& t : tmp) t = at::empty({m, f.N, f.K}, opts);
  std::vector<Tensor> grids;
  if (save) grids.reserve(4 * steps);
  C *pw = cptr(w), *pc = cptr(c), *tw = cptr(tmp[0]), *tc = cptr(tmp[1]);
  std::vector<C*> pk(8);
  for (int i = 0; i < 8; ++i) pk[i] = cptr(k[i]);
  const double h2 = 0.5 * dt, h6 = dt / 6.0;
  Buffers ws;
  auto stage = [&](const C* sw, const C* sc, int i) {
    Tensor g = fluid_rhs(sw, sc, pk[2 * i], pk[2 * i + 1], m, f, opts, ws, save);
    if (save) grids.push_back(g);
  };
  for (int64_t s = 0; s < steps; ++s) {
    stage(pw, pc, 0);
    for (int64_t x = 0; x < total; ++x) {
      tw[x] = add(pw[x], mulr(pk[0][x], h2));
      tc[x] = add(pc[x], mulr(pk[1][x], h2));
    }
    stage(tw, tc, 1);
    for (int64_t x = 0; x < total; ++x) {
      tw[x] = add(pw[x], mulr(pk[2][x], h2));
      tc[x] = add(pc[x], mulr(pk[3][x], h2));
    }
    stage(tw, tc, 2);
    for (int64_t x = 0; x < total; ++x) {
      tw[x] = add(pw[x], mulr(pk[4][x], dt));
      tc[x] = add(pc[x], mulr(pk[5][x], dt));
    }
    stage(tw, tc, 3);
    for (int64_t x = 0; x < total; ++x) {
      pw[x] = add(pw[x], mulr(add(add(add(pk[0][x], mulr(pk[2][x], 2.0)), mulr(pk[4][x], 2.0)), pk[6][x]), h6));
      pc[x] = add(pc[x], mulr(add(add(add(pk[1][x], mulr(pk[3][x], 2.0)), mulr(pk[5][x], 2.0)), pk[7][x]), h6));
    }
  }
  return std::make_tuple(w, c, grids);
}

// The adjoint: gradients w.r.t. (w0, c0) of <Gw, w> + <Gc, c>, either of Gw, Gc undefined (has_*
// false: that output is not used), with autograd's order of terms in every sum.
std::tuple<Tensor, Tensor> fluid_backward(const Tensor& Gw, bool has_gw, const Tensor& Gc, bool has_gc,
                                          std::vector<Tensor> grids, std::vector<Tensor> coefs, int64_t n, int64_t steps,
                                          double dt, bool nu, bool kappa) {
  Fluid f = fluid_of(coefs, n, nu, kappa);
  const Tensor& any = has_gc ? Gc : Gw;
  TORCH_CHECK(has_gw || has_gc, "fluid_backward: no gradient");
  const int64_t m = any.size(0), P = f.P;
  auto opts = any.options();
  auto fresh = [&]() { return Acc{at::empty({m, f.N, f.K}, opts), false}; };
  auto reset = [](Acc& a) { a.defined = false; };  // a kept buffer, refilled from its first term on
  Buffers ws;
  Acc gw = fresh(), gc = fresh();
  if (has_gw) { gw.t.copy_(Gw); gw.defined = true; }
  if (has_gc) { gc.t.copy_(Gc); gc.defined = true; }
  const double h2 = 0.5 * dt, h6 = dt / 6.0;
  std::vector<Acc> kg(8);  // gradients of k1w, k1c, ..., k4w, k4c: the buffers every step reuses
  for (auto& a : kg) a = fresh();
  Acc spare_w = fresh(), spare_c = fresh();  // the step's accumulators; the last step's are gw, gc
  Acc aw = fresh(), ac = fresh();            // one stage's adjoint
  for (int64_t s = steps - 1; s >= 0; --s) {
    for (auto& a : kg) reset(a);
    Acc accw = spare_w, accc = spare_c;
    reset(accw);
    reset(accc);
    for (int which = 1; which >= 0; --which) {  // c's output chain first (created last), then w's
      Acc& G = which ? gc : gw;
      if (!G.defined) continue;
      Acc& acc = which ? accc : accw;
      const C* pG = G.p();
      accumulate(acc, m, P, [&](int64_t r, int64_t e) { return pG[r * P + e]; });
      accumulate(kg[6 + which], m, P, [&](int64_t r, int64_t e) { return mulr(pG[r * P + e], h6); });
      accumulate(kg[4 + which], m, P, [&](int64_t r, int64_t e) { return mulr(mulr(pG[r * P + e], h6), 2.0); });
      accumulate(kg[0 + which], m, P, [&](int64_t r, int64_t e) { return mulr(pG[r * P + e], h6); });
      accumulate(kg[2 + which], m, P, [&](int64_t r, int64_t e) { return mulr(mulr(pG[r * P + e], h6), 2.0); });
    }
    const double into[3] = {dt, h2, h2};  // the factor each stage's input was formed with (k3, k2, k1)
    for (int i = 3; i >= 1; --i) {  // rhs of stage i+1, whose input was w + into * k_i
      reset(aw);
      reset(ac);
      fluid_rhs_adjoint(kg[2 * i], kg[2 * i + 1], grids[4 * s + i], aw, ac, m, f, opts, ws);
      const double h = into[3 - i];
      const C *paw = aw.p(), *pac = ac.p();
      accumulate(accc, m, P, [&](int64_t r, int64_t e) { return pac[r * P + e]; });
      accumulate(kg[2 * (i - 1) + 1], m, P, [&](int64_t r, int64_t e) { return mulr(pac[r * P + e], h); });
      accumulate(accw, m, P, [&](int64_t r, int64_t e) { return paw[r * P + e]; });
      accumulate(kg[2 * (i - 1)], m, P, [&](int64_t r, int64_t e) { return mulr(paw[r * P + e], h); });
    }
    fluid_rhs_adjoint(kg[0], kg[1], grids[4 * s], accw, accc, m, f, opts, ws);
    spare_w = gw;  // the gradients just consumed: next step's accumulators
    spare_c = gc;
    gw = accw;
    gc = accc;
  }
  return std::make_tuple(gw.t, gc.t);
}

}  // namespace

TORCH_LIBRARY(invnet_spectral, m) {
  m.def("batch_fft", &batch_fft);
  m.def("ks_forward", &ks_forward);
  m.def("ks_backward", &ks_backward);
  m.def("fluid_forward", &fluid_forward);
  m.def("fluid_backward", &fluid_backward);
}
"""


def enabled() -> bool:
    """Whether the kernels may be used (``INVNET_SPECTRAL_KERNELS`` not 0) on this CPU: the
    bit-for-bit equality with torch's kernels was derived for its AVX2/AVX512 complex loops."""
    if os.environ.get(ENV_SWITCH, "1").strip().lower() in ("0", "false", "no", "off"):
        return False
    return torch.backends.cpu.get_cpu_capability() in ("AVX2", "AVX512")


def applicable(t: torch.Tensor):
    """The kernels for a state ``t``, or None: they run on CPU float64 (complex128) states with
    one torch thread (the pipeline's default ``threads: 1``); otherwise the eager code runs."""
    if t.dtype != torch.complex128 or t.device.type != "cpu" or torch.get_num_threads() != 1:
        return None
    return ops()


def _build_directory(name: str) -> Path:
    root = os.environ.get("TORCH_EXTENSIONS_DIR") or os.path.join(os.path.expanduser("~"), ".cache", "torch_extensions")
    return Path(root) / f"py{sys.version_info.major}{sys.version_info.minor}_cpu" / name


def library_name() -> str:
    """The library's name: changes with the source, the flags and the torch version."""
    key = "\0".join([SOURCE, *CFLAGS, torch.__version__]).encode()
    return "invnet_spectral_" + hashlib.sha256(key).hexdigest()[:12]


@lru_cache(maxsize=1)
def ops():
    """``torch.ops.invnet_spectral`` with the compiled kernels, or None where they are off or cannot
    be built (the eager code runs then)."""
    if not enabled():
        return None
    name = library_name()
    directory = _build_directory(name)
    try:
        directory.mkdir(parents=True, exist_ok=True)
        # One process at a time builds or loads; the kernel releases the lock if a process dies
        # (torch's own build lock, a file, would outlive a killed build and stall every later job).
        with open(directory / "invnet.flock", "w") as guard:
            fcntl.flock(guard, fcntl.LOCK_EX)
            _load_or_build(name, directory)
        return torch.ops.invnet_spectral
    except Exception as err:  # noqa: BLE001 - any build or load failure means: run the eager code
        log.warning("spectral kernels unavailable (%s); running the eager torch code (same results, slower)",
                    str(err).splitlines()[0] if str(err) else type(err).__name__)
        return None


def _load_or_build(name: str, directory: Path) -> None:
    library = directory / f"{name}.so"
    if library.exists():
        try:
            torch.ops.load_library(str(library))
            return
        except OSError:  # a build killed while linking: build again
            library.unlink()
    from torch.utils.cpp_extension import load_inline

    log.info("building the spectral kernels in %s (once per machine and source version)", directory)
    (directory / "lock").unlink(missing_ok=True)  # left by a killed build; we hold the only lock
    load_inline(name, cpp_sources=[SOURCE], extra_cflags=list(CFLAGS), build_directory=str(directory),
                is_python_module=False)
