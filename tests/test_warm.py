"""The warm interpreter (invnet.warm): jobs forked from it write the artifacts a fresh interpreter
writes, bit for bit; a failing job gives status 1 and its traceback in its log; a job whose
Snakemake process is stopped or killed stops too; a server belongs to one code version and
environment."""

from __future__ import annotations

import json
import os
import pickle
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import REPO, assert_same_artifacts, plan_of, run_plan, tiny_wavepacket

from invnet import warm

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the warm interpreter is Linux-only")

CONFIG = tiny_wavepacket({"bfgs": {"maxiter": 20}, "gd": {"lr": 0.01, "steps": 30},
                          "jpo": {"hidden": [8], "steps": 30, "lr_schedule": "cosine"}})

# A Snakemake job process as job.py makes it, for a list of jobs: each handed to the warm server
# (started by the first attempt, which then retries until the server answers). Prints the statuses.
CLIENT = """
import json, pickle, sys, time
from invnet import warm
statuses = []
for job in pickle.load(open(sys.argv[1], "rb")):
    code, t0 = warm.run_in_warm_interpreter(job), time.monotonic()
    while code is None and time.monotonic() - t0 < 120:
        time.sleep(0.2)
        code = warm.run_in_warm_interpreter(job)
    statuses.append(code)
print(json.dumps(statuses))
"""


def client_env(tmp_path: Path) -> dict[str, str]:
    # Its own server (TEST_NAME is part of the environment a server is keyed by) and a short idle
    # time: the test's server ends soon after the test.
    return {**os.environ, "PYTHONPATH": str(REPO / "src"), "MPLBACKEND": "Agg", "INVNET_WARM_IDLE_S": "5",
            "INVNET_WARM": "1", "TEST_NAME": tmp_path.name}


def job_dicts(jobs, root: Path) -> list[dict]:
    out = []
    for job in jobs:
        j = job.under(root)
        for path in [*j.outputs.values(), str(root / job.log)]:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        out.append({"rule": j.rule, "params": j.params, "inputs": j.inputs, "outputs": j.outputs,
                    "log": str(root / job.log), "threads": j.threads})
    return out


def run_clients(jobs: list[dict], tmp_path: Path, name: str) -> list[int]:
    payload = tmp_path / f"{name}.pkl"
    payload.write_bytes(pickle.dumps(jobs))
    run = subprocess.run([sys.executable, "-c", CLIENT, str(payload)], env=client_env(tmp_path), cwd=tmp_path,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    return json.loads(run.stdout.strip().splitlines()[-1])


def test_jobs_forked_from_the_warm_interpreter_write_the_same_artifacts(tmp_path):
    here, warm_root = tmp_path / "here", tmp_path / "warm"
    plan = run_plan(CONFIG, here)  # a fresh run of every job in this process
    data = job_dicts([j for j in plan.jobs if j.rule == "generate_data"], warm_root)
    solves = job_dicts([j for j in plan.jobs if j.rule in ("solve", "solve_test")], warm_root)
    assert run_clients(data, tmp_path, "data") == [0]
    assert run_clients(solves, tmp_path, "solves") == [0] * len(solves) and len(solves) >= 4
    logs = [Path(j["log"]).read_text() for j in data + solves]
    # Every solve ran in a forked process (the data job may have started the server and run itself)
    assert all("warm=1" in text and "forked from the warm interpreter" in text for text in logs[1:])
    assert assert_same_artifacts(here, warm_root, "**/*.h5") == 1 + len(solves)


def test_a_failing_job_reports_status_1_and_its_traceback(tmp_path):
    plan = plan_of(CONFIG)
    (job,) = job_dicts([j for j in plan.jobs if j.rule == "solve" and j.wildcards["solver"] == "bfgs"], tmp_path)
    job["inputs"] = {**job["inputs"], "data": [str(tmp_path / "no-such-data.h5")]}
    ok = job_dicts([j for j in plan.jobs if j.rule == "generate_data"], tmp_path / "ok")
    assert run_clients([*ok, job], tmp_path, "fail") == [0, 1]
    text = Path(job["log"]).read_text()
    assert "forked from the warm interpreter" in text and "Traceback" in text and "no-such-data.h5" in text
    assert not Path(job["outputs"]["run"]).exists()


def start_long_job(tmp_path: Path) -> tuple[subprocess.Popen, dict, int]:
    """A client running a long GD solve in a forked child; (client, job, child pid)."""
    config = tiny_wavepacket({"bfgs": {}, "gd": {"lr": 0.001, "steps": 10**7}})
    plan = plan_of(config)
    (data,) = job_dicts([j for j in plan.jobs if j.rule == "generate_data"], tmp_path)
    assert run_clients([data], tmp_path, "data") == [0]  # also starts the server
    (job,) = job_dicts([j for j in plan.jobs if j.rule == "solve" and j.wildcards["solver"] == "gd"], tmp_path)
    job["inputs"] = {"data": [data["outputs"]["data"]]}
    payload = tmp_path / "long.pkl"
    payload.write_bytes(pickle.dumps([job]))
    client = subprocess.Popen([sys.executable, "-c", CLIENT, str(payload)], env=client_env(tmp_path), cwd=tmp_path,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    log, t0 = Path(job["log"]), time.monotonic()
    while time.monotonic() - t0 < 120:
        text = log.read_text() if log.exists() else ""
        if "settings" in text and "forked from the warm interpreter" in text:
            pid = int(text.split("running in pid ")[1].split(",")[0])
            return client, job, pid
        time.sleep(0.2)
    client.kill()
    raise AssertionError(f"the long job did not start in a forked process: {log.read_text() if log.exists() else ''}")


def gone(pid: int, within_s: float = 20) -> bool:
    t0 = time.monotonic()
    while time.monotonic() - t0 < within_s:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.1)
    return False


@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGKILL])
def test_a_job_stops_with_its_snakemake_process(tmp_path, how):
    """SIGTERM (Snakemake cancelling a job) is forwarded; SIGKILL cannot be, and the child notices
    its client is gone. Either way nothing is written."""
    client, job, pid = start_long_job(tmp_path)
    client.send_signal(how)
    out, _ = client.communicate(timeout=60)
    if how == signal.SIGKILL:
        assert client.returncode == -signal.SIGKILL
    else:  # the job's status (the job process exits with it: invnet.jobs.run_snakemake_job)
        assert client.returncode == 0 and json.loads(out.strip().splitlines()[-1]) == [1]
    assert gone(pid), f"job process {pid} still runs after its client got {how.name}"
    assert not Path(job["outputs"]["run"]).exists()


