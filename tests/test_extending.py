"""docs/extending.md stays true: its example experiment, solver and figure, copied into a scratch
copy of the repository (two files each at most), are picked up by Snakemake without any edit to
the workflow, and their jobs run."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from test_workflow import REPO, _copy_workflow, _job_counts, _snakemake

DOC = REPO / "docs" / "extending.md"
BLOCK = re.compile(r"<!-- (file|config): (\S+) -->\n```\w*\n(.*?)```", re.S)


def doc_blocks() -> dict[str, tuple[str, str]]:
    return {target: (kind, body) for kind, target, body in BLOCK.findall(DOC.read_text())}


@pytest.fixture(scope="module")
def extended(tmp_path_factory):
    """A copy of workflow and package with the page's files added and a config using them."""
    work = _copy_workflow(tmp_path_factory.mktemp("extending") / "wf", with_src=True)
    blocks = doc_blocks()
    config = yaml.safe_load((work / "config" / "smoke.yaml").read_text())
    for target, (kind, body) in blocks.items():
        if kind == "file":
            (work / target).write_text(body)
        else:
            config["experiments"].update(yaml.safe_load(body))
    config["experiments"]["wavepacket"]["solvers"]["heavy_ball"] = {"steps": 20}
    (work / "config" / "extended.yaml").write_text(yaml.safe_dump(config))
    return work, config


def test_the_page_has_an_experiment_a_solver_and_a_figure():
    targets = doc_blocks()
    assert {"src/invnet/problems/oscillator.py", "src/invnet/solvers/heavy_ball.py",
            "src/invnet/figures/loss_distribution.py", "experiments.oscillator"} <= set(targets)


def test_examples_are_scheduled_without_workflow_edits(extended):
    work, config = extended
    dry = _snakemake(work, "-n", "--configfile", "config/extended.yaml", pythonpath=work / "src")
    output = dry.stdout + dry.stderr
    assert dry.returncode == 0, output[-3000:]
    blocks = config["experiments"]
    sets = {e: len(b["n"]) * len(b["seeds"]) for e, b in blocks.items()}
    counts = _job_counts(output)
    assert counts["generate_data"] == sum(sets.values())
    assert counts["solve"] == sum(sets[e] * len(b["solvers"]) for e, b in blocks.items())
    assert "results/runs/wavepacket/heavy_ball/n8/seed0.h5" in output
    assert "results/figures/oscillator/loss_distribution.pdf" in output
    assert "results/figures/wavepacket/loss_distribution.pdf" in output

    named = _snakemake(work, "loss_distribution", "-n", "--configfile", "config/extended.yaml",
                       pythonpath=work / "src")
    assert named.returncode == 0, named.stderr[-3000:]
    assert "rule plot_experiment_figure" in named.stdout and "make_table2" not in named.stdout


@pytest.mark.slow
def test_example_experiment_and_solver_run(extended):
    work, _ = extended
    targets = ["results/runs/oscillator/jpo/n16/seed0.h5", "results/runs/wavepacket/heavy_ball/n8/seed0.h5"]
    # targets first: after --configfile Snakemake would read them as further config files
    run = _snakemake(work, *targets, "--cores", "2", "--configfile", "config/extended.yaml",
                     pythonpath=work / "src")
    assert run.returncode == 0, run.stderr[-4000:]
    from invnet.artifacts import read_h5

    for target in targets:
        arrays, attrs = read_h5(work / target)
        assert arrays["loss"].shape == (int(Path(target).parent.name[1:]),)
        assert (arrays["loss"] >= 0).all() and attrs["provenance"]["code_fingerprint"]
