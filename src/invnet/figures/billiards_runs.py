"""A billiards problem set with the runs on it, as the panel steps of Figure 4 and the
``trajectories`` appendix figure read it (docs/experiments.md §4.2): :class:`BilliardsRuns`, the
exact zero-gradient test at the shared start x0 and the exact shot paths. Not a figure (no
``FIGURE``)."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from .problem_runs import load_problem_runs

if TYPE_CHECKING:  # torch and the family load where panels are computed, not on import
    from ..problems import Objective
    from ..problems.billiards import Billiards

FAMILIES = ("billiards", "billiards_chain")


@dataclass
class BilliardsRuns:
    """One problem set (training problems) with every run on it."""

    family: Billiards
    attrs: dict
    y_target: np.ndarray  # (n, 2)
    x_true: np.ndarray  # (n, 2)
    gamma: np.ndarray  # (n, 2 * chain)
    solutions: dict[str, np.ndarray]  # solver -> (n, 2)
    losses: dict[str, np.ndarray]  # solver -> (n,)

    @property
    def n(self) -> int:
        return int(self.x_true.shape[0])

    def objective(self, idx: np.ndarray | None = None) -> Objective:
        """The float64 objective of all problems, or of the problems ``idx``."""
        import torch

        from ..problems import Objective

        sel = slice(None) if idx is None else np.asarray(idx)
        return Objective(
            self.family,
            torch.as_tensor(self.y_target[sel], dtype=torch.float64),
            torch.as_tensor(self.gamma[sel], dtype=torch.float64),
        )

    def flat_at_x0(self) -> np.ndarray:
        """(n,) bool: the gradient of L_i at x0 is exactly zero (every component == 0.0)."""
        import torch

        x0 = torch.as_tensor(self.family.x0, dtype=torch.float64).expand(self.n, -1)
        _, grad = self.objective().value_and_grad(x0)
        return (grad == 0.0).all(dim=1).numpy()


def load_billiards_runs(
    data: str | os.PathLike, runs: Mapping[str, str | os.PathLike] | Iterable[str | os.PathLike]
) -> BilliardsRuns:
    """The data artifact of a billiards experiment and its run artifacts (solver -> path)."""
    pr = load_problem_runs(data, runs, tuple(FAMILIES))
    return BilliardsRuns(
        family=pr.family,
        attrs=pr.attrs,
        y_target=np.asarray(pr.arrays["y_target"], dtype=np.float64),
        x_true=np.asarray(pr.arrays["x_true"], dtype=np.float64),
        gamma=np.asarray(pr.arrays["gamma"], dtype=np.float64),
        solutions=pr.solutions,
        losses=pr.losses,
    )


def shot_knots(family: Billiards, x: np.ndarray, gamma: np.ndarray) -> np.ndarray:
    """Positions of every ball at the start, at each intended contact and at rest, for shots x
    (m, 2) on tables gamma (m, 2 * chain): (m, K, balls, 2). Motion is a straight line in s
    between these knots, so the polyline through them is the exact path."""
    import torch

    xt = torch.as_tensor(x, dtype=torch.float64)
    gt = torch.as_tensor(gamma, dtype=torch.float64)
    ev = family.events(xt, gt)
    s_max = torch.full_like(xt[:, 0], family.s_max)
    knots = [torch.zeros_like(s_max), ev["s1"]] + ([ev["s2"]] if "s2" in ev else []) + [s_max]
    return family.positions_at_s(xt, gt, torch.stack(knots, dim=1)).numpy()
