"""Figures rendered from aggregated artifacts only (results/aggregate), one module per figure.

Each module exposes ``plot(...)`` writing a vector PDF and a 200 dpi PNG through
:func:`invnet.figures.style.save_figure`; panel data that needs computation is produced by a
separate rule (e.g. :func:`invnet.figures.fig3.compute_landscape`), so restyling a figure never
reruns a solver.
"""

from .style import apply_style, save_figure, solver_color, solver_style

__all__ = ["apply_style", "save_figure", "solver_color", "solver_style"]
