"""Bring your own study: a family, a solver, a figure and a table written outside the package
(tests/outside/mylab, copied to a temporary folder outside the repository) run through the whole
study by naming them in a config by import path (``family:`` and ``plugins:``). Nothing under
src/ or workflow/ is touched. The family also honours the contract every family meets."""

from __future__ import annotations

import importlib
import json
import math
import re
import shutil
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import yaml

from family_contract import CHECKS, check_precisions_and_device
from helpers import copy_workflow, plan_of, smoke_config, snakemake

OUTSIDE = Path(__file__).resolve().parent / "outside"
PLUGINS = ["mylab.solvers:HeavyBall", "mylab.figures:FIGURE", "mylab.tables:TABLE"]
FAMILY = "mylab.problems:NoisyQuadratic"


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """The plug-in package in a folder outside the repository, importable from there."""
    root = tmp_path_factory.mktemp("outside")
    shutil.copytree(OUTSIDE / "mylab", root / "mylab", ignore=shutil.ignore_patterns("__pycache__"))
    sys.path.insert(0, str(root))
    importlib.invalidate_caches()
    yield root
    sys.path.remove(str(root))
    from invnet import registry

    for kind in registry._PLUGINS.values():  # unregister them: the other tests see the package only
        for name in [n for n, obj in kind.items() if getattr(obj, "__module__", "").startswith("mylab")
                     or getattr(getattr(obj, "render", getattr(obj, "plot", None)), "__module__", "").startswith("mylab")]:
            del kind[name]
    for name in [m for m in sys.modules if m == "mylab" or m.startswith("mylab.")]:
        del sys.modules[name]


def _family(lab):
    return importlib.import_module("mylab.problems").NoisyQuadratic


def study_config() -> dict:
    """Every registered solver, the plug-in solver, one n, two seeds (for the spread)."""
    from invnet.solvers import solvers

    config = smoke_config()
    every = {name: dict(s) for name, s in config["experiments"]["wavepacket"]["solvers"].items()}
    for name, cls in solvers().items():
        if name not in every:  # keep first-order budgets smoke-sized
            every[name] = {"steps": 50} if "steps" in cls.settings_spec else {}
    every["heavy_ball"] = {"steps": 30, "lr": 0.02}
    config["plugins"] = PLUGINS
    config.pop("studies", None)  # the Figure 2 study reads no experiment: not this test's subject
    config["experiments"] = {"quad": {"family": FAMILY, "label": "Noisy quadratic", "n": [4], "seeds": [0, 1],
                                      "n_test": 4, "solvers": every}}
    # a robustness sweep of the outside family's JPO checkpoints (its claim map is a generic figure)
    config["sweeps"] = {"length": {"experiment": "quad", "over": "steps", "values": [10, 25, 50]}}
    return config


@pytest.mark.parametrize("check", sorted(CHECKS))
def test_plugin_family_honours_the_contract(lab, check):
    CHECKS[check](_family(lab))


def test_plugin_family_precisions(lab):
    check_precisions_and_device(_family(lab), "cpu")


def test_plugin_forward_against_numpy(lab):
    fam = _family(lab)()
    x = np.linspace(-2, 2, 7)[:, None]
    ref = np.stack([x[:, 0], 0.5 * np.sin(6.0 * x[:, 0])], axis=1)
    np.testing.assert_allclose(fam.forward(torch.as_tensor(x)).numpy(), ref, rtol=0, atol=1e-15)
    assert math.isclose(float(fam.loss(torch.zeros(1, 2), torch.ones(1, 2))), 2.0)


def test_the_plan_schedules_every_plugin_kind(lab):
    """In-process: the plug-in family's problem sets, the plug-in solver's runs, the plug-in
    table and figure, and every generic figure for the outside family, none of the family-specific."""
    from invnet.figures import figures

    plan = plan_of(study_config())
    solve = {j.wildcards["solver"] for j in plan.rule_jobs("solve")}
    assert "heavy_ball" in solve and len(plan.rule_jobs("generate_data")) == 2
    assert plan.job("make_table", {"table": "lab_median_loss"}).outputs["md"] == "results/tables/lab_median_loss.md"
    drawn = {j.wildcards["figure"] for j in plan.rule_jobs("plot_experiment_figure")}
    generic = {name for name, spec in figures().items() if spec.per_experiment and spec.families is None}
    assert "lab_loss_ranking" in generic and drawn == generic
    assert {"lab_median_loss", "lab_loss_ranking"} <= set(plan.named_targets())
    info = plan.experiments["quad"].solvers["heavy_ball"]
    assert info.label == "Heavy ball" and info.from_x0 and not info.network


def test_a_bad_plugin_path_is_one_line_naming_it(lab):
    from invnet.config import InvalidConfig, resolve_config

    for bad, needle in (("mylab.solvers:Nothing", "has no attribute 'Nothing'"),
                        ("mylab.nowhere:X", "cannot import module 'mylab.nowhere'"),
                        ("mylab.tables:render", "is not a family or solver class")):
        with pytest.raises(InvalidConfig) as err:
            resolve_config({**study_config(), "plugins": [bad]}, check_cuda=False)
        assert len(err.value.lines) == 1 and err.value.lines[0].startswith("plugins[0]") and needle in str(err.value)


