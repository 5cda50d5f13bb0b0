"""Tables as CSV (full precision, machine-readable), LaTeX (booktabs) and Markdown, written
atomically (temporary file in the same folder, then rename).

LaTeX is written here rather than with ``DataFrame.to_latex`` so no jinja2 is needed; cells
are escaped. Markdown uses tabulate (pipe format).
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

import pandas as pd
from tabulate import tabulate

from .analysis import (
    BASELINE,
    OUTCOMES,
    solver_label,
    sort_frame,
    summarize,
)

_LATEX_SPECIAL = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
}


# ------------------------------------------------------------------------------ writing


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` to ``path`` via a temporary file in the same folder and a rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.name}.tmp.{os.getpid()}"
    try:
        with open(tmp, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_csv(df: pd.DataFrame, path: str | os.PathLike) -> None:
    """CSV without index; floats at full (round-trip) precision."""
    atomic_write_text(path, df.to_csv(index=False, lineterminator="\n"))


def latex_escape(text: object) -> str:
    return "".join(_LATEX_SPECIAL.get(ch, ch) for ch in str(text))


def to_booktabs(
    df: pd.DataFrame,
    caption: str | None = None,
    label: str | None = None,
    align: str | None = None,
    escape: bool = True,
) -> str:
    """A booktabs table (``table`` float if caption/label given, else a bare ``tabular``).

    Cells are strings as given (format numbers first); with ``escape`` LaTeX specials are escaped.
    ``align`` defaults to ``l`` for text columns and ``r`` for numeric ones.
    """
    if align is None:
        align = "".join("r" if pd.api.types.is_numeric_dtype(df[c]) else "l" for c in df.columns)
    if len(align) != df.shape[1]:
        raise ValueError(f"align {align!r} has {len(align)} columns, the frame {df.shape[1]}")
    cell = latex_escape if escape else str
    lines = [
        rf"\begin{{tabular}}{{{align}}}",
        r"\toprule",
        " & ".join(cell(c) for c in df.columns) + r" \\",
        r"\midrule",
    ]
    for row in df.itertuples(index=False):
        lines.append(" & ".join(cell(v) for v in row) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}"]
    if caption is None and label is None:
        return "\n".join(lines) + "\n"
    head = [r"\begin{table}[htbp]", r"\centering"]
    if caption is not None:
        head.append(rf"\caption{{{caption}}}")
    if label is not None:
        head.append(rf"\label{{{label}}}")
    return "\n".join(head + lines + [r"\end{table}"]) + "\n"


def to_markdown(df: pd.DataFrame, caption: str | None = None) -> str:
    """A pipe table (GitHub Markdown), optionally preceded by a caption paragraph."""
    body = tabulate(df.astype(str).values.tolist(), headers=list(df.columns), tablefmt="pipe",
                    disable_numparse=True)
    return (f"{caption}\n\n" if caption else "") + body + "\n"


def write_table(
    numeric: pd.DataFrame,
    display_tex: pd.DataFrame,
    display_md: pd.DataFrame,
    csv: str | os.PathLike,
    tex: str | os.PathLike,
    md: str | os.PathLike,
    caption: str | None = None,
    label: str | None = None,
    align: str | None = None,
    caption_md: str | None = None,
) -> None:
    """Write the numeric frame as CSV and the display frames as LaTeX and Markdown.

    ``display_tex`` cells must already be valid LaTeX (they are not escaped again).
    """
    write_csv(numeric, csv)
    atomic_write_text(
        tex, to_booktabs(display_tex, caption=caption, label=label, align=align, escape=False)
    )
    atomic_write_text(md, to_markdown(display_md, caption=caption_md))


# ------------------------------------------------------------------------------ formatting


def mean_pm_std(mean: float, std: float, digits: int = 2, pm: str = "±") -> str:
    """'0.42 ± 0.05'; only the mean when std is NaN (one seed), '–' when mean is NaN."""
    if mean is None or (isinstance(mean, float) and math.isnan(mean)):
        return "–"
    text = f"{mean:.{digits}f}"
    if std is not None and not (isinstance(std, float) and math.isnan(std)):
        text += f" {pm} {std:.{digits}f}"
    return text


# ------------------------------------------------------------------------------ table 2


def table2(fractions: pd.DataFrame, experiments: Sequence[str] = ()) -> pd.DataFrame:
    """Beat/tie/lose fractions against BFGS per experiment, solver and n, over seeds.

    Columns: experiment, solver, n, n_seeds, then <outcome>_{mean,std,min,max}, what the method
    spent (``mean_evaluations_*``: evaluations per problem; ``wall_time_s_*``) and what BFGS spent
    on the same problems (``bfgs_evaluations_mean``, ``bfgs_wall_time_s_mean``). BFGS itself
    (the baseline) is left out. Experiments in the order of ``experiments`` (config order).
    """
    cost = ("mean_evaluations", "mean_total_evaluations", "wall_time_s")
    summary = summarize(fractions, OUTCOMES + tuple(q for q in cost if q in fractions.columns))
    stats = ("mean", "std", "min", "max")
    cols = ["experiment", "solver", "n", "n_seeds"] + [
        f"{q}_{s}" for q in OUTCOMES + cost for s in stats if f"{q}_{s}" in summary.columns
    ]
    base = summary[summary["solver"] == BASELINE]
    base = base[["experiment", "n"] + [c for c in ("mean_evaluations_mean", "wall_time_s_mean") if c in base]]
    base = base.rename(columns={"mean_evaluations_mean": "bfgs_evaluations_mean",
                                "wall_time_s_mean": "bfgs_wall_time_s_mean"})
    out = summary.loc[summary["solver"] != BASELINE, cols].merge(base, on=["experiment", "n"], how="left")
    out = out.merge(_failed_totals(fractions), on=["experiment", "solver", "n"], how="left")
    return sort_frame(out, experiments=experiments)


def _failed_totals(fractions: pd.DataFrame) -> pd.DataFrame:
    """Per (experiment, solver, n), summed over seeds: problems the method failed on
    (``failed_total``), problems BFGS failed on (``bfgs_failed_total``) and all problems
    (``problems_total``). Failed problems count in no fraction (invnet.analysis)."""
    keys = ["experiment", "solver", "n"]
    frac = fractions.copy()
    for col in ("failed", "bfgs_failed"):
        if col not in frac:
            frac[col] = 0
    if "n_problems" not in frac:
        frac["n_problems"] = float("nan")
    out = frac.groupby(keys, sort=False)[["failed", "bfgs_failed", "n_problems"]].sum(min_count=1)
    return out.rename(columns={"failed": "failed_total", "bfgs_failed": "bfgs_failed_total",
                               "n_problems": "problems_total"}).reset_index()


OUTCOME_HEADERS = {"beat": "Beats BFGS", "tie": "Tie", "lose": "BFGS better"}


def _failed(count: float, total: float) -> str:
    """'3/64' failed problems of all problems over seeds; '0' when none, '–' when unknown."""
    if count is None or (isinstance(count, float) and math.isnan(count)):
        return "–"
    if int(count) == 0:
        return "0"
    return f"{int(count)}/{int(total)}" if total == total else str(int(count))


def _count(value: float) -> str:
    """Evaluations per problem: integers as such, '–' when missing."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value:,.0f}" if value >= 10 else f"{value:.1f}"


