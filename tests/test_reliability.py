"""Reliability under real use (issue 11): a deleted artifact is rebuilt, a hard kill is
recovered as the README says, non-finite losses are failures (never a win, loss or tie) and
every figure renders without them. (That the thread count is part of what a run depends on is
tests/test_plan.py.)

The workflow tests (slow tier) run Snakemake in temporary copies of the workflow on a tiny
config of the wave-packet experiment (8 problems, one seed, BFGS and JPO).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from helpers import BIN, SNAKEMAKE, copy_workflow, numeric_datasets, snakemake, tiny_wavepacket

# JPO long enough (a few seconds) for the kill test to catch it mid-run
TINY = tiny_wavepacket({"bfgs": {"maxiter": 20}, "jpo": {"hidden": [8], "steps": 1500}})
RUN = "results/runs/wavepacket/{solver}/n8/seed0.h5"


def _write_config(root: Path) -> Path:
    path = root / "tiny.yaml"
    path.write_text(yaml.safe_dump(TINY), encoding="utf-8")
    return path


TARGETS = ("table2", "fig3")  # what the tests build: enough downstream of every run, few figure jobs


def _run(root: Path, *args: str) -> subprocess.CompletedProcess:
    """Snakemake with the tiny config; targets go before --configfile (README)."""
    return snakemake(root, *args, "--configfile", "tiny.yaml")


def _numeric(root: Path) -> dict[str, np.ndarray]:
    """Every numeric dataset of every data and run artifact under ``root/results``."""
    return numeric_datasets(root, "*/wavepacket/**/*.h5")


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The tiny workflow, run to completion once."""
    root = copy_workflow(tmp_path_factory.mktemp("reliability"))
    _write_config(root)
    proc = _run(root, *TARGETS, "--cores", "2")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return root


@pytest.mark.slow
def test_deleted_run_is_rebuilt_with_everything_downstream(built):
    """`rm -rf results/runs/wavepacket/jpo` then the same command: the run is rebuilt and the
    aggregate, tables and figures reading it are redone (on main: "Nothing to be done")."""
    jpo = built / RUN.format(solver="jpo")
    before = {p: (built / p).stat().st_mtime_ns for p in
              ("results/tables/table2.csv", "results/aggregate/wavepacket/outcomes.csv", "results/figures/fig3.pdf",
               "results/aggregate/wavepacket/panels/fig3.h5")}
    reference = _numeric(built)
    shutil.rmtree(jpo.parent.parent)
    proc = _run(built, *TARGETS, "--cores", "2")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert jpo.exists()
    for path, mtime in before.items():
        assert (built / path).stat().st_mtime_ns > mtime, f"{path} was not redone"
    rebuilt = _numeric(built)
    assert rebuilt.keys() == reference.keys()
    for key in reference:  # the same config and seed give the same numbers
        assert np.array_equal(rebuilt[key], reference[key], equal_nan=True), key
    # a deleted data artifact: rebuilt too, and the runs on it
    data = built / "results/data/wavepacket/n8/seed0.h5"
    os.replace(data, built / "kept.h5")
    proc = _run(built, *TARGETS, "-n")
    os.replace(built / "kept.h5", data)  # back, untouched: the kill test compares with this run
    assert "rule generate_data:" in proc.stdout and proc.stdout.count("rule solve:") == 2


