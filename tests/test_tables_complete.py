"""Tables 1, 3 and 5 on a tiny study run in-process (no Snakemake): every number is recomputed
here straight from the HDF5 artifacts with h5py and NumPy (not through the table code or
invnet.analysis) and compared with the CSV each table wrote; Table 5 follows a changed solver
setting and flags runs that disagree; every LaTeX file is well-formed booktabs."""

from __future__ import annotations

import copy
import json
import re
import shutil
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest

from helpers import plan_of

TABLES = ("table1", "table3", "table5")
# Labels with LaTeX specials, to see them escaped
LABELS = {"wavepacket": "Wave packet #1 (10% noise)", "billiards": "Billiards_one & cue"}
CONFIG = {
    "history_points": 10,
    "experiments": {
        "wavepacket": {
            "family": "wavepacket", "label": LABELS["wavepacket"], "n": [4, 6], "seeds": [0, 1], "n_test": 3,
            "solvers": {"bfgs": {"maxiter": 30}, "gd": {"steps": 12, "label": "GD_{lr} & co"},
                        "jpo": {"hidden": [8], "steps": 10}, "jpo_bfgs": {"maxiter": 5},
                        "bfgs_multistart": {"maxiter": 10, "starts": 2, "budget": [1, 2]}},
        },
        "billiards": {
            "family": "billiards", "label": LABELS["billiards"], "n": [4], "seeds": [3], "n_test": 2,
            "solvers": {"bfgs": {"maxiter": 10}, "gd": {"lr": 2.5e-3, "steps": 8}},
        },
    },
}
BROKEN = ("wavepacket", "gd", 4, 0, 1)  # (experiment, solver, n, seed, problem) made to fail


def _run(config: dict, root: Path, rules: tuple[str, ...], select=lambda job: True) -> None:
    plan = plan_of(config)
    plan.run([j for j in plan.jobs if j.rule in rules and select(j)], root)


def _tables(config: dict, root: Path) -> None:
    _run(config, root, ("aggregate", "make_table"), lambda j: j.rule != "make_table" or j.wildcards["table"] in TABLES)


@pytest.fixture(scope="module")
def study(tmp_path_factory) -> Path:
    """The tiny study's data and runs, one problem of one run marked failed (NaN loss, as a
    diverged solver leaves it), then its aggregates and Tables 1, 3 and 5."""
    root = tmp_path_factory.mktemp("tables_complete")
    _run(CONFIG, root, ("generate_data", "solve", "solve_test"))  # the aggregate reads the test runs
    e, s, n, seed, problem = BROKEN
    with h5py.File(root / f"results/runs/{e}/{s}/n{n}/seed{seed}.h5", "r+") as f:
        f["loss"][problem] = np.nan
        f["problem_status"][problem] = 1
    _tables(CONFIG, root)
    return root


def _runs(root: Path):
    """(experiment, solver, n, seed, datasets, attrs) of every run artifact under ``root``."""
    out = []
    for path in sorted((root / "results/runs").glob("*/*/n*/seed*.h5")):
        with h5py.File(path, "r") as f:
            attrs = {k: f.attrs[k] for k in ("experiment", "solver", "n", "seed")}
            out.append((str(attrs["experiment"]), str(attrs["solver"]), int(attrs["n"]), int(attrs["seed"]),
                        {k: f[k][()] for k in ("loss", "problem_status", "iterations", "solve_status")},
                        json.loads(f.attrs["config"])))
    return out


def _data(root: Path):
    out = []
    for path in sorted((root / "results/data").glob("*/n*/seed*.h5")):
        with h5py.File(path, "r") as f:
            out.append((str(f.attrs["experiment"]), int(f.attrs["n"]), int(f.attrs["seed"]),
                        int(f.attrs["n_test"]), json.loads(f.attrs["problem"])))
    return out


def _csv(root: Path, name: str) -> pd.DataFrame:
    return pd.read_csv(root / f"results/tables/{name}.csv")


# ------------------------------------------------------------------------------ Table 1


def test_table1_budget_status_is_the_solvers():
    """Table 1 loads no torch, so it names SolveStatus.BUDGET by its number: the same one."""
    from invnet.solvers.base import SolveStatus
    from invnet.tables import table1

    assert table1.BUDGET == SolveStatus.BUDGET


