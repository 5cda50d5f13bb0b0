"""Job start-up: a solve job that trains with a torch.optim optimizer (GD, JPO) runs without loading
TorchDynamo (about 1.6 s of CPU per job otherwise, issue 20) or scipy.optimize (0.4 s; only the
BFGS solvers need it) and writes the same numbers as with them."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from helpers import assert_same_artifacts, run_plan, tiny_wavepacket

CONFIG = tiny_wavepacket({"bfgs": {"maxiter": 20}, "gd": {"lr": 0.01, "steps": 30},
                          "jpo": {"hidden": [8], "steps": 30, "lr_schedule": "cosine"}})

CHILD = """
import json, os, sys
from invnet.jobs import run_job
for job in json.load(sys.stdin):
    os.makedirs(os.path.dirname(job["outputs"]["run"]), exist_ok=True)
    run_job(job["rule"], job["params"], job["inputs"], job["outputs"])
dynamo = sys.modules.get("torch._dynamo")
print(json.dumps({"stand-in": type(dynamo).__name__, "dynamo_modules": sum(m.startswith("torch._dynamo") for m in sys.modules),
                  "scipy.optimize": "scipy.optimize" in sys.modules}))
"""


def test_optimizer_jobs_run_without_torchdynamo_and_write_the_same_runs(tmp_path):
    import torch._dynamo  # noqa: F401  (this process: the real module, as before the change)

    here, child_root = tmp_path / "here", tmp_path / "child"
    plan = run_plan(CONFIG, here)
    jobs = [j.under(child_root) for j in plan.rule_jobs("solve") if j.wildcards["solver"] in ("gd", "jpo")]
    assert len(jobs) == 2
    run_plan(CONFIG, child_root, rules=("generate_data",))
    payload = [{"rule": j.rule, "params": j.params, "inputs": j.inputs, "outputs": j.outputs} for j in jobs]
    child = subprocess.run([sys.executable, "-c", CHILD], input=json.dumps(payload), capture_output=True, text=True,
                           cwd=tmp_path, env={**os.environ, "MPLBACKEND": "Agg"}, timeout=300)
    assert child.returncode == 0, child.stderr[-3000:]
    assert json.loads(child.stdout.strip().splitlines()[-1]) == {
        "stand-in": "_DeferredDynamo", "dynamo_modules": 1, "scipy.optimize": False}
    assert assert_same_artifacts(here, child_root, "runs/**/*.h5") == 2
