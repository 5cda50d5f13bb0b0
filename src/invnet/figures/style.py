"""One look for every figure: seaborn paper context, colour-blind palette, a fixed colour,
marker and line style per solver (the same in every figure), vector PDF + 200 dpi PNG with
deterministic metadata (byte-identical files for identical inputs)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

os.environ.setdefault("SOURCE_DATE_EPOCH", "0")  # matplotlib honours it for PDF/PS dates

import logging  # noqa: E402

import matplotlib  # noqa: E402

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import seaborn as sns  # noqa: E402

from ..analysis import SOLVER_ORDER, solver_label  # noqa: E402

logging.getLogger("fontTools").setLevel(logging.WARNING)  # PDF font subsetting chatter

PNG_DPI = 200
# Column widths (inches) of a two-column paper.
SINGLE_COLUMN = 3.4
DOUBLE_COLUMN = 7.0

_PALETTE = sns.color_palette("colorblind", 10)
# Baseline in black; JPO and GD (the paper's headline comparison) get the two most distinct
# palette colours; refinements take a related but distinct hue.
_COLORS = {
    "bfgs": (0.0, 0.0, 0.0),
    "lbfgsb": _PALETTE[7],  # grey
    "gd": _PALETTE[1],  # orange
    "adam": _PALETTE[4],  # purple
    "jpo": _PALETTE[0],  # blue
    "jpo_bfgs": _PALETTE[9],  # light blue
    "supervised": _PALETTE[2],  # green
    "supervised_bfgs": _PALETTE[5],  # brown
    "neural_adjoint": _PALETTE[3],  # red
}
_MARKERS = {
    "bfgs": "o",
    "lbfgsb": "v",
    "gd": "s",
    "adam": "P",
    "jpo": "D",
    "jpo_bfgs": "d",
    "supervised": "^",
    "supervised_bfgs": ">",
    "neural_adjoint": "X",
}
_LINESTYLES = {"lbfgsb": (0, (4, 1.5)), "jpo_bfgs": (0, (4, 1.5)), "supervised_bfgs": (0, (4, 1.5))}

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
    sns.set_theme(context="paper", style="ticks", palette="colorblind", rc=RC)


def solver_color(solver: str) -> tuple[float, float, float]:
    if solver in _COLORS:
        return tuple(_COLORS[solver])
    extra = [s for s in SOLVER_ORDER if s not in _COLORS]
    return tuple(_PALETTE[(len(_COLORS) + (extra.index(solver) if solver in extra else 0)) % 10])


def solver_style(solver: str) -> dict[str, Any]:
    """Keyword arguments for ``Axes.plot`` etc.: colour, marker, line style and legend label."""
    return {
        "color": solver_color(solver),
        "marker": _MARKERS.get(solver, "o"),
        "linestyle": _LINESTYLES.get(solver, "-"),
        "label": solver_label(solver),
    }


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
    plt.close(fig)