def test_table1_reads_the_problems_and_iterations_from_the_artifacts(study):
    table = _csv(study, "table1").set_index("experiment")
    data, runs = _data(study), _runs(study)
    assert list(table.index) == ["wavepacket", "billiards"]  # config order
    md = (study / "results/tables/table1.md").read_text()
    for e in table.index:
        mine = [d for d in data if d[0] == e]
        problem = mine[0][4]
        assert all(d[4] == problem for d in mine)
        row = table.loc[e]
        assert row["family"] == problem["family"]
        assert json.loads(row["unknowns"]) == problem["param_names"]
        assert json.loads(row["x0"]) == problem["x0"] and json.loads(row["bounds"]) == problem["bounds"]
        assert row["noise"] == problem["noise"]
        assert json.loads(row["n"]) == sorted({d[1] for d in mine})
        assert json.loads(row["seeds"]) == sorted({d[2] for d in mine})
        assert row["n_test"] == mine[0][3]
        for name, x0, (lo, hi) in zip(problem["param_names"], problem["x0"], problem["bounds"]):
            assert f"{name} = {x0:g} ∈ [{lo:g}, {hi:g}]" in md
        solvers = {r[1] for r in runs if r[0] == e}
        assert {c.split(".")[0] for c in row.dropna().index if "." in c} == solvers
        for s in solvers:
            its = np.concatenate([r[4]["iterations"] for r in runs if r[:2] == (e, s)]).astype(float)
            status = np.concatenate([r[4]["solve_status"] for r in runs if r[:2] == (e, s)])
            assert row[f"{s}.iterations_median"] == np.median(its), (e, s)
            assert row[f"{s}.iterations_max"] == its.max(), (e, s)
            assert row[f"{s}.at_budget"] == pytest.approx(np.mean(status == 1), abs=0), (e, s)
    # network steps: JPO trained 10 steps on every problem set; GD ran its 12 steps everywhere
    assert "JPO: 10 steps" in md and r"GD_{lr} & co: 12 (budget)" in md
    # the refinement: median and max of its own BFGS iterations, the share stopped at maxiter 5
    its = np.concatenate([r[4]["iterations"] for r in runs if r[:2] == ("wavepacket", "jpo_bfgs")])
    at = np.mean(np.concatenate([r[4]["solve_status"] for r in runs if r[:2] == ("wavepacket", "jpo_bfgs")]) == 1)
    assert 0 < at < 1 and its.max() == 5  # some problems hit maxiter, some converged earlier
    shown = f"{np.median(its):g}" + (f" (max {its.max()}, " if np.median(its) != its.max() else " (")
    assert f"JPO + BFGS: {shown}{100 * at:.0f}% at budget)" in md
    assert LABELS["wavepacket"] in md and LABELS["billiards"] in md


# ------------------------------------------------------------------------------ Table 3


def test_table3_recomputes_from_the_run_artifacts(study):
    table = _csv(study, "table3").set_index(["experiment", "solver", "n"])
    runs = _runs(study)
    keys = sorted({r[:3] for r in runs})
    assert sorted(table.index) == keys  # every method, BFGS included, at every n
    for key in keys:
        mine = sorted((r for r in runs if r[:3] == key), key=lambda r: r[3])
        means, medians, failed, total = [], [], 0, 0
        for r in mine:
            loss, ok = r[4]["loss"].astype(float), r[4]["problem_status"] == 0
            means.append(loss[ok].mean())
            medians.append(np.median(loss[ok]))
            failed += int((~ok).sum())
            total += loss.size
        row = table.loc[key]
        assert row["n_seeds"] == len(mine)
        assert row["mean_loss_mean"] == pytest.approx(np.mean(means), rel=1e-12)
        assert row["median_loss_mean"] == pytest.approx(np.mean(medians), rel=1e-12)
        if len(mine) > 1:
            assert row["mean_loss_std"] == pytest.approx(np.std(means, ddof=1), rel=1e-9)
            assert row["median_loss_std"] == pytest.approx(np.std(medians, ddof=1), rel=1e-9)
        else:
            assert np.isnan(row["mean_loss_std"])
        assert row["failed_total"] == failed and row["problems_total"] == total
    e, s, n, _, _ = BROKEN
    assert table.loc[(e, s, n), "failed_total"] == 1
    md = (study / "results/tables/table3.md").read_text()
    assert re.search(r"\| GD_\{lr\} & co +\| 4 +\| [^|]+\| [^|]+\| 1/8 +\|", md)  # failed of all, over seeds


# ------------------------------------------------------------------------------ Table 5


def _table5_rows(root: Path):
    return _csv(root, "table5").set_index(["experiment", "solver", "setting"])


