"""What a job imports: the jobs that only aggregate, plot or tabulate load neither torch nor the
problem families (about 2 s of CPU per job otherwise, issue 20), and they write the same files
as when they did. Compute jobs (data, solve, solve_test, figure panels) run here in-process; the others run
in a fresh interpreter that starts from the job entry point alone, as a Snakemake job does."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from helpers import run_plan, tiny_wavepacket

CONFIG = {**tiny_wavepacket({"bfgs": {"maxiter": 20},
                             "bfgs_multistart": {"maxiter": 20, "starts": 3, "budget": [1, 3]},
                             "jpo": {"hidden": [8], "steps": 20, "checkpoints": [10]}}),
          "sweeps": {"length": {"experiment": "wavepacket", "over": "steps", "values": [10, 20]}}}
# (a sweep of a family parameter loads torch: it counts the landscape's local minima)
LIGHT = ("aggregate", "plot_experiment_figure", "plot_combined_figure", "make_table", "sweep")

CHILD = """
import json, os, sys
from invnet.jobs import run_job
for job in json.load(sys.stdin):
    for path in job["outputs"].values():
        os.makedirs(os.path.dirname(path), exist_ok=True)
    run_job(job["rule"], job["params"], job["inputs"], job["outputs"])
print(json.dumps({m: m in sys.modules for m in ("torch", "invnet.problems", "invnet.solvers")}))
"""


def _light_jobs(plan, root):
    jobs = [j.under(root) for j in plan.ordered(plan.jobs) if j.rule in LIGHT]
    return [{"rule": j.rule, "params": j.params, "inputs": {k: list(v) for k, v in j.inputs.items()},
             "outputs": dict(j.outputs)} for j in jobs]


def test_aggregate_plot_and_table_jobs_import_no_torch(tmp_path):
    plan = run_plan(CONFIG, tmp_path, rules=("generate_data", "solve", "solve_test", "figure_panels", *LIGHT))
    jobs = _light_jobs(plan, tmp_path)
    assert {"aggregate", "plot_experiment_figure", "make_table", "sweep"} <= {j["rule"] for j in jobs}
    # what the same jobs wrote in this process, torch loaded (PDFs carry a creation date: not compared)
    written = [Path(p) for j in jobs for p in j["outputs"].values() if not p.endswith(".pdf")]
    before = {p: p.read_bytes() for p in written}
    for p in written:
        p.unlink()
    child = subprocess.run([sys.executable, "-c", CHILD], input=json.dumps(jobs), capture_output=True, text=True,
                           cwd=tmp_path, env={**os.environ, "MPLBACKEND": "Agg"}, timeout=300)
    assert child.returncode == 0, child.stderr[-3000:]
    assert json.loads(child.stdout.strip().splitlines()[-1]) == {
        "torch": False, "invnet.problems": False, "invnet.solvers": False}
    assert len(before) > 10 and all(p.read_bytes() == data for p, data in before.items())
