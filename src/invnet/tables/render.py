"""Formatting shared by the tables: CSV (full precision, machine-readable), LaTeX (booktabs),
Markdown and HTML (for the report), written atomically (:mod:`invnet.atomic`), and the cell formats (mean ± std, counts,
failed problems).

LaTeX is written here rather than with ``DataFrame.to_latex`` so no jinja2 is needed; cells
are escaped. Markdown uses tabulate (pipe format).
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Sequence

import pandas as pd
from tabulate import tabulate

from ..atomic import atomic_write_text

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


def write_csv(df: pd.DataFrame, path: str | os.PathLike) -> None:
    """CSV without index; floats at full (round-trip) precision."""
    atomic_write_text(path, df.to_csv(index=False, lineterminator="\n"))


def latex_escape(text: object) -> str:
    return "".join(_LATEX_SPECIAL.get(ch, ch) for ch in str(text))


def label_text(label: str, latex: bool) -> str:
    """A label (experiment, method) as a cell: in LaTeX escaped, and a hyphen joining two names
    (Kuramoto-Sivashinsky) set as the en dash it stands for."""
    return re.sub(r"(?<=[a-z])-(?=[A-Z])", "--", latex_escape(label)) if latex else label


def plus_minus(latex: bool) -> str:
    """The ± of mean ± std cells."""
    return r"$\pm$" if latex else "±"


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


HTML_STYLE = (
    "body{font-family:sans-serif;font-size:13px;margin:12px}p{max-width:60em}"
    "table{border-collapse:collapse}th,td{border:1px solid #bbb;padding:3px 8px;text-align:left}"
    "th{background:#eee}"
)


def to_html(df: pd.DataFrame, caption: str | None = None) -> str:
    """A small standalone HTML page: the caption as a paragraph, then the table (cells escaped,
    but the ``<br>`` of a stacked Markdown cell stays a line break); what the report shows for a
    table."""
    import html

    table = df.astype(str).to_html(index=False, escape=True, border=0).replace("&lt;br&gt;", "<br>")
    head = f"<p>{html.escape(caption)}</p>\n" if caption else ""
    return (f'<!doctype html>\n<html><head><meta charset="utf-8"><style>{HTML_STYLE}</style></head>\n'
            f"<body>\n{head}{table}\n</body></html>\n")


# ------------------------------------------------------------------------------ formatting


def mean_pm_std(mean: float, std: float, digits: int = 2, pm: str = "±") -> str:
    """'0.42 ± 0.05'; only the mean when std is NaN (one seed), '–' when mean is NaN."""
    if mean is None or (isinstance(mean, float) and math.isnan(mean)):
        return "–"
    text = f"{mean:.{digits}f}"
    if std is not None and not (isinstance(std, float) and math.isnan(std)):
        text += f" {pm} {std:.{digits}f}"
    return text


def failed_cell(count: float, total: float) -> str:
    """'3/64' failed problems of all problems over seeds; '0' when none, '–' when unknown."""
    if count is None or (isinstance(count, float) and math.isnan(count)):
        return "–"
    if int(count) == 0:
        return "0"
    return f"{int(count)}/{int(total)}" if total == total else str(int(count))


def count_cell(value: float) -> str:
    """Evaluations per problem: integers as such, '–' when missing."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value:,.0f}" if value >= 10 else f"{value:.1f}"


def stacked_cell(lines: Sequence[str], latex: bool) -> str:
    """Several lines in one cell (one per solver, per unknown, ...): a nested top-aligned
    ``tabular`` in LaTeX (``lines`` already LaTeX), joined by ``<br>`` in Markdown (a line
    break in GitHub's and most renderers' pipe tables). '–' when there are none."""
    lines = [str(line) for line in lines]
    if not lines:
        return "–"
    if not latex:
        return "<br>".join(lines)
    if len(lines) == 1:
        return lines[0]
    return r"\begin{tabular}[t]{@{}l@{}}" + r" \\ ".join(lines) + r"\end{tabular}"


def number(value: object) -> str:
    """A recorded number as written in a table: integers as such, floats to 6 significant
    digits (``:g``), anything else as text; '–' for None and NaN."""
    if value is None:
        return "–"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return "–" if math.isnan(value) else f"{value:g}"
    return str(value)