def test_table5_lists_the_recorded_settings_of_every_run(study):
    table = _table5_rows(study)
    runs = _runs(study)
    expected = {}
    for e, s, n, seed, _, config in runs:
        for key, value in config["solver"].items():
            expected.setdefault((e, s, key), []).append(value)
    assert sorted(table.index) == sorted(expected)
    for key, values in expected.items():
        row = table.loc[key]
        assert row["n_runs"] == len(values) and bool(row["agree"])
        assert json.loads(row["value"]) == values[0], key
    # the composition and the method's own settings, defaults filled in: jpo_bfgs runs BFGS from JPO
    assert json.loads(table.loc[("wavepacket", "jpo_bfgs", "start_from"), "value"]) == "jpo"
    assert json.loads(table.loc[("wavepacket", "bfgs_multistart", "starts"), "value"]) == 2
    assert json.loads(table.loc[("billiards", "gd", "lr"), "value"]) == 2.5e-3


def _changed_gd(study: Path, tmp_path: Path, lr: float, seeds=None) -> Path:
    """A copy of the study in which the wave packet's GD runs (those of ``seeds``, default all)
    ran again with learning rate ``lr``, and its tables rendered again."""
    root = tmp_path / f"lr{lr}"
    shutil.copytree(study / "results", root / "results")
    config = copy.deepcopy(CONFIG)
    config["experiments"]["wavepacket"]["solvers"]["gd"]["lr"] = lr
    _run(config, root, ("solve",), lambda j: j.wildcards["experiment"] == "wavepacket" and j.wildcards["solver"] == "gd"
         and (seeds is None or int(j.wildcards["seed"]) in seeds))
    _tables(CONFIG, root)
    return root


def _md_row(root: Path, label: str, experiment: str) -> list[str]:
    for line in (root / "results/tables/table5.md").read_text().splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if len(cells) == 5 and cells[0] == LABELS[experiment] and cells[1] == label:
            return cells
    raise AssertionError(f"no row for {label}")


def test_table5_follows_a_changed_setting_and_flags_disagreeing_seeds(study, tmp_path):
    before = _md_row(study, "GD_{lr} & co", "wavepacket")
    lr = [c["solver"]["lr"] for e, s, *_, c in _runs(study) if (e, s) == ("wavepacket", "gd")]
    assert set(lr) == {0.01} and "lr = 0.01," in before[3] and before[4] == ""

    changed = _changed_gd(study, tmp_path, 0.02)
    after = _md_row(changed, "GD_{lr} & co", "wavepacket")
    assert "lr = 0.02," in after[3] and "lr = 0.01" not in after[3] and after[4] == ""
    assert _md_row(changed, "BFGS", "wavepacket") == _md_row(study, "BFGS", "wavepacket")

    mixed = _changed_gd(study, tmp_path / "mixed", 0.02, seeds={1})
    runs = [(n, seed, c["solver"]["lr"]) for e, s, n, seed, _, c in _runs(mixed) if (e, s) == ("wavepacket", "gd")]
    assert sorted({lr for *_, lr in runs}) == [0.01, 0.02]  # seed 1 reran at 0.02, seed 0 did not
    row = _table5_rows(mixed).loc[("wavepacket", "gd", "lr")]
    assert not bool(row["agree"]) and sorted(json.loads(row["value"])) == [0.01, 0.02]
    cells = _md_row(mixed, "GD_{lr} & co", "wavepacket")
    assert "lr = 0.01 or 0.02" in cells[3]
    # the note names which runs hold which value, recomputed here from the artifacts
    held = {lr: sorted((n, seed) for n, seed, v in runs if v == lr) for lr in (0.01, 0.02)}
    assert held == {0.01: [(4, 0), (6, 0)], 0.02: [(4, 1), (6, 1)]}
    assert cells[4] == "lr: 0.01 in n=4 (seed 0), n=6 (seed 0); 0.02 in n=4 (seed 1), n=6 (seed 1)"
    assert not _table5_rows(mixed).drop(("wavepacket", "gd", "lr"))["agree"].eq(False).any()


# ------------------------------------------------------------------------------ LaTeX

_ESCAPED = set("\\&%$#_{}~^ ,;:!")  # escaped specials, spacing commands (thin space in math)