def table2_display(
    numeric: pd.DataFrame, latex: bool, labels: dict[str, str] | None = None
) -> pd.DataFrame:
    """Human-readable Table 2: one 'mean ± std' cell per outcome; experiments named by ``labels``."""
    labels = labels or {}
    pm = r"$\pm$" if latex else "±"

    def text(value: str) -> str:
        return latex_escape(value).replace("o-S", "o--S") if latex else value

    rows = []
    for rec in numeric.to_dict("records"):
        row = {
            "Experiment": text(labels.get(rec["experiment"], rec["experiment"])),
            "Method": text(solver_label(rec["solver"])),
            "n": str(int(rec["n"])),
        }
        for o in OUTCOMES:
            row[OUTCOME_HEADERS[o]] = mean_pm_std(rec[f"{o}_mean"], rec[f"{o}_std"], pm=pm)
        row["Evals"] = _count(rec.get("mean_total_evaluations_mean", rec.get("mean_evaluations_mean", float("nan"))))
        row["BFGS evals"] = _count(rec.get("bfgs_evaluations_mean", float("nan")))
        total = rec.get("problems_total", float("nan"))
        row["Failed"] = _failed(rec.get("failed_total", float("nan")), total)
        row["BFGS failed"] = _failed(rec.get("bfgs_failed_total", float("nan")), total)
        row["Seeds"] = str(int(rec["n_seeds"]))
        rows.append(row)
    columns = ["Experiment", "Method", "n", *OUTCOME_HEADERS.values(), "Evals", "BFGS evals", "Failed",
               "BFGS failed", "Seeds"]
    return pd.DataFrame(rows, columns=columns)


def table2_caption(rtol: float, latex: bool = True) -> str:
    if latex:
        return (
            "Fraction of problems on which each method beats BFGS "
            rf"($L_M < L_\mathrm{{BFGS}}\,(1-r)$), ties, or is beaten by it "
            rf"($L_M > L_\mathrm{{BFGS}}\,(1+r)$), $r = {rtol:g}$; "
            r"mean $\pm$ standard deviation over seeds. Evals: forward (and gradient) evaluations "
            r"per problem spent by the method (refinements include the run they start from) and by "
            r"BFGS, mean over seeds. Failed: problems (summed over seeds) on which the method, or BFGS, "
            r"ended with a NaN or infinite loss or an optimiser failure; they count in no fraction."
        )
    return (
        "Fraction of problems on which each method beats BFGS (L_M < L_BFGS·(1−r)), ties, "
        f"or is beaten by it (L_M > L_BFGS·(1+r)), r = {rtol:g}; mean ± standard deviation "
        "over seeds. Evals: forward (and gradient) evaluations per problem spent by the method "
        "(refinements include the run they start from) and by BFGS, mean over seeds. Failed: "
        "problems (summed over seeds) on which the method, or BFGS, ended with a NaN or infinite "
        "loss or an optimiser failure; they count in no fraction."
    )