def test_tables_1_3_5_describe_the_plugin_family_and_solver(lab, tmp_path):
    """In-process: Tables 1, 3 and 5 of a study of the outside family with the outside solver
    give them correct rows, checked against the artifacts: its unknown, its noise, the steps
    the plug-in solver ran, its loss, and its own settings (unknown to the package) as recorded."""
    import h5py

    config = study_config()
    block = config["experiments"]["quad"]
    block["solvers"] = {k: v for k, v in block["solvers"].items() if k in ("bfgs", "jpo", "heavy_ball")}
    config.pop("sweeps")  # a sweep needs the multi-start left out here; the tables do not read sweeps
    plan = plan_of(config)
    plan.run([j for j in plan.jobs if j.rule in ("generate_data", "solve", "solve_test", "aggregate")
              or (j.rule == "make_table" and j.wildcards["table"] in ("table1", "table3", "table5"))], tmp_path)
    tables = tmp_path / "results" / "tables"
    runs = {}
    for seed in (0, 1):
        with h5py.File(tmp_path / f"results/runs/quad/heavy_ball/n4/seed{seed}.h5", "r") as f:
            runs[seed] = (json.loads(f.attrs["config"])["solver"], f["loss"][()], f["iterations"][()])
    recorded = runs[0][0]
    assert recorded == runs[1][0] == {"method": "heavy_ball", "lr": 0.02, "momentum": 0.9, "steps": 30}
    t5 = pd.read_csv(tables / "table5.csv").query("solver == 'heavy_ball'").set_index("setting")
    assert {k: json.loads(v) for k, v in t5["value"].items()} == recorded and t5["agree"].all()
    assert re.search(r"\| Heavy ball +\| 2 +\| method = heavy_ball, lr = 0.02, momentum = 0.9, steps = 30 +\|",
                     (tables / "table5.md").read_text())
    with h5py.File(tmp_path / "results/data/quad/n4/seed0.h5", "r") as f:
        problem = json.loads(f.attrs["problem"])
    t1 = pd.read_csv(tables / "table1.csv").iloc[0]
    assert t1["family"] == problem["family"] == "noisy_quadratic" and t1["noise"] == problem["noise"] == 0.05
    md1 = (tables / "table1.md").read_text()
    assert "x = 0 ∈ [-3, 3]" in md1 and "Heavy ball: 30 (budget)" in md1
    assert t1["heavy_ball.iterations_max"] == max(its.max() for *_, its in runs.values()) == 30
    t3 = pd.read_csv(tables / "table3.csv").set_index("solver").loc["heavy_ball"]
    means = [loss.mean() for _, loss, _ in runs.values()]
    assert t3["mean_loss_mean"] == pytest.approx(np.mean(means), rel=1e-12)
    assert t3["mean_loss_std"] == pytest.approx(np.std(means, ddof=1), rel=1e-9)


@pytest.mark.slow
def test_plugins_run_the_whole_study(lab, tmp_path):
    work = copy_workflow(tmp_path / "wf")
    config = study_config()
    (work / "config" / "plugin.yaml").write_text(yaml.safe_dump(config))
    run = snakemake(work, "--cores", "2", "--configfile", "config/plugin.yaml", timeout=900, pythonpath=lab)
    assert run.returncode == 0, run.stderr[-5000:]
    plan = plan_of(config)
    missing = [p for j in plan.jobs for p in j.output_files if not (work / p).is_file()]
    assert not missing, missing
    from invnet.figures import figures

    for name, spec in figures().items():  # every generic figure, none of the family-specific ones
        for ext in ("pdf", "png"):
            assert (work / f"results/figures/quad/{name}.{ext}").is_file() == (
                spec.per_experiment and spec.families is None
            ), name
    table = pd.read_csv(work / "results" / "tables" / "table2.csv")
    assert set(table["experiment"]) == {"quad"}
    assert set(table["solver"]) == set(config["experiments"]["quad"]["solvers"]) - {"bfgs"}
    assert set(table["n"]) == {4}
    assert table["n_seeds"].eq(2).all()
    md = (work / "results" / "tables" / "table2.md").read_text()
    assert "Noisy quadratic" in md and "Heavy ball" in md  # labels name the experiment and the plug-in solver
    # the plug-in table: the median loss of every method, recomputed here from the fractions
    mine = pd.read_csv(work / "results" / "tables" / "lab_median_loss.csv").set_index(["solver", "n"])
    frac = pd.read_csv(work / "results" / "aggregate" / "quad" / "fractions.csv")
    expected = frac.groupby(["solver", "n"])["median_loss"].mean()
    assert set(mine.index) == set(expected.index)
    for key, value in expected.items():
        assert mine.loc[key, "median_loss_mean"] == pytest.approx(value, rel=1e-12), key
    # Tables 1, 3 and 5 give the outside family and solver their rows (checked in detail in-process above)
    assert "Noisy quadratic" in (work / "results" / "tables" / "table1.md").read_text()
    assert set(pd.read_csv(work / "results" / "tables" / "table3.csv")["solver"]) == set(config["experiments"]["quad"]["solvers"])
    settings = pd.read_csv(work / "results" / "tables" / "table5.csv").query("solver == 'heavy_ball'")
    assert set(settings["setting"]) == {"method", "lr", "momentum", "steps"}
