"""Figures rendered from artifacts only (results/aggregate), one module per figure.

A module here that defines ``FIGURE = FigureSpec(...)`` is a figure: the workflow renders it for
the experiments it applies to, computes its panel data in a job of its own (so restyling a figure
never reruns a solver) and gives it a named target. The other modules are helpers the figures
share. See :mod:`invnet.figures.base`.
"""

from .base import FigureInputs, FigureSpec, PanelInputs, figures
from .style import apply_style, save_figure, solver_color, solver_style

__all__ = ["FigureInputs", "FigureSpec", "PanelInputs", "apply_style", "figures", "save_figure", "solver_color",
           "solver_style"]
