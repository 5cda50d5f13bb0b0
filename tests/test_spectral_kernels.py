"""The fused spectral kernels (invnet.problems._spectral) against the eager torch code they replace:
the same bits, forward and gradient, whatever the batch; and the eager code when they are off.

The eager code is the reference here (it is itself checked against independent SciPy solutions in
tests/test_ks.py and tests/test_fluid.py). Bits are compared as int64 views, so signed zeros and
NaN payloads count too.
"""

import numpy as np
import pytest
import torch

from invnet.problems import _spectral, make_family
from invnet.problems.base import Objective
from invnet.problems import fluid as fluid_module
from invnet.problems.fluid import fluid_operator, fluid_rk4
from invnet.problems.ks import ks_operator


def bits(t: torch.Tensor) -> torch.Tensor:
    t = torch.view_as_real(t) if t.is_complex() else t
    return t.contiguous().view(torch.int64)


@pytest.fixture(scope="module")
def kernels():
    ops = _spectral.ops()
    assert ops is not None, (
        "the spectral kernels did not build or load on this machine (see the log); "
        f"set {_spectral.ENV_SWITCH}=0 to run without them"
    )
    return ops


@pytest.fixture
def eager(monkeypatch):
    """A context in which the kernels are off (the eager torch code runs)."""

    class Eager:
        def __enter__(self):
            monkeypatch.setenv(_spectral.ENV_SWITCH, "0")
            _spectral.ops.cache_clear()

        def __exit__(self, *exc):
            monkeypatch.delenv(_spectral.ENV_SWITCH)
            _spectral.ops.cache_clear()

    yield Eager()
    _spectral.ops.cache_clear()


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def ks_spectra(m: int, n: int, amplitude: float, seed: int) -> torch.Tensor:
    rng = np.random.default_rng(seed)
    return torch.fft.rfft(torch.as_tensor(amplitude * rng.standard_normal((m, n))))


@pytest.mark.parametrize("n_grid,length", [(64, 22.0), (32, 11.0)])
@pytest.mark.parametrize("m", [1, 7, 64])
@pytest.mark.parametrize("steps", [1, 80])
def test_ks_fused_steps_are_the_eager_loop_bit_for_bit(kernels, n_grid, length, m, steps):
    """Forward state and the gradient of <G, v(T)> w.r.t. v(0), against the step loop + autograd."""
    op = ks_operator(n_grid, length, 0.25)
    assert op.fusable
    c = op.on("cpu", torch.float64)
    v0 = ks_spectra(m, n_grid, 1.0, seed=m + steps)
    grad_out = ks_spectra(m, n_grid, 1.0, seed=1000 + m)

    eager_in = v0.clone().requires_grad_(True)
    v = eager_in
    for _ in range(steps):
        v = op.step(v, c)
    (eager_grad,) = torch.autograd.grad(v, eager_in, grad_out)

    fused_in = v0.clone().requires_grad_(True)
    fused = op.integrate(fused_in, steps, c)
    (fused_grad,) = torch.autograd.grad(fused, fused_in, grad_out)
    assert fused.grad_fn is not None and "Fused" in type(fused.grad_fn).__name__
    assert torch.equal(bits(fused), bits(v))
    assert torch.equal(bits(fused_grad), bits(eager_grad))


def assert_kept_plans_give_atens_bits(kernels, cases, n: int, dims: int) -> None:
    """Each (kind, input, norm, ATen's result) of ``cases`` through the kernels' kept-plan
    transform, twice (a new plan, then the kept one): ATen's dtype, shape and bits."""
    for kind, x, norm, want in cases:
        for _ in range(2):
            got = kernels.batch_fft(x, kind, n, norm, dims)
            assert got.dtype == want.dtype and got.shape == want.shape
            assert torch.equal(bits(got), bits(want)), (kind, norm)


@pytest.mark.parametrize("rows", [1, 2, 3, 16, 64, 257])
@pytest.mark.parametrize("n", [64, 32])
def test_ks_transforms_with_kept_plans_are_atens_bit_for_bit(kernels, rows, n):
    """The KS loop's 1-D transforms reuse one MKL plan per shape instead of ATen's plan per call:
    r2c (no scaling and 1/N), c2r (1/N) and the inverse c2c give ATen's bits, also on a second
    call with the same plan and on the shapes of batched BFGS rounds (any row count)."""
    rng = np.random.default_rng(rows * n)
    real = torch.as_tensor(rng.standard_normal((rows, n)))
    half = torch.fft.rfft(real) * (1 + 0.5j)
    full = torch.complex(*(torch.as_tensor(rng.standard_normal((rows, n))) for _ in range(2)))
    cases = [(0, real, 0, torch.ops.aten._fft_r2c(real, [1], 0, True)),
             (0, real, 2, torch.ops.aten._fft_r2c(real, [1], 2, True)),
             (1, half, 2, torch.ops.aten._fft_c2r(half, [1], 2, n)),
             (2, full, 0, torch.ops.aten._fft_c2c(full, [1], 0, False))]
    assert_kept_plans_give_atens_bits(kernels, cases, n, dims=1)


