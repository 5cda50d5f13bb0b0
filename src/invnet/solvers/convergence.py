"""The convergence rule of network training (docs/experiments.md §2.6): has the training loss
stopped changing?

After the training losses L_0, ..., L_k of steps 0..k (L_j: the loss of the network after j
updates), with a window of W steps: the rule holds when k + 1 >= 2W and the mean of the last W
losses differs from the mean of the W before them by at most ``rtol`` times the latter,

    |mean(L[k-W+1 .. k]) - mean(L[k-2W+1 .. k-W])| <= rtol * |mean(L[k-2W+1 .. k-W])|.

Means over windows, not single steps: full-batch Adam oscillates from step to step, and a rising
loss (a diverging run) does not count as converged, only a stationary one. Pure Python (exact
window sums with ``math.fsum``), so it is deterministic and costs microseconds per step.
"""

from __future__ import annotations

import math


class ConvergenceRule:
    """Feed the training loss of each step with :meth:`update`; it returns whether the rule holds
    now, and :attr:`first` keeps the first step count at which it held (None before)."""

    def __init__(self, window: int, rtol: float):
        if window < 1 or rtol < 0:
            raise ValueError(f"window must be >= 1 and rtol >= 0, got {window}, {rtol}")
        self.window = int(window)
        self.rtol = float(rtol)
        self.losses: list[float] = []
        self.first: int | None = None  # steps done (k + 1) when the rule first held

    def holds(self) -> bool:
        """Whether the rule holds on the losses fed so far."""
        w, losses = self.window, self.losses
        if len(losses) < 2 * w:
            return False
        before = math.fsum(losses[-2 * w:-w]) / w
        last = math.fsum(losses[-w:]) / w
        return abs(last - before) <= self.rtol * abs(before)

    def update(self, loss: float) -> bool:
        """Add the training loss of the next step; whether the rule holds now. Once it held,
        :attr:`first` is the number of losses fed at that moment (the network's step count after
        the update that follows that loss)."""
        self.losses.append(float(loss))
        now = self.holds()
        if now and self.first is None:
            self.first = len(self.losses)
        return now
