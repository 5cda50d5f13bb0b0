"""The HTML report (``snakemake --report results/report.html``): its front page and the captions
of every figure and table, written by the ``report_page`` job from the job plan and the artifacts.

- **Captions** come from each figure's and table's own declaration, nowhere else: the spec's
  ``doc`` as a bold first line, then its ``caption`` or, where that is empty, its module's
  docstring (which says what the figure shows, panel by panel, and how it picks its solvers).
  Snakemake takes one caption file per rule and renders it as a Jinja template with the job's
  wildcards, so the job writes one template per kind (``results/report/captions/figures.rst``,
  ``tables.rst``) that picks the text of the figure or table by name.
- **The front page** (``results/report/index.rst``, the workflow's ``report:`` text): the verdict
  table first (:mod:`invnet.tables.verdict`), then the status of every run
  (:mod:`invnet.status`, as of this job), how the report is organised, the resolved config, and
  the git commits and software versions recorded in the artifacts' provenance.
"""

from __future__ import annotations

import inspect
import json
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

ACROSS = "Across experiments"  # the report category of figures over several experiments and of tables
FIGURES, TABLES = "Figures", "Tables"
_ROLE = re.compile(r":[a-z]+(?::[a-z]+)?:`~?!?([^`]+)`")
_SPECIAL = re.compile(r"([\\*`_|\[\]])")


# ----------------------------------------------------------------------------- rst text


def _inline(text: str) -> str:
    """Plain text as rst inline text: Sphinx roles and ``literals`` become literals, every other
    markup character is escaped."""
    parts = re.split(r"(``[^`]+``)", _ROLE.sub(lambda m: f"``{m.group(1)}``", text))
    out = []
    for part in parts:
        if part.startswith("``") and part.endswith("``") and len(part) > 4:
            out.append(part)
        else:
            out.append(_SPECIAL.sub(r"\\\1", part))
    return "".join(out)


def rst_paragraphs(text: str) -> str:
    """A docstring or caption as rst paragraphs: blank lines separate paragraphs, a line that
    opens a panel ('(a) ...' after a sentence's end) or a list item ('- ...') starts a new one,
    other lines are joined;
    nothing is read as rst markup (no list, section or role)."""
    paragraphs: list[list[str]] = []
    for line in inspect.cleandoc(text or "").splitlines():
        stripped = line.strip()
        if not stripped:
            paragraphs.append([])
            continue
        ended = bool(paragraphs and paragraphs[-1]) and paragraphs[-1][-1][-1] in ".:;"
        if not paragraphs or re.match(r"^(- |\* )", stripped) or (
                ended and re.match(r"^\([a-z0-9, –-]+\)", stripped)):
            paragraphs.append([])
        paragraphs[-1].append(stripped)
    out = []
    for para in paragraphs:
        if not para:
            continue
        joined = _inline(" ".join(para))
        if re.match(r"^[(\-+*#>0-9=.:]", joined):  # would open a list, a quote or a section
            joined = "\\" + joined
        out.append(joined)
    return "\n\n".join(out)


def caption_of(spec: Any, function: Any) -> str:
    """The rst caption of a figure or table spec: its ``doc`` in bold, then its ``caption`` or,
    if empty, the docstring of the module that defines ``function`` (its plot or render)."""
    body = getattr(spec, "caption", "") or (inspect.getmodule(function).__doc__ or "")
    head = getattr(spec, "doc", "") or spec.name
    return f"**{_inline(head.strip())}**\n\n{rst_paragraphs(body)}".rstrip() + "\n"


def caption_template(captions: Mapping[str, str], wildcard: str) -> str:
    """A Jinja template (Snakemake renders every caption file with the job's ``snakemake``
    object) that holds each caption verbatim and picks one by the job's ``wildcard``."""
    lines = []
    for i, (name, text) in enumerate(captions.items()):
        keyword = "if" if i == 0 else "elif"
        lines += [f"{{% {keyword} snakemake.wildcards.{wildcard} == {json.dumps(name)} %}}",
                  "{% raw %}", text.rstrip(), "{% endraw %}"]
    lines.append("{% endif %}" if captions else "")
    return "\n".join(lines) + "\n"


def figure_captions(plan) -> dict[str, str]:
    return {name: caption_of(spec, spec.plot) for name, spec in plan.figures.items()}


def table_captions(plan) -> dict[str, str]:
    """Tables (``make_table``) and study tables (``study_table``), both by their table name."""
    out = {name: caption_of(spec, spec.render) for name, spec in plan.tables.items()}
    for spec in plan.studies.values():
        out[spec.table] = caption_of(spec, spec.aggregate)
    return out


# ----------------------------------------------------------------------------- front page


def list_table(frame, widths: str | None = None) -> str:
    """A DataFrame as an rst list-table (every cell escaped)."""
    lines = [".. list-table::", "   :header-rows: 1"]
    if widths:
        lines.append(f"   :widths: {widths}")
    lines.append("")
    for row in [list(frame.columns), *frame.astype(str).values.tolist()]:
        for j, cell in enumerate(row):
            lines.append(f"   {'*' if j == 0 else ' '} - {_inline(str(cell)) or '..'}")
    return "\n".join(lines) + "\n"


def _section(title: str, body: str, char: str = "-") -> str:
    return f"{title}\n{char * len(title)}\n\n{body.rstrip()}\n\n"


