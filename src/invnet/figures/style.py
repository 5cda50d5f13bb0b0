"""One look for every figure: seaborn paper context, colour-blind palette, one colour, marker,
line style and label per solver (the same in every figure of a run), vector PDF + 200 dpi PNG with
deterministic metadata (byte-identical files for identical inputs).

A solver's look comes from the :class:`~invnet.solver_info.SolverSet` a figure gets
(``inputs.solvers``), never from the solver registry: its declared ``style`` (a colour as RGB, as
a matplotlib colour string or as ("colorblind", index); a marker; a line style), else the palette
colours and markers that no declared style in the set takes, handed out in table order to the
solvers that declare none. A solver the package does not know is styled like any other."""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

os.environ.setdefault("SOURCE_DATE_EPOCH", "0")  # matplotlib honours it for PDF/PS dates

import functools  # noqa: E402
import logging  # noqa: E402

import matplotlib  # noqa: E402

matplotlib.use("Agg")

# pyplot and seaborn (which imports scipy.stats) are imported where a figure is drawn, not here:
# the workflow imports every figure module to build its DAG, in every (cluster) job's start-up.
from ..atomic import atomic_path  # noqa: E402
from ..solver_info import SolverSet  # noqa: E402

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
    """A declared colour: ("colorblind", index), a matplotlib colour string, or RGB(A) values
    (tuples arrive as lists after the JSON round trip of the job params)."""
    from matplotlib.colors import to_rgb

    if isinstance(value, (list, tuple)) and len(value) == 2 and value[0] == "colorblind":
        return tuple(_palette()[int(value[1]) % len(_palette())])
    if isinstance(value, str):
        return tuple(float(v) for v in to_rgb(value))
    return tuple(float(v) for v in list(value)[:3])


def _linestyle(value: Any) -> Any:
    """A declared line style; a dash pattern (offset, (on, off, ...)) back as tuples after JSON."""
    if isinstance(value, (list, tuple)) and len(value) == 2 and isinstance(value[1], (list, tuple)):
        return (float(value[0]), tuple(float(v) for v in value[1]))
    return value


def _declared(solvers: SolverSet, name: str, key: str) -> Any:
    info = solvers.get(name)
    return None if info is None else info.style.get(key)


def _free(solvers: SolverSet, name: str, key: str, choices: Sequence[Any], canon=lambda v: v) -> Any:
    """The choice for ``name`` among those no declared ``key`` of the set takes, handed out in
    table order to the solvers that declare none (names outside the set after them)."""
    taken = {canon(i.style[key]) for i in solvers.values() if key in i.style}
    free = [c for c in choices if canon(c) not in taken] or list(choices)
    undeclared = [n for n, i in solvers.items() if key not in i.style]
    rank = undeclared.index(name) if name in undeclared else len(undeclared) + sum(map(ord, name))
    return free[rank % len(free)]


def solver_color(solvers: SolverSet, name: str) -> tuple[float, float, float]:
    """The solver's declared colour, else a palette colour no declared style of ``solvers`` takes."""
    declared = _declared(solvers, name, "color")
    return _color(declared) if declared is not None else _free(solvers, name, "color", _palette(), _color)


def solver_marker(solvers: SolverSet, name: str) -> str:
    """The solver's declared marker, else one no declared style of ``solvers`` takes."""
    declared = _declared(solvers, name, "marker")
    return declared if declared is not None else _free(solvers, name, "marker", _MARKERS)


def solver_style(solvers: SolverSet, name: str) -> dict[str, Any]:
    """Keyword arguments for ``Axes.plot`` etc.: colour, marker, line style and legend label."""
    linestyle = _declared(solvers, name, "linestyle")
    return {
        "color": solver_color(solvers, name),
        "marker": solver_marker(solvers, name),
        "linestyle": _linestyle(linestyle) if linestyle is not None else "-",
        "label": solvers.label(name),
    }


def loss_label(solvers: SolverSet, name: str) -> str:
    """Axis text for the final loss of solver ``name``: $L_\\mathrm{BFGS}$ for a plain label,
    'L of <label>' for one mathtext cannot subscript (spaces, signs, underscores)."""
    label = solvers.label(name)
    if re.fullmatch(r"[A-Za-z0-9]+", label):
        return rf"$L_\mathrm{{{label}}}$"
    return f"$L$ of {label}"


def save_figure(fig, pdf: str | os.PathLike, png: str | os.PathLike):
    """Save ``fig`` as vector PDF and 200 dpi PNG, atomically (:mod:`invnet.atomic`), without
    timestamps; close it and return it (its artists stay readable, e.g. for tests)."""
    import matplotlib.pyplot as plt

    for path, fmt, metadata in (
        (pdf, "pdf", {"Creator": "invnet", "Producer": None, "CreationDate": None, "ModDate": None}),
        (png, "png", {"Software": None}),
    ):
        with atomic_path(Path(path)) as tmp:
            fig.savefig(tmp, format=fmt, metadata=metadata, dpi=PNG_DPI)
    plt.close(fig)
    return fig