@pytest.mark.parametrize("fields", [1, 2, 3, 8, 16, 64, 256])
@pytest.mark.parametrize("n", [32, 16, 64])
def test_fluid_transforms_with_kept_plans_are_atens_bit_for_bit(kernels, fields, n):
    """The fluid loop's 2-D transforms over (N, N) fields reuse one MKL plan per shape and skip
    ATen's copies: r2c (no scaling and 1/N^2), the inverse c2c, and c2r (1/N^2, which ATen computes
    as an inverse c2c over the first axis, then a 1-D c2r over the last) give ATen's bits, also on a
    second call with the same plan. 4 fields per problem: 16, 64 and 256 are chunks of 4, 16 and 64
    problems; 1, 2, 3 and 8 cover batches where MKL rounds differently (a batch of one)."""
    rng = np.random.default_rng(fields * n)
    real = torch.as_tensor(rng.standard_normal((fields, n, n)))
    half = torch.fft.rfft2(real) * (1 + 0.5j)  # a spectrum whose rows are not Hermitian either
    half[:, 1:3, 0] += 0.25j
    full = torch.complex(*(torch.as_tensor(rng.standard_normal((fields, n, n))) for _ in range(2)))
    full[:, :, n // 2 + 1:] = 0  # as the adjoint passes it, and dense
    dense = torch.complex(*(torch.as_tensor(rng.standard_normal((fields, n, n))) for _ in range(2)))
    cases = [(0, real, 0, torch.ops.aten._fft_r2c(real, [1, 2], 0, True)),
             (0, real, 2, torch.ops.aten._fft_r2c(real, [1, 2], 2, True)),
             (1, half, 2, torch.ops.aten._fft_c2r(half, [1, 2], 2, n)),
             (2, full, 0, torch.ops.aten._fft_c2c(full, [1, 2], 0, False)),
             (2, dense, 0, torch.ops.aten._fft_c2c(dense, [1, 2], 0, False))]
    assert_kept_plans_give_atens_bits(kernels, cases, n, dims=2)


def test_ks_fused_steps_overflow_as_the_eager_loop_does(kernels):
    """A state far outside the prior overflows to inf/NaN (unbounded BFGS steps there): the same
    non-finite values in the same places, so failed problems are recorded identically."""
    op = ks_operator(64, 22.0, 0.25)
    c = op.on("cpu", torch.float64)
    v0 = ks_spectra(5, 64, 300.0, seed=7)
    v = v0
    for _ in range(80):
        v = op.step(v, c)
    fused = op.integrate(v0, 80, c)
    assert not torch.isfinite(v).all()
    assert torch.equal(bits(fused), bits(v))


def test_ks_objective_is_unchanged_by_the_kernels(kernels, eager):
    """Losses and gradients of the family's objective (default config: T = 20, 80 steps) with the
    kernels and without, bit for bit, batched and one problem at a time."""
    ks = make_family("ks")
    pset = ks.sample(24, np.random.default_rng(5))
    obj = Objective.from_set(ks, pset)
    x = torch.as_tensor(pset.x_true) + torch.as_tensor(np.random.default_rng(6).uniform(-0.3, 0.3, (24, 2)))
    fused = obj.value_and_grad(x)
    fused_rows = [obj.value_and_grad(x[i : i + 1], torch.tensor([i])) for i in (0, 11, 23)]
    with eager:
        assert _spectral.ops() is None
        reference = obj.value_and_grad(x)
    for got, want in zip(fused, reference):
        assert torch.equal(bits(got), bits(want))
    for i, (f, g) in zip((0, 11, 23), fused_rows):
        assert torch.equal(bits(f), bits(reference[0][i : i + 1]))
        assert torch.equal(bits(g), bits(reference[1][i : i + 1]))


def test_ks_grids_whose_vector_tails_are_kept_run_the_eager_code():
    """On 8 points every mode is in torch's scalar tail, where it rounds products differently from
    its vector loop: the kernel would not reproduce it there, so the operator does not fuse."""
    assert not ks_operator(8, 22.0, 0.25).fusable
    assert not ks_operator(64, 22.0, 0.25, dealias=False).fusable
    assert ks_operator(64, 22.0, 0.25).fusable


@pytest.mark.parametrize("m", [1, 5])
@pytest.mark.parametrize("steps", [1, 20])
@pytest.mark.parametrize("loss_on", ["marker", "both"])
def test_fluid_fused_rk4_is_the_eager_loop_bit_for_bit(kernels, eager, m, steps, loss_on):
    """Vorticity and marker after ``steps`` RK4 steps and the gradients w.r.t. both initial fields,
    the loss on the marker only (the family's case: the vorticity output carries no gradient) or
    on both."""
    rng = np.random.default_rng(10 * m + steps)
    w0, c0 = (torch.as_tensor(rng.standard_normal((m, 32, 32))) for _ in range(2))
    weights = [torch.as_tensor(rng.standard_normal((m, 32, 32))) for _ in range(2)]

    def run():
        w_in, c_in = w0.clone().requires_grad_(True), c0.clone().requires_grad_(True)
        w, c = fluid_rk4(w_in, c_in, steps=steps)
        nodes.append(type(c.grad_fn.next_functions[0][0]).__name__)
        loss = (weights[1] * c).sum() + ((weights[0] * w).sum() if loss_on == "both" else 0.0)
        return [w.detach(), c.detach(), *torch.autograd.grad(loss, [w_in, c_in])]

    nodes = []
    fused = run()
    with eager:
        reference = run()
    assert "Fused" in nodes[0] and "Fused" not in nodes[1]
    for got, want in zip(fused, reference):
        assert torch.equal(bits(got), bits(want))


@pytest.mark.parametrize("chunk_rows,m", [(4, 11), (2, 9), (2, 2), (4, 64)])
def test_fluid_chunked_calls_are_one_eager_call_bit_for_bit(kernels, eager, monkeypatch, chunk_rows, m):
    """The fused loop runs a few problems at a time (``CHUNK_POINTS``): the outputs and gradients
    of every row are still those of the eager loop over the whole batch at once."""
    monkeypatch.setattr(fluid_module, "CHUNK_POINTS", chunk_rows * 32 * 32)
    sizes = fluid_module.chunk_sizes(m, 32)
    assert sum(sizes) == m and min(sizes) >= min(2, m) and len(sizes) == max(1, m // chunk_rows)
    rng = np.random.default_rng(m)
    w0, c0, weight = (torch.as_tensor(rng.standard_normal((m, 32, 32))) for _ in range(3))

    def run():
        w_in, c_in = w0.clone().requires_grad_(True), c0.clone().requires_grad_(True)
        w, c = fluid_rk4(w_in, c_in, steps=20)
        return [w.detach(), c.detach(), *torch.autograd.grad((weight * c).sum(), [w_in, c_in])]

    fused = run()
    with eager:
        reference = run()
    for got, want in zip(fused, reference):
        assert torch.equal(bits(got), bits(want))


def test_fluid_objective_is_unchanged_by_the_kernels(kernels, eager):
    """The family's losses and gradients (default config: 32², 20 steps), kernels on and off, also
    for vortex strengths far outside the prior that overflow (NaN in the same places)."""
    fluid = make_family("fluid")
    pset = fluid.sample(6, np.random.default_rng(8))
    obj = Objective.from_set(fluid, pset)
    x = torch.as_tensor(pset.x_true) * 1.1
    x[5, 2] = x[5, 5] = 1e6
    fused = obj.value_and_grad(x)
    with eager:
        reference = obj.value_and_grad(x)
    assert not torch.isfinite(reference[0][5])
    for got, want in zip(fused, reference):
        assert torch.equal(bits(got), bits(want))


def test_fluid_grids_with_a_vector_tail_run_the_eager_code():
    """On 12² a problem has 12 x 7 = 84 modes, 4 of them in torch's scalar tail: not fused."""
    assert not fluid_operator(12, 2 * np.pi).fusable
    assert fluid_operator(32, 2 * np.pi).fusable and fluid_operator(16, 2 * np.pi).fusable


def test_a_build_killed_midway_does_not_stall_later_jobs(kernels, tmp_path):
    """A build killed while it held torch's build lock (a file) leaves that file behind; the next
    job still loads the kernels instead of waiting for the dead build forever."""
    import os
    import shutil
    import subprocess
    import sys

    name = _spectral.library_name()
    built = _spectral._build_directory(name) / f"{name}.so"
    target = tmp_path / f"py{sys.version_info.major}{sys.version_info.minor}_cpu" / name
    target.mkdir(parents=True)
    shutil.copy2(built, target / built.name)
    (target / "lock").write_text("")  # what a killed torch build leaves
    child = subprocess.run(
        [sys.executable, "-c", "from invnet.problems import _spectral; print(_spectral.ops() is not None)"],
        env={**os.environ, "TORCH_EXTENSIONS_DIR": str(tmp_path)}, capture_output=True, text=True, timeout=120)
    assert child.returncode == 0, child.stderr[-2000:]
    assert child.stdout.strip() == "True"
