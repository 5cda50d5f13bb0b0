"""The contract every problem family honours (imported by tests/test_family_contract.py, which
runs it for every registered family, and by tests/test_plugin_family.py for a family defined
outside the package). A new family gets these checks without writing them; its own test file
adds the physics against an independent reference."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from invnet.problems import Objective, ProblemFamily
from invnet.seeding import numpy_rng

N = 6
DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def make(cls: type[ProblemFamily], **overrides) -> ProblemFamily:
    return cls(**{**cls.test_params, **overrides})


def sample(fam: ProblemFamily, seed: int = 0, n: int = N):
    return fam.sample(n, numpy_rng(seed, "contract"))


def tensors(fam, pset, dtype=torch.float64, device="cpu"):
    def t(a):
        return None if a is None else torch.as_tensor(a, dtype=dtype, device=device)

    return t(pset.x_true), t(pset.y_target), t(pset.gamma)


def perturbed(fam: ProblemFamily, pset, scale: float = 0.05) -> np.ndarray:
    """Points near the ground truth (inside the bounds) where losses are non-trivial."""
    rng = np.random.default_rng(1)
    width = fam.bounds[:, 1] - fam.bounds[:, 0]
    x = pset.x_true + scale * width * rng.standard_normal(pset.x_true.shape)
    return np.clip(x, fam.bounds[:, 0], fam.bounds[:, 1])


def check_declarations(cls: type[ProblemFamily]) -> None:
    assert cls.name and cls.param_names, "a family declares its name and unknowns"
    for key in ("x0", "bounds"):
        assert key in cls.params_spec, f"params_spec lacks '{key}'"
    fam = make(cls)
    assert fam.x0.shape == (fam.dim,) and fam.bounds.shape == (fam.dim, 2)
    assert np.all(fam.bounds[:, 0] < fam.bounds[:, 1])
    assert np.all((fam.bounds[:, 0] <= fam.x0) & (fam.x0 <= fam.bounds[:, 1])), "x0 outside the bounds"


def check_sampling(cls: type[ProblemFamily]) -> None:
    fam = make(cls)
    a, b, c = sample(fam, 0), sample(fam, 0), sample(fam, 1)
    for key, value in a.arrays().items():
        np.testing.assert_array_equal(value, b.arrays()[key], err_msg=f"{key} not deterministic")
    assert a.x_true.shape == (N, fam.dim) and a.y_target.shape[0] == N
    assert not np.array_equal(a.x_true, c.x_true), "different seeds gave the same problems"
    assert np.all(np.isfinite(a.y_target)) and np.all(np.isfinite(a.x_true))
    if not cls.identifiers:  # a family declaring no identifiers samples none
        assert a.gamma is None and c.gamma is None, "identifiers = False, but sample() gives gamma"


def check_batched_equals_rows(cls: type[ProblemFamily]) -> None:
    fam = make(cls)
    pset = sample(fam)
    x = torch.as_tensor(perturbed(fam, pset))
    _, y_t, gamma = tensors(fam, pset)
    batched = fam.loss(fam.forward(x, gamma), y_t)
    rows = torch.cat([
        fam.loss(fam.forward(x[i : i + 1], None if gamma is None else gamma[i : i + 1]), y_t[i : i + 1])
        for i in range(N)
    ])
    assert batched.shape == (N,)
    torch.testing.assert_close(batched, rows, rtol=1e-12, atol=1e-14)


def check_gradient(cls: type[ProblemFamily], h: float = 1e-6, rtol: float = 1e-5) -> None:
    """Autograd against central finite differences, per problem and unknown (float64)."""
    fam = make(cls)
    pset = sample(fam)
    x = perturbed(fam, pset)
    obj = Objective.from_set(fam, pset)
    f, g = obj.value_and_grad(torch.as_tensor(x))
    assert torch.all(torch.isfinite(f)) and torch.all(torch.isfinite(g))
    fd = np.zeros_like(x)
    for j in range(fam.dim):
        step = np.zeros_like(x)
        step[:, j] = h
        fp = obj(torch.as_tensor(x + step)).numpy()
        fm = obj(torch.as_tensor(x - step)).numpy()
        fd[:, j] = (fp - fm) / (2 * h)
    scale = np.maximum(np.abs(fd).max(axis=1, keepdims=True), 1e-8)
    err = np.abs(g.numpy() - fd) / scale
    assert err.max() < rtol, f"max relative gradient error {err.max():.2e}"


def check_precisions_and_device(cls: type[ProblemFamily], device: str) -> None:
    fam = make(cls)
    pset = sample(fam)
    x = perturbed(fam, pset)
    ref = None
    for dtype in (torch.float64, torch.float32):
        _, y_t, gamma = tensors(fam, pset, dtype, device)
        xt = torch.as_tensor(x, dtype=dtype, device=device).requires_grad_(True)
        y = fam.forward(xt, gamma)
        loss = fam.loss(y, y_t)
        (g,) = torch.autograd.grad(loss.sum(), xt)
        for name, t in (("forward", y), ("loss", loss), ("gradient", g)):
            assert t.dtype == dtype, f"{name} is {t.dtype} for {dtype} input"
            assert t.device.type == device, f"{name} is on {t.device}, not {device}"
        if ref is None:
            ref = loss.detach().cpu().double()
        else:
            torch.testing.assert_close(loss.detach().cpu().double(), ref, rtol=1e-3, atol=1e-5)


def check_loss_at_truth(cls: type[ProblemFamily]) -> None:
    fam = make(cls)
    pset = sample(fam)
    x, y_t, gamma = tensors(fam, pset)
    assert torch.all(fam.loss(fam.forward(torch.as_tensor(perturbed(fam, pset)), gamma), y_t) >= 0)
    if cls.noise_free is None:
        pytest.skip(f"{cls.name} declares no noise-free setting")
    clean = make(cls, **cls.noise_free)
    pset = sample(clean)
    x, y_t, gamma = tensors(clean, pset)
    loss = clean.loss(clean.forward(x, gamma), y_t)
    assert torch.all(loss == 0), f"loss at the noise-free ground truth: {loss.max().item():.3e}"


CHECKS = {
    "declarations": check_declarations,
    "sampling": check_sampling,
    "batched_equals_rows": check_batched_equals_rows,
    "gradient": check_gradient,
    "loss_at_truth": check_loss_at_truth,
}
