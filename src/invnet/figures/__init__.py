"""Figures rendered from artifacts only (results/aggregate), one module per figure.

A module here that defines ``FIGURE = FigureSpec(...)`` is a figure: the workflow renders it for
the experiments it applies to, computes its panel data in a job of its own (so restyling a figure
never reruns a solver) and gives it a named target. See :mod:`invnet.figures.base`.
"""

from .base import FigureInputs, FigureSpec, figures
from .style import apply_style, save_figure, solver_color, solver_style

__all__ = ["FigureInputs", "FigureSpec", "apply_style", "figures", "save_figure", "solver_color", "solver_style"]
