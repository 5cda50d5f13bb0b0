"""``bfgs_multistart``: the compute-matched classical baseline (ours, not the paper's).

A named composition (:class:`invnet.solvers.compose.MultiStart` of BFGS): SciPy BFGS per problem
from the shared x0 and from K − 1 further starts drawn from the family's prior (a stream seeded by
the run's seed), all K·n runs advanced together by the vectorised BFGS; the best final loss per
problem is kept. Because the starts are a fixed sequence (x0 first), the run also holds every
smaller multi-start: best-of-the-first-k for each k ≤ K, with the evaluations the first k starts
spent. The aggregate turns that into a budget curve (``budget`` settings) next to JPO's
evaluation count. With K = 1 the result is ``bfgs``'s, bit for bit. Any other per-problem method
multi-starts by config: ``gd_multistart: {method: gd, starts: 10}``.
"""

from __future__ import annotations

from .bfgs import BFGS
from ..starts import best_of_first
from .compose import MultiStart, start_points

__all__ = ["BFGSMultistart", "best_of_first", "start_points"]


class BFGSMultistart(MultiStart):
    """SciPy BFGS from x0 and K − 1 prior draws per problem, best final loss kept."""

    name = "bfgs_multistart"
    label = "BFGS multi-start"
    order = 5
    style = {"color": (0.45, 0.45, 0.45), "marker": "o", "linestyle": (0, (1, 1))}
    cost = 5.0
    method_cls = BFGS
    default_starts = 20
    default_budget = [1, 2, 5, 20]
