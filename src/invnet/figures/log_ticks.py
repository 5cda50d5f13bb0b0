"""Log axes labelled with plain numbers (1, 10, 100; 0.01) instead of powers of ten, for the
figures whose log axes span few decades. Not a figure (no ``FIGURE``)."""

from __future__ import annotations


def plain_log_ticks(axis) -> None:
    """Label the ticks of a log ``axis`` (``ax.xaxis`` / ``ax.yaxis``) as plain numbers (at most
    three significant digits); the minor ticks too where the axis spans less than a decade (else
    it could show one number or none). Call after drawing."""
    from matplotlib.ticker import FuncFormatter, NullFormatter

    plain = FuncFormatter(lambda v, _: f"{v:,.0f}" if v >= 1 else f"{v:.3g}")
    axis.set_major_formatter(plain)
    lo, hi = sorted(axis.get_view_interval())
    axis.set_minor_formatter(plain if 0 < lo and hi / lo < 10 else NullFormatter())