def test_a_server_serves_one_code_version_and_environment(tmp_path):
    key = warm.server_key(os.environ)
    assert warm.server_key(dict(os.environ)) == key
    assert warm.server_key({**os.environ, "OMP_NUM_THREADS": "3"}) != key
    assert warm.server_key({**os.environ, "OLDPWD": "/elsewhere"}) == key  # shells change it between jobs
    module = Path(warm.PACKAGE_DIR) / "errors.py"
    stat = module.stat()
    try:
        os.utime(module, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
        assert warm.server_key(os.environ) != key  # an edited module: a new server
    finally:
        os.utime(module, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert warm.server_key(os.environ) == key


def test_warm_jobs_are_off_in_slurm_jobs_and_when_turned_off(monkeypatch):
    monkeypatch.delenv("SLURM_JOB_ID", raising=False)
    monkeypatch.setenv("INVNET_WARM", "1")
    assert warm.enabled()
    monkeypatch.setenv("SLURM_JOB_ID", "42")
    assert not warm.enabled()
    monkeypatch.delenv("SLURM_JOB_ID")
    monkeypatch.setenv("INVNET_WARM", "0")
    assert not warm.enabled()


# A server whose jobs only sleep (invnet.jobs.run_logged_job replaced before it forks them), and a
# client that hands it a job as long as most of the idle time, then one more a second after the
# first ended: the idle time counts from the last job's end, not from when the server last took one.
SLEEPING_SERVER = """
import sys, time
from pathlib import Path
from invnet import jobs, warm
def sleeping_job(job, warm=False):
    time.sleep(job["sleep_s"])
    return 0
jobs.run_logged_job = sleeping_job
warm.serve("test", Path(sys.argv[1]), idle_s=float(sys.argv[2]))
"""
SLEEPING_CLIENT = """
import json, sys, time
from pathlib import Path
from invnet import warm
path = Path(sys.argv[1])
warm.server_key = lambda env=None: "test"
warm.socket_path = lambda key: path
warm._start_server = lambda key, p: None
t0 = time.monotonic()
while not path.exists() and time.monotonic() - t0 < 120:
    time.sleep(0.05)
first = warm.run_in_warm_interpreter({"sleep_s": 1.5})
time.sleep(1.0)
second = warm.run_in_warm_interpreter({"sleep_s": 0.0})
print(json.dumps([first, second]))
"""


def test_idle_time_counts_from_the_last_job_end(tmp_path):
    sock = tmp_path / "s.sock"
    assert len(str(sock)) < 100
    env = {**os.environ, "PYTHONPATH": str(REPO / "src"), "MPLBACKEND": "Agg"}
    server = subprocess.Popen([sys.executable, "-c", SLEEPING_SERVER, str(sock), "2.0"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        client = subprocess.run([sys.executable, "-c", SLEEPING_CLIENT, str(sock)], env=env, capture_output=True,
                                text=True, timeout=180)
        assert client.returncode == 0, client.stderr[-3000:]
        # 2.5 s after it took the first job, 1 s after that job ended: the server is still there
        assert json.loads(client.stdout.strip().splitlines()[-1]) == [0, 0]
        t0 = time.monotonic()
        assert server.wait(timeout=30) == 0, server.stderr.read()[-3000:]
        assert time.monotonic() - t0 < 10  # and it does end, about 2 s after its last job
        assert not sock.exists() and not Path(f"{sock}.lock").exists()
    finally:
        if server.poll() is None:
            server.kill()