def write_table2(
    fraction_frames: Iterable[pd.DataFrame] | pd.DataFrame,
    csv: str | os.PathLike,
    tex: str | os.PathLike,
    md: str | os.PathLike,
    rtol: float,
    labels: dict[str, str] | None = None,
) -> pd.DataFrame:
    """Build Table 2 from per-seed fraction frames (one per experiment) and write it.

    ``labels`` maps experiment names to display names; its order is the table's order.
    """
    labels = labels or {}
    if isinstance(fraction_frames, pd.DataFrame):
        frac = fraction_frames
    else:
        frames = [f for f in fraction_frames if not f.empty]
        frac = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(
            columns=["experiment", "solver", "n", "seed", *OUTCOMES]
        )
    numeric = table2(frac, experiments=list(labels))
    write_table(
        numeric,
        table2_display(numeric, latex=True, labels=labels),
        table2_display(numeric, latex=False, labels=labels),
        csv,
        tex,
        md,
        caption=table2_caption(rtol),
        label="tab:beat-bfgs",
        align="llrcccrrrrr",
        caption_md=table2_caption(rtol, latex=False),
    )
    return numeric


# ------------------------------------------------------------------------------ table 4


def table4(summaries: pd.DataFrame, experiments: Sequence[str] = ()) -> pd.DataFrame:
    """Compute cost per experiment, solver and n: evaluations per problem, wall time and the mean
    final loss they bought (mean and std over seeds), from the aggregate ``summary`` frames."""
    cols = ["experiment", "solver", "n", "n_seeds"] + [
        f"{q}_{s}" for q in ("mean_evaluations", "mean_total_evaluations", "wall_time_s", "mean_loss")
        for s in ("mean", "std")
    ]
    return sort_frame(summaries[[c for c in cols if c in summaries.columns]], experiments=experiments)


def table4_display(numeric: pd.DataFrame, latex: bool, labels: dict[str, str]) -> pd.DataFrame:
    pm = r"$\pm$" if latex else "±"
    esc = latex_escape if latex else str
    rows = []
    for rec in numeric.to_dict("records"):
        rows.append({
            "Experiment": esc(labels.get(rec["experiment"], rec["experiment"])),
            "Method": esc(solver_label(rec["solver"])),
            "n": str(int(rec["n"])),
            "Evals / problem": _count(rec["mean_evaluations_mean"]),
            "incl. start run": _count(rec.get("mean_total_evaluations_mean", float("nan"))),
            "Wall time [s]": mean_pm_std(rec["wall_time_s_mean"], rec["wall_time_s_std"], pm=pm),
            "Mean loss": mean_pm_std(rec["mean_loss_mean"], rec["mean_loss_std"], digits=4, pm=pm),
            "Seeds": str(int(rec["n_seeds"])),
        })
    columns = ["Experiment", "Method", "n", "Evals / problem", "incl. start run", "Wall time [s]", "Mean loss", "Seeds"]
    return pd.DataFrame(rows, columns=columns)


def write_table4(
    summary_frames: Iterable[pd.DataFrame],
    csv: str | os.PathLike,
    tex: str | os.PathLike,
    md: str | os.PathLike,
    labels: dict[str, str] | None = None,
) -> pd.DataFrame:
    """Build Table 4 (compute cost) from the per-experiment summary frames and write it."""
    labels = labels or {}
    frames = [f for f in summary_frames if not f.empty]
    numeric = table4(pd.concat(frames, ignore_index=True), experiments=list(labels))
    caption = (
        "Compute cost of every method: forward (and gradient) evaluations per problem (own, and "
        "including the run a refinement starts from), wall time of the whole run (all n problems) "
        "and the mean final training loss, mean and standard deviation over seeds."
    )
    write_table(numeric, table4_display(numeric, True, labels), table4_display(numeric, False, labels),
                csv, tex, md, caption=caption, label="tab:cost", align="llrrrrrr", caption_md=caption)
    return numeric


__all__: Sequence[str] = [
    "atomic_write_text",
    "latex_escape",
    "mean_pm_std",
    "table2",
    "table2_display",
    "to_booktabs",
    "to_markdown",
    "write_csv",
    "write_table",
    "write_table2",
    "write_table4",
]
