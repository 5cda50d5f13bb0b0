"""Independent references the tests compare the package against (NumPy, no torch)."""

from __future__ import annotations

import numpy as np


def numpy_loss_and_grad(x, y, t, sigma, f):
    """Hand-derived loss and analytic gradient of the wave-packet loss (independent of torch)."""
    t0, amp = x[:, :1], x[:, 1:]
    d = t[None, :] - t0
    env = np.exp(-(d**2) / (2 * sigma**2))
    s, c = np.sin(2 * np.pi * f * d), np.cos(2 * np.pi * f * d)
    u = amp * env * s
    r = u - y
    du_dt0 = amp * env * (d * s / sigma**2 - 2 * np.pi * f * c)
    du_da = env * s
    loss = (r**2).mean(axis=1)
    grad = np.stack([(2 * r * du_dt0).mean(axis=1), (2 * r * du_da).mean(axis=1)], axis=1)
    return loss, grad