def provenance_summary(artifacts: Iterable[str | Path]) -> dict[str, Any]:
    """What the artifacts' provenance records, counted over the artifacts: git commits, hosts,
    devices and the version of every package (data, run and study-chunk artifacts)."""
    import h5py

    commits, hosts, devices = Counter(), Counter(), Counter()
    versions: dict[str, Counter] = {}
    count = 0
    for path in artifacts:
        with h5py.File(path, "r") as f:
            raw = f.attrs.get("provenance")
        if raw is None:
            continue
        prov = json.loads(raw.decode() if isinstance(raw, bytes) else raw)
        count += 1
        commits[str(prov.get("git_commit", "unknown"))] += 1
        hosts[str(prov.get("hostname", "unknown"))] += 1
        devices[str(prov.get("device", "unknown"))] += 1
        for package, version in (prov.get("versions") or {}).items():
            versions.setdefault(package, Counter())[str(version)] += 1
    return {"artifacts": count, "git_commit": dict(commits), "hostname": dict(hosts), "device": dict(devices),
            "versions": {k: dict(v) for k, v in sorted(versions.items())}}


def _counted(values: Mapping[str, int], total: int) -> str:
    if len(values) == 1:
        return next(iter(values))
    return "; ".join(f"{v} ({n} of {total})" for v, n in sorted(values.items(), key=lambda kv: -kv[1]))


def provenance_section(summary: Mapping[str, Any]) -> str:
    import pandas as pd

    total = summary["artifacts"]
    rows = [("git commit", _counted(summary["git_commit"], total)),
            ("host", _counted(summary["hostname"], total)),
            ("device", _counted(summary["device"], total))]
    rows += [(package, _counted(values, total)) for package, values in summary["versions"].items()]
    intro = (f"Recorded in the provenance of the {total} data, run and study artifacts (where they differ, "
             "each value with the number of artifacts that record it).\n\n")
    return intro + list_table(pd.DataFrame(rows, columns=["", "value"]), "25 75")


def status_section(status) -> str:
    import pandas as pd

    from .status import HEADERS, summary_lines, table_rows

    lines = summary_lines(status)
    body = "As of the job that wrote this page (``invnet status`` gives it at any time):\n\n"
    body += "\n".join(f"- {_inline(line)}" for line in lines if not line.startswith("remaining")) + "\n\n"
    notable = [r for r in table_rows(status) if r[5] != "done"]
    if notable:
        body += list_table(pd.DataFrame(notable, columns=HEADERS))
    else:
        body += "Every run is done, and no problem failed in any of them.\n"
    return body


def organisation_section(plan) -> str:
    labels = [exp.label for exp in plan.experiments.values()]
    return (
        f"Figures are grouped by experiment ({', '.join(_inline(x) for x in labels)}: one category each); "
        f"figures drawn over several experiments, the tables and the study tables are under "
        f"*{ACROSS}*. Every caption is the figure's or table's own declaration in the package (its "
        "one-line description, then its module's description of what it shows and how to read it). "
        "Tables are shown as HTML; their CSV (full precision), Markdown and LaTeX versions lie next to it "
        "under ``results/tables/`` (study tables are CSV only: a download link here).\n"
    )


def front_page(plan, verdict_csv: str | Path | None, status, artifacts: Iterable[str | Path]) -> str:
    """The rst of the report's front page (see the module docstring)."""
    import pandas as pd

    from .solver_info import SolverSet
    from .tables.verdict import caption, display

    out = "invnet results\n==============\n\n"
    out += ("Holl & Thuerey (2024), *The Unreasonable Effectiveness of Solving Inverse Problems with Neural "
            "Networks*, reproduced by the invnet pipeline (docs/experiments.md).\n\n")
    if verdict_csv is not None and Path(verdict_csv).exists():
        table = pd.read_csv(verdict_csv)
        solvers = SolverSet.merge(*(exp.solvers for exp in plan.experiments.values()))
        primary = solvers.label(solvers.primary) if solvers.primary else "the method"
        baseline = solvers.label(solvers.baseline) if solvers.baseline else "the baseline"
        body = _inline(caption(float(plan.config["compare_rtol"]), primary, baseline)) + "\n\n"
        body += list_table(display(table, latex=False)) if not table.empty else "No experiment to judge.\n"
    else:
        body = "The verdict table was not built.\n"
    out += _section("Verdict", body)
    out += _section("Status", status_section(status))
    out += _section("How this report is organised", organisation_section(plan))
    config = yaml.safe_dump(plan.config, sort_keys=False, allow_unicode=True, width=100)
    out += _section("Configuration", "The resolved config (every default filled in)::\n\n"
                    + "\n".join(f"   {line}" for line in config.splitlines()))
    out += _section("Software and provenance", provenance_section(provenance_summary(artifacts)))
    return "{% raw %}\n" + out + "{% endraw %}\n"


def write_report_files(plan, inputs: Mapping[str, list[str]], outputs: Mapping[str, str]) -> None:
    """The ``report_page`` job: the front page and the caption templates."""
    from .atomic import atomic_write_text
    from .status import compute

    root = _root_of(outputs["page"])
    status = compute(plan, root)
    artifacts = [*inputs.get("data", []), *inputs.get("runs", []), *inputs.get("chunks", [])]
    verdict = inputs.get("verdict", [None])[0]
    atomic_write_text(outputs["page"], front_page(plan, verdict, status, artifacts))
    atomic_write_text(outputs["figures"], caption_template(figure_captions(plan), "figure"))
    atomic_write_text(outputs["tables"], caption_template(table_captions(plan), "table"))


def _root_of(path: str) -> Path:
    """The workflow folder of an output path (the part before ``results/``)."""
    text = Path(path).resolve().as_posix()
    return Path(text[: text.rfind("/results/")] or "/")
