"""`invnet status`: a tiny run made in-process, then each state produced by hand and detected:
an edited fingerprint or setting (stale), a deleted run (missing, and the refinement that starts
from it stale), a corrupted byte (damaged), a failed problem (done with k failed), a changed
problem set (stale runs); and the remaining-time arithmetic from benchmark files written here."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import h5py
import pytest
import yaml

from helpers import plan_of, run_plan, set_key, tiny_wavepacket
from invnet.status import compute, main, read_benchmark, render, status_rows

CONFIG = tiny_wavepacket({"bfgs": {"maxiter": 20}, "jpo": {"hidden": [8], "steps": 10}, "jpo_bfgs": {"maxiter": 20}})
CONFIG["experiments"]["wavepacket"]["seeds"] = [0, 1]


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    root = tmp_path_factory.mktemp("status")
    run_plan(CONFIG, root)
    return root


@pytest.fixture
def root(made, tmp_path):
    """A fresh copy of the tiny run for each test (tests edit it)."""
    shutil.copytree(made / "results", tmp_path / "results")
    return tmp_path


def states(rows) -> dict[tuple[str, str, int], str]:
    return {(r.kind, r.solver, r.seed): r.label for r in rows}


def run_path(root: Path, solver: str, seed: int) -> Path:
    return root / f"results/runs/wavepacket/{solver}/n8/seed{seed}.h5"


def test_a_finished_run_is_all_done(root):
    status = compute(plan_of(CONFIG), root, cores=2)
    assert len(status.rows) == 2 + 6  # two problem sets, three solvers on each
    assert {r.label for r in status.rows} == {"done"}
    assert status.totals() == {"done": 8, "missing": 0, "stale": 0, "damaged": 0, "done_with_failed_problems": 0}
    # what is left: the aggregate, figure and table jobs (never run here), no data or solve job
    assert status.estimate.seconds == 0 and status.estimate.jobs == sum(status.estimate.unknown.values()) > 0
    assert "runs: 6: 6 done" in render(status)


def test_edited_code_makes_exactly_the_plans_changed_runs_stale(root, monkeypatch):
    """An edit of the BFGS module (simulated in the fingerprint): the stale runs are the solve
    jobs whose params the edit changes in the plan, nothing else."""
    from invnet import fingerprint

    before = plan_of(CONFIG)
    target = (fingerprint.ROOT / "solvers/bfgs.py").resolve()
    code = fingerprint._code
    monkeypatch.setattr(fingerprint, "_code", lambda p: code(p) + ("#edited" if p == target else ""))
    after = plan_of(CONFIG)
    changed = {(j.wildcards["solver"], int(j.wildcards["seed"])) for j in after.rule_jobs("solve")
               if j.params != before.job(j.rule, j.wildcards).params}
    assert changed  # the edit matters to some runs
    rows = status_rows(after, root)
    stale = {(r.solver, r.seed) for r in rows if r.state == "stale"}
    assert stale == changed
    assert all(r.detail.startswith("code changed (fingerprint") for r in rows if r.state == "stale")


def test_a_recorded_fingerprint_edited_in_the_artifact_is_stale(root):
    path = run_path(root, "jpo", 1)
    with h5py.File(path, "r+") as f:
        prov = json.loads(f.attrs["provenance"])
        prov["code_fingerprint"] = "0123456789abcdef"
        f.attrs["provenance"] = json.dumps(prov)
    got = states(status_rows(plan_of(CONFIG), root))
    assert got[("run", "jpo", 1)] == "stale"
    assert got[("run", "jpo_bfgs", 1)] == "stale"  # it starts from the stale run
    assert got[("run", "jpo", 0)] == got[("run", "bfgs", 1)] == "done"


def test_a_changed_setting_is_stale_and_named(root):
    config = set_key(CONFIG, "experiments.wavepacket.solvers.jpo_bfgs.maxiter", 30)
    rows = status_rows(plan_of(config), root)
    stale = [r for r in rows if r.state == "stale"]
    assert {(r.solver, r.seed) for r in stale} == {("jpo_bfgs", 0), ("jpo_bfgs", 1)}
    assert stale[0].detail == "config.solver.maxiter: 20 -> 30"


def test_deleted_run_is_missing_and_its_refinement_stale(root):
    run_path(root, "jpo", 0).unlink()
    got = states(status_rows(plan_of(CONFIG), root))
    assert got[("run", "jpo", 0)] == "missing"
    assert got[("run", "jpo_bfgs", 0)] == "stale"
    assert sum(v == "done" for v in got.values()) == 6


def test_a_corrupted_byte_is_damaged(root):
    path = run_path(root, "bfgs", 1)
    data = bytearray(path.read_bytes())
    data[0] ^= 0xFF  # the HDF5 signature
    path.write_bytes(bytes(data))
    rows = status_rows(plan_of(CONFIG), root)
    damaged = [r for r in rows if r.state == "damaged"]
    assert [(r.solver, r.seed) for r in damaged] == [("bfgs", 1)]
    assert "results/runs/wavepacket/bfgs/n8/seed1.h5" in damaged[0].detail


def test_failed_problems_are_counted(root):
    with h5py.File(run_path(root, "bfgs", 0), "r+") as f:
        status = f["problem_status"][()]
        status[[1, 5]] = [1, 3]
        f["problem_status"][...] = status
    status = compute(plan_of(CONFIG), root)
    row = next(r for r in status.rows if r.solver == "bfgs" and r.seed == 0)
    assert (row.state, row.failed, row.label) == ("done", 2, "done, 2 of 8 failed")
    assert status.totals()["done_with_failed_problems"] == 1
    assert "(1 of them with failed problems)" in render(status)


def test_a_changed_problem_set_makes_its_runs_stale(root):
    with h5py.File(root / "results/data/wavepacket/n8/seed1.h5", "r+") as f:
        f["y_target"][0, 0] += 1.0
    rows = status_rows(plan_of(CONFIG), root)
    assert {(r.solver, r.seed) for r in rows if r.state == "stale"} == {("bfgs", 1), ("jpo", 1), ("jpo_bfgs", 1)}
    assert all("another problem set" in r.detail or "starts from" in r.detail for r in rows if r.state == "stale")


def _benchmark(root: Path, solver: str, seed: int, seconds: float) -> None:
    path = root / f"results/benchmarks/solve/wavepacket/{solver}/n8/seed{seed}.tsv"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("s\th:m:s\tmax_rss\tcpu_time\n" f"{seconds}\t0:00:{int(seconds):02d}\t300.0\t{seconds / 2}\n")


def test_remaining_time_from_benchmarks_then_other_seeds_then_resources(root):
    run_path(root, "bfgs", 0).unlink()
    plan = plan_of(CONFIG)
    _benchmark(root, "bfgs", 0, 12.5)
    _benchmark(root, "bfgs", 1, 20.0)
    assert read_benchmark(root / "results/benchmarks/solve/wavepacket/bfgs/n8/seed0.tsv") == 12.5
    e = compute(plan, root, cores=2).estimate
    # the run's own benchmark; the aggregate/figure/table jobs after it have none (counted apart)
    assert (e.seconds, e.from_benchmarks, e.from_resources, e.wall_seconds) == (12.5, 1, 0, 6.25)
    assert e.unknown.get("solve", 0) == 0 and sum(e.unknown.values()) == e.jobs - 1

    (root / "results/benchmarks/solve/wavepacket/bfgs/n8/seed0.tsv").unlink()
    assert compute(plan, root).estimate.seconds == 20.0  # the other seed's

    (root / "results/benchmarks/solve/wavepacket/bfgs/n8/seed1.tsv").unlink()
    measured = {"solve": {"wavepacket": {"bfgs": {8: {"s": 7.0, "max_rss_mb": 100, "runs": 1}}}}}
    e = compute(plan_of(CONFIG, measured), root).estimate
    assert (e.seconds, e.from_resources) == (7.0, 1)  # workflow/resources.yaml's measurement


def test_command_line_json_and_markdown(root, tmp_path, capsys):
    configfile = tmp_path / "tiny.yaml"
    configfile.write_text(yaml.safe_dump(CONFIG))
    run_path(root, "jpo", 1).unlink()
    assert main(["--configfile", str(configfile), "--root", str(root), "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["totals"]["missing"] == 1 and out["totals"]["stale"] == 1 and out["totals"]["done"] == 6
    assert {r["label"] for r in out["rows"] if r["solver"] == "jpo" and r["seed"] == 1} == {"missing"}
    assert main(["--configfile", str(configfile), "--root", str(root), "--format", "md"]) == 0
    md = capsys.readouterr().out
    assert md.startswith("| kind ") and "| run    | wavepacket   | jpo " in md
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(set_key(CONFIG, "experiments.wavepacket.solvers.bfsg", {})))
    assert main(["--configfile", str(bad), "--root", str(root)]) == 2
    assert "experiments.wavepacket.solvers.bfsg: unknown key" in capsys.readouterr().err
