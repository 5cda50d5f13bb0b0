"""The generated "where the claim holds" section (docs/experiments.md §2.6, README): written from
the sweep aggregates, never typed.

    python -m invnet.claims [--results results] FILE [FILE ...]

reads every ``results/aggregate/*/sweep_summary.csv`` (the sweep jobs' frames) and replaces, in
each FILE, the block between ``<!-- claims:begin -->`` and ``<!-- claims:end -->`` with, per
experiment: a table per sweep (swept value; the primary method's beat fraction against the
baseline and against the matched multi-start, mean ± std over seeds and pooled with its 95 %
interval; the verdict; evaluations per problem and mean loss (mean over seeds of each run's mean
over its finite losses) of each side; the step and whether its loss had flattened) and the readings: where the claim holds, where it fails, where it is undecided, and
where the result depends on the budget (the verdict changes with training length; the primary
method's loss had not flattened; the multi-start could not match its evaluations). A file without
the markers is an error naming it.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

BEGIN, END = "<!-- claims:begin -->", "<!-- claims:end -->"
VERDICT_TEXT = {"holds": "holds", "fails": "fails", "undecided": "undecided"}


def _fmt_values(values: Iterable) -> str:
    return ", ".join(f"{float(v):g}" for v in values)


def _fraction(row: pd.Series) -> str:
    spread = "" if not np.isfinite(row["beat_std"]) else f" ± {row['beat_std']:.2f}"
    return (f"{row['beat_mean']:.2f}{spread} ({row['n_beat']}/{row['n_compared']}, "
            f"[{row['beat_ci_low']:.2f}, {row['beat_ci_high']:.2f}])")


def _evaluations(value: float) -> str:
    return f"{value:,.0f}" if np.isfinite(value) else "–"


def _loss(row: pd.Series | None, key: str) -> str:
    if row is None or key not in row or not np.isfinite(row[key]):
        return "–"
    return f"{row[key]:.3g}"


def sweep_table(summ: pd.DataFrame, labels: dict[str, str]) -> list[str]:
    """The Markdown table of one sweep (rows: its values)."""
    method, over = summ["method"].iloc[0], summ["over"].iloc[0]
    base = summ[summ["against"] == "baseline"].set_index("value")
    multi = summ[summ["against"] == "multistart"].set_index("value")
    m = labels.get(method, method)
    b = labels.get(base["classical"].iloc[0], base["classical"].iloc[0]) if not base.empty else "baseline"
    c = labels.get(multi["classical"].iloc[0], multi["classical"].iloc[0]) if not multi.empty else "multi-start"
    extra = []  # (header, cell of a row)
    if over != "n":
        extra.append(("n", lambda r: f"{int(r['n'])}"))
    if "minima_median" in summ and summ["minima_median"].notna().any():
        along = summ["along"].dropna().iloc[0]
        extra.append((f"local minima along {along}", lambda r: f"{r['minima_median']:g} ({int(r['minima_min'])}–"
                                                               f"{int(r['minima_max'])})"))
    head = "".join(f" {h} |" for h, _ in extra)
    lines = [
        f"| {over} |{head} {m} beats {b} | verdict | {m} beats {c} (matched) | verdict | "
        f"evaluations / problem: {m}, {b}, {c} (starts) | mean loss: {m}, {b}, {c} | {m} step (loss flat) |",
        "|---|" + "---|" * len(extra) + "---|---|---|---|---|---|---|",
    ]
    for value in sorted(set(base.index) | set(multi.index)):
        rb = base.loc[value] if value in base.index else None
        rm = multi.loc[value] if value in multi.index else None
        any_row = rb if rb is not None else rm
        steps = f"{int(any_row['step_min']):,}"
        if any_row["step_max"] > any_row["step_min"]:
            steps += f"–{int(any_row['step_max']):,}"
        flat = float(any_row["flat_fraction"])
        flat_text = "yes" if flat == 1 else "no" if flat == 0 else f"{flat:.0%} of seeds"
        starts = "" if rm is None else f" ({rm['starts_mean']:.1f})"
        unmatched = "" if rm is None or not rm["matched_min"] < 1 else " ⚠"
        cells = "".join(f" {cell(any_row)} |" for _, cell in extra)
        lines.append(
            f"| {float(value):g} |{cells} {_fraction(rb) if rb is not None else '–'} | "
            f"{rb['verdict'] if rb is not None else '–'} | {_fraction(rm) if rm is not None else '–'} | "
            f"{rm['verdict'] if rm is not None else '–'} | {_evaluations(any_row['evaluations_method_mean'])}, "
            f"{_evaluations(rb['evaluations_classical_mean']) if rb is not None else '–'}, "
            f"{_evaluations(rm['evaluations_classical_mean']) if rm is not None else '–'}{starts}{unmatched} | "
            f"{_loss(any_row, 'mean_loss_method_mean')}, {_loss(rb, 'mean_loss_classical_mean')}, "
            f"{_loss(rm, 'mean_loss_classical_mean')} | {steps} ({flat_text}) |"
        )
    return lines


def readings(summ: pd.DataFrame, labels: dict[str, str]) -> list[str]:
    """One line per comparison (where it holds / fails / is undecided) and the budget notes."""
    method, over, sweep = summ["method"].iloc[0], summ["over"].iloc[0], summ["sweep"].iloc[0]
    m = labels.get(method, method)
    out = []
    for against, grp in summ.groupby("against", sort=False):
        name = labels.get(grp["classical"].iloc[0], grp["classical"].iloc[0])
        what = f"{m} vs {name}" + (" at matched evaluations" if against == "multistart" else "")
        parts = []
        for verdict in ("holds", "fails", "undecided"):
            values = grp.loc[grp["verdict"] == verdict, "value"]
            if len(values):
                parts.append(f"{VERDICT_TEXT[verdict]} at {over} = {_fmt_values(sorted(values))}")
        out.append(f"- `{sweep}`, {what}: " + "; ".join(parts) + ".")
        if over == "steps" and grp["verdict"].nunique() > 1:
            out.append(f"  **Depends on the budget**: the verdict changes with {m}'s training length.")
    own = summ.drop_duplicates("value")
    not_flat = own.loc[own["flat_fraction"] < 1, "value"]
    if len(not_flat):
        out.append(f"  {m}'s training loss had not flattened (by its convergence rule) at {over} = "
                   f"{_fmt_values(sorted(not_flat))}: more training could change these points.")
    unmatched = summ.loc[(summ["against"] == "multistart") & (summ["matched_min"] < 1), "value"]
    if len(unmatched):
        out.append(f"  ⚠ At {over} = {_fmt_values(sorted(unmatched))} the multi-start's starts could not reach {m}'s "
                   f"evaluations on every problem (it spent less: where it still beats {m} that is robust; where {m} beats it, "
                   "that may be a budget artefact).")
    return out


def solver_labels(summary: pd.DataFrame) -> dict[str, str]:
    """Solver name -> label, from the frame's ``method_label`` and ``classical_label`` columns."""
    out: dict[str, str] = {}
    for name, label in (("method", "method_label"), ("classical", "classical_label")):
        if label in summary:
            out.update(zip(summary[name].astype(str), summary[label].astype(str)))
    return out