@pytest.mark.slow
def test_hard_kill_recovers_as_the_readme_says(built, tmp_path):
    """SIGKILL the Snakemake process group while JPO runs, then follow the README: the same
    command refuses (the lock of the killed run), `snakemake --unlock`, the same command again.
    Every numeric dataset equals the uninterrupted run's, bit for bit."""
    root = copy_workflow(tmp_path / "killed")
    _write_config(root)
    env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    log = root / "logs/solve/wavepacket/jpo/n8/seed0.log"
    proc = subprocess.Popen(
        [*SNAKEMAKE, *TARGETS, "--cores", "2", "--configfile", "tiny.yaml"], cwd=root, env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 300
        while not (log.exists() and "settings" in log.read_text(errors="replace")):
            assert proc.poll() is None, "Snakemake ended before the JPO job started"
            assert time.monotonic() < deadline, "the JPO job never started"
            time.sleep(0.05)
        time.sleep(0.3)
        os.killpg(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
    assert not (root / RUN.format(solver="jpo")).exists()  # killed mid-solve: no complete-looking file

    again = _run(root, *TARGETS, "--cores", "2")
    assert again.returncode != 0 and "LockException" in again.stdout + again.stderr
    unlock = _run(root, "--unlock")
    assert unlock.returncode == 0, unlock.stderr[-2000:]
    resumed = _run(root, *TARGETS, "--cores", "2")
    assert resumed.returncode == 0, resumed.stdout[-3000:] + resumed.stderr[-3000:]

    reference, recovered = _numeric(built), _numeric(root)
    assert recovered.keys() == reference.keys() and len(reference) > 10
    for key in reference:
        assert np.array_equal(recovered[key], reference[key], equal_nan=True), key


# ------------------------------------------------------------------------------ non-finite losses


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # SciPy's line search on NaN losses
def test_nonfinite_losses_are_failures_in_tables_and_figures(tmp_path):
    """frequency = 1e300 makes every BFGS loss NaN (issue 11: Table 2 said "JPO beats BFGS
    1.00"). The run records the status, no fraction counts the problems, Table 2 has the failed
    columns, and fig3, scatter, beat_fraction and budget render, saying how many were left out."""
    from invnet.analysis import aggregate
    from invnet.artifacts import STATUS_NAN, read_h5
    from invnet.figures import FigureInputs, figures
    from helpers import generate_data, run_solver
    from invnet.tables import TableInputs, write_table
    from invnet.tables import tables as table_specs
    from invnet.tables.render import write_csv

    config = {
        "history_points": 20,
        "experiments": {"wavepacket": {
            "family": "wavepacket", "n": [8], "seeds": [0, 1], "n_test": 4,
            "problem": {"frequency": 1.0e300},
            "solvers": {"bfgs": {"maxiter": 20}, "bfgs_multistart": {"maxiter": 20, "starts": 2, "budget": [1, 2]},
                        "jpo": {"hidden": [8], "steps": 20}},
        }},
    }
    runs, data = [], []
    for seed in (0, 1):
        d = tmp_path / f"data{seed}.h5"
        generate_data(config, "wavepacket", 8, seed, d)
        data.append(d)
        for solver in ("bfgs", "bfgs_multistart", "jpo"):
            r = tmp_path / f"{solver}{seed}.h5"
            run_solver(config, "wavepacket", solver, 8, seed, data=d, out=r)
            runs.append(r)
    arrays, _ = read_h5(tmp_path / "bfgs0.h5", "run")
    assert np.isnan(arrays["loss"]).all() and (arrays["problem_status"] == STATUS_NAN).all()

    from invnet.solvers import solver_set

    solvers = solver_set(["bfgs", "bfgs_multistart", "jpo"], {"bfgs_multistart": {"starts": 2, "budget": [1, 2]}})
    frames = aggregate(runs, data, solvers)
    frac = frames["fractions"].set_index(["solver", "seed"])
    assert (frames["outcomes"].query("solver == 'jpo'")["outcome"] == "bfgs_failed").all()
    for seed in (0, 1):
        assert np.isnan(frac.loc[("jpo", seed), ["beat", "tie", "lose"]].astype(float)).all()
        assert frac.loc[("jpo", seed), "n_compared"] == 0
        assert frac.loc[("bfgs", seed), "failed"] == 8
        assert frac.loc[("jpo", seed), "bfgs_failed"] == 8
    rendered = table_specs()["table2"].render(TableInputs(["wavepacket"], {}, {"fractions": frames["fractions"]}, solvers,
                                                     {"compare_rtol": 1e-3}))
    write_table(rendered, tmp_path / "t2.csv", tmp_path / "t2.tex", tmp_path / "t2.md")
    table = rendered.numeric
    jpo = table[table["solver"] == "jpo"].iloc[0]
    assert np.isnan(jpo["beat_mean"]) and jpo["bfgs_failed_total"] == 16 and jpo["failed_total"] == 0
    md = (tmp_path / "t2.md").read_text()
    assert "BFGS failed" in md and "16/16" in md and "1.00" not in md
    # Table 3: BFGS has no finite loss to average (shown as '–'), and failed on all 16 problems
    rendered = table_specs()["table3"].render(TableInputs(["wavepacket"], {}, {"fractions": frames["fractions"]}, solvers))
    bfgs = rendered.numeric.set_index("solver").loc["bfgs"]
    assert np.isnan(bfgs["mean_loss_mean"]) and bfgs["failed_total"] == bfgs["problems_total"] == 16
    assert rendered.markdown.set_index("Method").loc["BFGS", ["Mean loss", "Median loss", "Failed"]].tolist() == [
        "–", "–", "16/16"]

    tables = {}
    for name, frame in frames.items():
        write_csv(frame, tmp_path / f"{name}.csv")
        tables[name] = [tmp_path / f"{name}.csv"]
    from matplotlib.text import Text

    from invnet.figures import PanelInputs
    from invnet.solvers import solver_set

    configured = config["experiments"]["wavepacket"]["solvers"]
    figure_solvers = solver_set(configured, configured)
    spec = figures()["fig3"]
    spec.panels(PanelInputs("wavepacket", data[0], {s: tmp_path / f"{s}0.h5" for s in configured}, figure_solvers),
                tmp_path / "p.h5")
    for name in ("fig3", "scatter", "beat_fraction", "budget"):
        spec = figures()[name]
        inputs = FigureInputs.load(["wavepacket"], {"wavepacket": "Wave packet"}, {"wavepacket": "wavepacket"},
                                   {t: tables[t] for t in spec.reads},
                                   {"wavepacket": str(tmp_path / "p.h5")} if spec.panels else {}, figure_solvers)
        fig = spec.plot(inputs, tmp_path / f"{name}.pdf", tmp_path / f"{name}.png")
        assert (tmp_path / f"{name}.png").stat().st_size > 1000
        texts = [t.get_text() for t in fig.findobj(Text)]
        assert any("left out" in t for t in texts), (name, texts)  # says how many it left out


def test_failed_note_counts_failed_problems():
    from invnet.figures.failures import failed_counts, failed_note
    from invnet.solvers import solver_set

    solvers = solver_set(["bfgs", "jpo"])
    frac = pd.DataFrame({"experiment": "e", "solver": ["bfgs", "bfgs", "jpo"], "n": 8, "seed": [0, 1, 0],
                         "failed": [2, 3, 0], "n_problems": 8})
    assert failed_counts(frac, "e", solvers=solvers) == {"bfgs": (5, 16)}
    assert "BFGS 5/16" in failed_note(frac, "e", solvers) and failed_note(frac, "other", solvers) == ""
