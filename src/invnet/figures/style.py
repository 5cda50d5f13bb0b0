"""One look for every figure: seaborn paper context, colour-blind palette, a fixed colour,
marker and line style per solver (the same in every figure), vector PDF + 200 dpi PNG with
deterministic metadata (byte-identical files for identical inputs)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

os.environ.setdefault("SOURCE_DATE_EPOCH", "0")  # matplotlib honours it for PDF/PS dates

import functools  # noqa: E402
import logging  # noqa: E402

import matplotlib  # noqa: E402

matplotlib.use("Agg")

# pyplot and seaborn (which imports scipy.stats) are imported where a figure is drawn, not here:
# the workflow imports every figure module to build its DAG, in every (cluster) job's start-up.
from ..analysis import solver_label, solver_order  # noqa: E402
from ..solvers import solvers  # noqa: E402

logging.getLogger("fontTools").setLevel(logging.WARNING)  # PDF font subsetting chatter

PNG_DPI = 200
# Column widths (inches) of a two-column paper.
SINGLE_COLUMN = 3.4
DOUBLE_COLUMN = 7.0


@functools.cache
def _palette() -> list[tuple[float, float, float]]:
    import seaborn as sns

    return [tuple(c) for c in sns.color_palette("colorblind", 10)]


_MARKERS = ("o", "s", "D", "^", "v", "P", "X", "d", ">", "<", "h", "*")
# A solver's look comes from its class (``Solver.style``): a colour as RGB or as
# ("colorblind", index), a marker and a line style. The baseline is black; solvers without a
# style get the palette colours no registered solver uses, in table order.

RC: dict[str, Any] = {
    "figure.dpi": 100,
    "savefig.dpi": PNG_DPI,
    "savefig.bbox": "tight",
    "savefig.pad_inches": 0.02,
    "pdf.fonttype": 42,  # embed TrueType, editable text
    "ps.fonttype": 42,
    "svg.hashsalt": "invnet",
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.titlesize": 9,
    "axes.titlelocation": "left",
    "axes.labelsize": 8,
    "xtick.labelsize": 7,
    "ytick.labelsize": 7,
    "legend.fontsize": 7,
    "legend.frameon": False,
    "lines.linewidth": 1.2,
    "lines.markersize": 4,
    "errorbar.capsize": 2,
}


def apply_style() -> None:
    """Seaborn paper context with ticks, the colour-blind palette and the shared rc settings."""
    import seaborn as sns

    sns.set_theme(context="paper", style="ticks", palette="colorblind", rc=RC)


def _color(value: Any) -> tuple[float, float, float]:
    if isinstance(value, (list, tuple)) and len(value) == 2 and value[0] == "colorblind":
        return tuple(_palette()[int(value[1]) % len(_palette())])
    return tuple(float(v) for v in value)


def solver_color(solver: str) -> tuple[float, float, float]:
    """The solver's declared colour, else a palette colour no declared style takes."""
    registered = solvers()
    cls = registered.get(solver)
    if cls is not None and "color" in cls.style:
        return _color(cls.style["color"])
    taken = {_color(c.style["color"]) for c in registered.values() if "color" in c.style}
    free = [c for c in _palette() if c not in taken] or list(_palette())
    order = solver_order()
    rank = order.index(solver) if solver in order else len(order) + sum(map(ord, solver))
    return free[rank % len(free)]


def solver_style(solver: str) -> dict[str, Any]:
    """Keyword arguments for ``Axes.plot`` etc.: colour, marker, line style and legend label."""
    cls = solvers().get(solver)
    style = cls.style if cls is not None else {}
    order = solver_order()
    rank = order.index(solver) if solver in order else len(order)
    return {
        "color": solver_color(solver),
        "marker": style.get("marker", _MARKERS[rank % len(_MARKERS)]),
        "linestyle": style.get("linestyle", "-"),
        "label": solver_label(solver),
    }


def fraction_vs_n_axis(ax, sizes: list[int]) -> None:
    """An axis of fractions (0..1) against the number of problems n (log2, one tick per n)."""
    ax.set_xscale("log", base=2)
    if sizes:
        ax.set_xticks(sizes)
        ax.set_xticklabels([str(n) for n in sizes])
        ax.minorticks_off()
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("number of problems $n$")


def _atomic_savefig(fig: plt.Figure, path: Path, fmt: str, metadata: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.name}.tmp.{os.getpid()}"
    try:
        fig.savefig(tmp, format=fmt, metadata=metadata, dpi=PNG_DPI)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def save_figure(fig: plt.Figure, pdf: str | os.PathLike, png: str | os.PathLike) -> None:
    """Save ``fig`` as vector PDF and 200 dpi PNG, atomically, without timestamps."""
    _atomic_savefig(
        fig,
        Path(pdf),
        "pdf",
        {"Creator": "invnet", "Producer": None, "CreationDate": None, "ModDate": None},
    )
    _atomic_savefig(fig, Path(png), "png", {"Software": None})
    import matplotlib.pyplot as plt

    plt.close(fig)
