"""Could a local run skip the new interpreter per job? What running jobs in the workflow's own process
would save, and whether it is sound, measured on a small wave-packet config.

1. Cost: the CPU of N data and N solve jobs (BFGS and JPO) run each in a fresh interpreter through
   the job entry point (what every Snakemake job pays: Python, torch, the plug-ins) against the same
   jobs run one after another in this process (what Snakemake's ``run:`` rules under
   ``--force-use-threads`` would pay after the first).
2. Soundness: two JPO solves (different seeds) run at the same time in two threads of this process
   (``--force-use-threads`` with ``--cores 2``) against each run alone: torch's default random
   generator, its thread count and Python's logging/stderr are per process, not per job.

    python benchmarks/in_process.py [--jobs 6]

Last line: ``subprocess_cpu_s=<a> in_process_cpu_s=<b> saved_per_job_s=<c> threads_identical=<yes|no>``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import h5py
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

CHILD = """
import json, sys
from invnet.jobs import run_job
job = json.loads(sys.argv[1])
run_job(job["rule"], job["params"], job["inputs"], job["outputs"])
"""


def config(seeds: list[int]) -> dict:
    from helpers import tiny_wavepacket

    cfg = tiny_wavepacket({"bfgs": {"maxiter": 30}, "jpo": {"hidden": [16], "steps": 100}}, threads=1)
    cfg["experiments"]["wavepacket"]["seeds"] = seeds
    return cfg


def children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def arrays(path: str) -> dict[str, bytes]:
    with h5py.File(path, "r") as f:
        return {k: f[k][()].tobytes() for k in f if f[k].dtype.kind in "biufc"}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--jobs", type=int, default=6, help="data jobs (and as many BFGS/JPO solves)")
    args = ap.parse_args(argv)
    from helpers import plan_of

    from invnet.jobs import run_job

    seeds = list(range(args.jobs))
    plan = plan_of(config(seeds))
    exp = plan.experiments["wavepacket"]
    data = [j for j in plan.rule_jobs("generate_data") if int(j.wildcards["n"]) == exp.sizes[0]]
    solves = [j for j in plan.rule_jobs("solve") if int(j.wildcards["n"]) == exp.sizes[0]]
    env = dict(os.environ, PYTHONPATH=str(REPO / "src"), MPLBACKEND="Agg")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        # 1. one interpreter per job
        before = children_cpu()
        for job in [*data, *solves]:
            j = job.under(root / "sub")
            for p in j.output_files:
                Path(p).parent.mkdir(parents=True, exist_ok=True)
            payload = json.dumps({"rule": j.rule, "params": j.params, "inputs": j.inputs, "outputs": j.outputs})
            subprocess.run([sys.executable, "-c", CHILD, payload], env=env, check=True)
        sub_cpu = children_cpu() - before
        # the same jobs here, one after another (imports already paid by the first job)
        run_job(data[0].rule, data[0].params, data[0].under(root / "warm").inputs, data[0].under(root / "warm").outputs)
        t = time.process_time()
        plan.run([*data, *solves], root / "here")
        here_cpu = time.process_time() - t
        same_sequential = all(arrays(j.under(root / "sub").outputs["run"]) == arrays(j.under(root / "here").outputs["run"])
                              for j in solves)
        # 2. two JPO solves at once in two threads of this process
        jpo = [j for j in solves if j.wildcards["solver"] == "jpo"][:2]
        threads = [threading.Thread(target=run_job, args=(j.rule, j.params, j.under(root / "threads").inputs,
                                                          j.under(root / "threads").outputs)) for j in jpo]
        for j in jpo:
            Path(j.under(root / "threads").outputs["run"]).parent.mkdir(parents=True, exist_ok=True)
            for src, dst in zip(j.under(root / "here").inputs["data"], j.under(root / "threads").inputs["data"]):
                Path(dst).parent.mkdir(parents=True, exist_ok=True)
                Path(dst).write_bytes(Path(src).read_bytes())
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        differ = {}
        for j in jpo:
            alone, together = arrays(j.under(root / "here").outputs["run"]), arrays(j.under(root / "threads").outputs["run"])
            differ[j.wildcards["seed"]] = [k for k in alone if alone[k] != together[k]]
    n = len(data) + len(solves)
    print(f"{n} jobs ({len(data)} data, {len(solves)} solves: BFGS and JPO on n = {exp.sizes[0]}):")
    print(f"  one interpreter per job: {sub_cpu:.1f} s CPU; one after another in one process: {here_cpu:.1f} s CPU "
          f"({(sub_cpu - here_cpu) / n:.2f} s per job saved); same runs: {'yes' if same_sequential else 'NO'}")
    for seed, keys in differ.items():
        print(f"  JPO seed {seed}, run in a thread beside another: "
              + ("identical to its run alone" if not keys else f"differs from its run alone in {', '.join(keys)}"))
    identical = not any(differ.values())
    print(f"subprocess_cpu_s={sub_cpu:.1f} in_process_cpu_s={here_cpu:.1f} saved_per_job_s={(sub_cpu - here_cpu) / n:.2f} "
          f"threads_identical={'yes' if identical else 'no'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