def claims_markdown(summary: pd.DataFrame, labels: dict[str, str] | None = None, source: str = "") -> str:
    """The generated section from the concatenated ``sweep_summary`` frames (``labels``: solver
    names -> labels in the text; default: the frame's label columns)."""
    labels = {**solver_labels(summary), **(labels or {})}
    lines = [f"*Generated by `python -m invnet.claims` from {source or 'the sweep aggregates'}; do not edit.* "
             "Verdicts: a two-sided sign test of the problems the primary method wins against those it loses "
             "(ties left out), pooled over seeds, p < 0.05 (`holds` / `fails`), else `undecided`; fractions: "
             "mean ± std over seeds (wins / compared problems, 95 % Wilson interval). ⚠: the multi-start could "
             "not reach the primary method's evaluations on every problem.", ""]
    if summary.empty:
        return "\n".join(lines + ["No sweep results yet: run the robustness preset (docs/experiments.md §2.6)."])
    for experiment, grp in summary.groupby("experiment", sort=False):
        label = grp["label"].iloc[0] if "label" in grp and isinstance(grp["label"].iloc[0], str) else experiment
        lines += [f"**{label}** (`{experiment}`)", ""]
        for _, summ in grp.groupby("sweep", sort=False):
            lines += sweep_table(summ, labels) + [""]
        for _, summ in grp.groupby("sweep", sort=False):
            lines += readings(summ, labels)
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def replace_block(text: str, block: str, where: str = "text") -> str:
    """``text`` with the part between the claims markers replaced by ``block``."""
    if text.count(BEGIN) != 1 or text.count(END) != 1 or text.index(BEGIN) > text.index(END):
        raise ValueError(f"{where}: needs one '{BEGIN}' line followed by one '{END}' line")
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{BEGIN}\n{block.rstrip()}\n{END}{tail}"


def load_summaries(results: str | Path) -> pd.DataFrame:
    """Every experiment's ``sweep_summary`` frame under ``results/aggregate``, concatenated."""
    frames = [pd.read_csv(p) for p in sorted(Path(results).glob("aggregate/*/sweep_summary.csv"))]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m invnet.claims", description=__doc__.split("\n\n")[0])
    parser.add_argument("files", nargs="+", help="Markdown files with the claims markers (docs/experiments.md README.md)")
    parser.add_argument("--results", default="results", help="the results folder (default: results)")
    args = parser.parse_args(argv)
    summary = load_summaries(args.results)
    block = claims_markdown(summary, source=f"`{args.results}/aggregate/*/sweep_summary.csv`")
    for name in args.files:
        path = Path(name)
        try:
            new = replace_block(path.read_text(encoding="utf-8"), block, str(path))
        except (OSError, ValueError) as err:
            print(f"invnet.claims: {err}", file=sys.stderr)
            return 1
        from .atomic import atomic_write_text

        atomic_write_text(path, new)
        print(f"wrote the claims section of {path} ({len(summary)} summary rows)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
