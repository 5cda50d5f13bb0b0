"""The named refinements: BFGS started from a network's solutions (docs/experiments.md §2).

Compositions (:class:`invnet.solvers.compose.Refine`) declared with their labels, orders and
styles; any other refinement is configured, e.g. ``jpo_gd: {method: gd, start_from: jpo}``.
Their own module, so that editing the composition code reruns these runs but not plain BFGS.
"""

from __future__ import annotations

from .bfgs import BFGS
from .compose import Refine


class JPOBFGS(Refine):
    """BFGS refinement started from the JPO solutions (docs/experiments.md §2, ``jpo_bfgs``)."""

    name = "jpo_bfgs"
    label = "JPO + BFGS"
    order = 50
    style = {"color": ("colorblind", 9), "marker": "d", "linestyle": (0, (4, 1.5))}
    method_cls = BFGS
    fixed_start_from = "jpo"


class SupervisedBFGS(Refine):
    """BFGS refinement started from the supervised network's solutions."""

    name = "supervised_bfgs"
    label = "Supervised + BFGS"
    order = 70
    style = {"color": ("colorblind", 3), "marker": ">", "linestyle": (0, (4, 1.5))}  # vermillion: 5 is the neural adjoint's
    method_cls = BFGS
    fixed_start_from = "supervised"
