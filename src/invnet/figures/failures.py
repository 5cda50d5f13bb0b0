"""Failed problems in figures: every figure draws only problems whose runs ended with a finite
loss (run artifact ``problem_status``; ``invnet.analysis``) and says how many it left out. Not a
figure (no ``FIGURE``)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..solver_info import SolverSet


def failed_counts(
    frame: pd.DataFrame, experiment: str, n: int | None = None, solvers: SolverSet | None = None
) -> dict[str, tuple[int, int]]:
    """solver -> (failed problems, all problems) of ``experiment`` (at ``n`` if given), summed
    over seeds, from a ``fractions`` frame (columns failed, n_problems) or an ``outcomes`` frame
    (outcome "failed"), in the table order of ``solvers``. Solvers without failures are left out."""
    if frame.empty or "experiment" not in frame:
        return {}
    sel = frame[frame["experiment"] == experiment]
    if n is not None:
        sel = sel[sel["n"] == int(n)]
    out = {}
    for solver in (solvers if solvers is not None else SolverSet()).order(sel["solver"].unique()):
        grp = sel[sel["solver"] == solver]
        if "n_problems" in grp and "failed" in grp:
            failed, total = int(np.nansum(grp["failed"])), int(np.nansum(grp["n_problems"]))
        elif "outcome" in grp:
            failed, total = int((grp["outcome"] == "failed").sum()), len(grp)
        else:
            continue
        if failed:
            out[solver] = (failed, total)
    return out


def failed_note(frame: pd.DataFrame, experiment: str, solvers: SolverSet, n: int | None = None) -> str:
    """'left out: failed problems (NaN / inf loss or optimiser failure): BFGS 8/16, GD 3/16', or ''."""
    counts = failed_counts(frame, experiment, n, solvers)
    if not counts:
        return ""
    parts = ", ".join(f"{solvers.label(s)} {f}/{t}" for s, (f, t) in counts.items())
    return f"left out: failed problems (NaN / inf loss or optimiser failure): {parts}"


def add_note(fig, note: str, title: str | None = None, fontsize: float = 9) -> None:
    """The figure's title (if any) with ``note`` on a line of its own below it."""
    if not note and title is None:
        return
    lines = [line for line in (title, note) if line]
    fig.suptitle("\n".join(lines), fontsize=fontsize if title else 7)
