"""Role rules that several figures share: which configured solvers a panel draws, from their
roles in the :class:`~invnet.solver_info.SolverSet` (never their names). Not a figure (no
``FIGURE``)."""

from __future__ import annotations

from ..solver_info import SolverSet


def baseline_and_primary(solvers: SolverSet) -> list[str]:
    """The baseline (BFGS) and the primary method (JPO), those configured: the two whose
    solutions the per-example panels show (Figure 3 (a, b), ``fig_fluid`` (b), ``trajectories``)."""
    return [s for s in (solvers.baseline, solvers.primary) if s is not None]


def loss_curves(solvers: SolverSet) -> list[str]:
    """Solvers whose loss history is an optimisation of L from x0, in table order: every
    per-problem solver that starts from x0 (BFGS, L-BFGS-B, GD, Adam, a plug-in optimiser) and the
    primary method's training. Not the refinements and multi-starts (they start elsewhere) nor the
    other network methods: supervised training minimises a parameter error, so its curve of L is a
    by-product that would set the panel's scale (Figures 3 (c) and 5 (c))."""
    chosen = set(solvers.select(from_x0=True, network=False)) | {solvers.primary}
    return [s for s in solvers if s in chosen]
