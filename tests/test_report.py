"""The report's content, in-process: every figure's and table's caption comes from its own
declaration and is valid rst; the caption templates pick the right one the way Snakemake renders
them (Jinja with the job's wildcards, then docutils); the front page of a tiny run puts the verdict
first and holds the status, the resolved config and the recorded provenance; the report's
grouping by experiment. (The real `snakemake --report` opened in Chromium: tests/test_workflow.py.)"""

from __future__ import annotations

import inspect
import re
from types import SimpleNamespace

import pytest
from docutils.core import publish_parts
from jinja2 import Environment

from helpers import plan_of, run_plan, smoke_config, tiny_wavepacket
from invnet.report import ACROSS, caption_template, figure_captions, table_captions


def render(template: str, **wildcards: str) -> str:
    """As Snakemake renders a caption file: Jinja (its settings), then docutils to HTML."""
    text = Environment(trim_blocks=True, lstrip_blocks=True).from_string(template).render(
        snakemake=SimpleNamespace(wildcards=SimpleNamespace(**wildcards)))
    return publish_parts(text, writer="html", settings_overrides={"report_level": 1})["body"]


def plain(html: str) -> str:
    import html as html_

    return html_.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", html))).strip()


def words(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", " ", text).strip()


@pytest.fixture(scope="module")
def plan():
    return plan_of(smoke_config())


def test_every_caption_is_its_declarations_text_as_valid_rst(plan):
    figures, tables = figure_captions(plan), table_captions(plan)
    assert set(figures) == set(plan.figures)
    assert set(tables) == set(plan.tables) | {s.table for s in plan.studies.values()}
    for kind, captions, specs in (("figure", figures, plan.figures), ("table", tables, plan.tables)):
        template = caption_template(captions, kind)
        for name, spec in specs.items():
            html = render(template, **{kind: name})
            assert "system-message" not in html and "problematic" not in html, (name, html)
            text = words(plain(html))
            assert text.startswith(words(spec.doc)), name  # the one-line description first
            body = spec.caption or inspect.getmodule(spec.plot if kind == "figure" else spec.render).__doc__
            assert words(re.sub(r":[a-z]+:", "", body)) in text, name  # then its own module's description
            others = [n for n in specs if n != name and not words(specs[n].doc) in words(spec.doc)]
            assert all(not text.startswith(words(specs[n].doc)) for n in others)


def test_a_declared_caption_wins_over_the_module_docstring():
    from invnet.figures.base import FigureSpec
    from invnet.report import caption_of

    spec = FigureSpec(name="x", doc="short *doc*", plot=lambda *a: None, caption="Read (a) as `x` with a_b | c.")
    html = render(caption_template({"x": caption_of(spec, spec.plot)}, "figure"), figure="x")
    assert "system-message" not in html
    assert plain(html) == "short *doc* Read (a) as `x` with a_b | c."  # nothing read as markup


def test_front_page_of_a_tiny_run(tmp_path):
    config = tiny_wavepacket({"bfgs": {"maxiter": 20}, "jpo": {"hidden": [8], "steps": 10}})
    config["experiments"]["wavepacket"]["seeds"] = [0, 1]
    run_plan(config, tmp_path, rules=("generate_data", "solve", "aggregate", "make_table", "report_page"))
    page = (tmp_path / "results/report/index.rst").read_text()
    assert page.startswith("{% raw %}") and page.rstrip().endswith("{% endraw %}")  # no Jinja in the data
    html = publish_parts(Environment().from_string(page).render(), writer="html",
                         settings_overrides={"report_level": 1})["html_body"]
    assert "system-message" not in html
    text = plain(html)
    sections = [text.find(s) for s in ("Verdict", "Status", "How this report is organised", "Configuration",
                                       "Software and provenance")]
    assert -1 not in sections and sections == sorted(sections)  # the verdict first
    import pandas as pd

    verdict = pd.read_csv(tmp_path / "results/tables/verdict.csv")
    row = verdict.iloc[0]
    assert f"{row['beat']:.2f} [{row['beat_low']:.2f}, {row['beat_high']:.2f}]" in text and row["verdict"] in text
    assert "runs: 4: 4 done" in text and "Every run is done" in text
    assert "history_points: 20" in text and "compare_rtol: 0.001" in text  # the resolved config
    from invnet.artifacts import git_commit

    assert git_commit() in text and "numpy" in text and "torch" in text  # recorded provenance
    assert "(6 of 6)" not in text  # one commit for all artifacts: not counted out


def test_report_groups_by_experiment_and_kind(plan):
    label = {e: x.label for e, x in plan.experiments.items()}
    assert plan.report_category(SimpleNamespace(experiment="ks", figure="scatter")) == label["ks"]
    assert plan.report_category(SimpleNamespace(figure="fig3")) == label["wavepacket"]  # drawn from one
    assert plan.report_category(SimpleNamespace(figure="fig2")) == ACROSS  # drawn from none (a study)
    assert plan.report_category(SimpleNamespace(table="table2")) == ACROSS
    assert plan.report_labels(SimpleNamespace(table="table2")) == {"table": "table2"}


def test_table_html_escapes_cells_but_keeps_stacked_lines():
    """A table's HTML page (what the report shows): markup in a cell is text, while the ``<br>``
    that joins a stacked Markdown cell (one line per solver, unknown, ...) is a line break."""
    from html.parser import HTMLParser

    import pandas as pd

    from invnet.tables.render import stacked_cell, to_html

    frame = pd.DataFrame({"a": [stacked_cell(["BFGS: 1 < 2", "JPO: 50 steps"], latex=False)],
                          "b": ["<script>x</script> & y"]})

    class Cells(HTMLParser):  # each cell's text lines (split at <br>), and every tag seen
        def __init__(self):
            super().__init__()
            self.cells, self.tags, self.in_cell = [], [], False

        def handle_starttag(self, tag, attrs):
            self.tags.append(tag)
            if tag == "td":
                self.cells.append([""])
                self.in_cell = True
            elif tag == "br" and self.in_cell:
                self.cells[-1].append("")

        def handle_endtag(self, tag):
            if tag == "td":
                self.cells[-1] = [line.strip() for line in self.cells[-1]]
                self.in_cell = False

        def handle_data(self, data):
            if self.in_cell:
                self.cells[-1][-1] += data

    parsed = Cells()
    parsed.feed(to_html(frame, caption="Caption <b>not bold</b>"))
    assert parsed.cells == [["BFGS: 1 < 2", "JPO: 50 steps"], ["<script>x</script> & y"]]
    assert "script" not in parsed.tags and "b" not in parsed.tags