def booktabs_problems(tex: str) -> list[str]:
    """What is wrong with a booktabs table float written by the renderer (empty: nothing):
    unbalanced braces, math or environments, an unescaped special character outside math, a
    row whose number of cells differs from the column spec, booktabs rules missing or doubled."""
    problems, stack, depth, math, i = [], [], 0, False, 0
    rows: list[int] = []  # column separators per row of the outer tabular
    cells = 0
    while i < len(tex):
        ch = tex[i]
        if ch == "\\":
            m = re.match(r"\\([A-Za-z]+)|\\(.)", tex[i:], re.S)
            word, sym = m.group(1), m.group(2)
            if word in ("begin", "end"):
                env = re.match(r"\\(?:begin|end)\{([^}]*)\}", tex[i:])
                if env is None:
                    problems.append(f"\\{word} without an environment name at {i}")
                    i += len(m.group(0))
                    continue
                if word == "begin":
                    stack.append(env.group(1))
                elif not stack or stack.pop() != env.group(1):
                    problems.append(f"\\end{{{env.group(1)}}} does not close the open environment at {i}")
                i += len(env.group(0))
                continue
            if sym == "\\" and stack.count("tabular") == 1 and stack[-1] == "tabular":
                rows.append(cells)  # end of a row of the outer tabular
                cells = 0
            elif sym is not None and sym not in _ESCAPED:
                problems.append(f"unknown escape \\{sym} at {i}")
            i += len(m.group(0))
            continue
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth < 0:
                problems.append(f"unbalanced '}}' at {i}")
                depth = 0
        elif ch == "$":
            math = not math
        elif ch == "&":
            if "tabular" not in stack:
                problems.append(f"'&' outside a tabular at {i}")
            elif stack.count("tabular") == 1 and stack[-1] == "tabular":
                cells += 1
        elif ch in "%#":
            problems.append(f"unescaped {ch!r} at {i}")
        elif ch in "_^" and not math:
            problems.append(f"unescaped {ch!r} outside math at {i}")
        i += 1
    if depth:
        problems.append(f"{depth} unclosed '{{'")
    if math:
        problems.append("unclosed math ($)")
    if stack:
        problems.append(f"unclosed environments {stack}")
    spec = re.search(r"\\begin\{tabular\}\{([^}]*)\}", tex)
    if spec is None:
        return problems + ["no tabular"]
    ncols = len(spec.group(1))
    if len(rows) < 2:
        problems.append(f"{len(rows)} rows: no header and body")
    bad = [k for k, seps in enumerate(rows) if seps != ncols - 1]
    if bad:
        problems.append(f"rows {bad} do not have {ncols} cells")
    for rule in ("toprule", "midrule", "bottomrule"):
        if tex.count(f"\\{rule}") != 1:
            problems.append(f"\\{rule} {tex.count(chr(92) + rule)} times")
    order = [tex.find(f"\\{r}") for r in ("toprule", "midrule", "bottomrule")]
    if order != sorted(order):
        problems.append("booktabs rules out of order")
    return problems


def test_the_latex_checker_catches_what_it_should():
    good = "\\begin{table}\n\\begin{tabular}{lr}\n\\toprule\na & b \\\\\n\\midrule\n$x_0$ & 1\\_2 \\\\\n\\bottomrule\n\\end{tabular}\n\\end{table}\n"
    assert booktabs_problems(good) == []
    for bad in (good.replace("1\\_2", "1_2"), good.replace("a & b", "a & b & c"), good.replace("$x_0$", "{x"),
                good.replace("\\midrule\n", ""), good.replace("\\end{table}", "\\end{tabular}"),
                good.replace("1\\_2", "50%"), good.replace(" \\\\\n", "\n")):
        assert booktabs_problems(bad), bad


@pytest.mark.parametrize("name", TABLES)
def test_latex_is_valid_booktabs(study, name):
    tex = (study / "results/tables" / f"{name}.tex").read_text()
    assert booktabs_problems(tex) == []
    assert r"Wave packet \#1 (10\% noise)" in tex and r"Billiards\_one \& cue" in tex
    n_rows = len(_csv(study, name)) if name != "table5" else len(_csv(study, name).groupby(["experiment", "solver"]))
    body = tex.split("\\midrule", 1)[1].split("\\bottomrule", 1)[0]
    assert body.count("Wave packet") + body.count("Billiards") == n_rows


def test_labels_set_a_hyphen_between_two_names_as_an_en_dash_in_latex_only():
    from invnet.tables.render import label_text

    assert label_text("Kuramoto-Sivashinsky", latex=True) == "Kuramoto--Sivashinsky"
    assert label_text("Fluid (Navier-Stokes)", latex=True) == "Fluid (Navier--Stokes)"
    assert label_text("Kuramoto-Sivashinsky", latex=False) == "Kuramoto-Sivashinsky"
    for kept in ("L-BFGS-B", "BFGS multi-start", "JPO + BFGS"):  # no two names joined
        assert label_text(kept, latex=True) == kept
    assert label_text("Billiards_one & cue", latex=True) == r"Billiards\_one \& cue"
