"""The one entry point of every job: run the job its params describe, reading only its inputs
and writing only its outputs (atomically). Snakemake runs ``workflow/scripts/job.py``: as a rule's
shell command (:mod:`invnet.job_command`) or as its script (:func:`run_snakemake_job`), and both end
in :func:`run_logged_job` (here or forked from the warm interpreter, :mod:`invnet.warm`); tests and tools call :func:`run_job` in-process
with a :class:`invnet.plan.Job`'s rule, params, inputs and outputs.

Nothing here re-reads the config: the plan put into a job's params everything that defines it.
Heavy imports (torch, the plug-in modules) happen inside the runner of the job's rule, so a job
imports only what it computes with.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

log = logging.getLogger("invnet")

Inputs = Mapping[str, list[str]]
Outputs = Mapping[str, str]


# ----------------------------------------------------------------------------- entry points


def run_job(rule: str, params: Mapping[str, Any], inputs: Inputs, outputs: Outputs, threads_granted: int | None = None) -> None:
    """Run one job of ``rule`` (see :data:`RUNNERS`)."""
    if params.get("plugins"):
        from .plugins import load_plugins

        load_plugins(list(params["plugins"]))
    RUNNERS[rule](params, inputs, outputs, threads_granted)


def run_snakemake_job(smk: Any) -> None:
    """Run the job of a Snakemake ``script:`` (the ``snakemake`` object) and end the process with
    its exit status: in a process forked from this machine's warm interpreter where one runs
    (:mod:`invnet.warm`), else here (:func:`invnet.job_command.run`)."""
    from .job_command import run

    run({
        "rule": smk.rule, "params": smk.params.job, "log": smk.log[0], "threads": smk.threads,
        "inputs": {name: [str(p) for p in ([value] if isinstance(value, str) else value)]
                   for name, value in smk.input.items()},
        "outputs": {name: str(value) for name, value in smk.output.items()},
    })


def run_logged_job(job: Mapping[str, Any], warm: bool = False) -> int:
    """Run ``job`` with Python logging, warnings and stderr in its log file, which ends with the
    process's own CPU; the exit status (a failure's traceback goes to the log)."""
    os.environ.setdefault("HDF5_USE_FILE_LOCKING", "FALSE")  # before h5py is imported (NFS/Lustre)
    from .allocator import keep_freed_memory

    keep_freed_memory()  # freed tensors' pages are reused, not faulted in again at every step
    handle = open(job["log"], "w", buffering=1, encoding="utf-8")
    sys.stderr = handle
    logging.basicConfig(level=logging.INFO, stream=handle, format="%(asctime)s %(levelname)s %(name)s: %(message)s",
                        force=True)
    logging.captureWarnings(True)
    if warm:
        log.info("running in pid %d, forked from the warm interpreter (invnet.warm) of key %s", os.getpid(),
                 job.get("server"))
    else:
        from .warm import STARTED

        if STARTED:  # a child of this process while it runs: Snakemake's benchmark of this job counts it
            log.info("started the warm interpreter (pid %d) for the jobs after this one", STARTED[0])
    try:
        run_job(job["rule"], job["params"], job["inputs"], job["outputs"], threads_granted=job["threads"])
    except BaseException:  # noqa: BLE001 - reported as a fresh interpreter would: traceback, status 1
        import traceback

        traceback.print_exc(file=handle)
        code = 1
    else:
        log.info("%s", cpu_line(warm))
        code = 0
    logging.shutdown()
    handle.flush()
    return code


def cpu_line(warm: bool = False) -> str:
    """The job process's own CPU from start to here, exact (Snakemake's benchmark samples it and
    keeps its last sample: short by up to 30 s on long jobs), and ``warm=1`` for a process forked
    from the warm interpreter (its CPU since the fork); :func:`read_cpu_line` reads it back."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    return (f"job_cpu_s={usage.ru_utime + usage.ru_stime:.3f} user_s={usage.ru_utime:.3f} "
            f"sys_s={usage.ru_stime:.3f} max_rss_mb={usage.ru_maxrss / 1024:.0f}" + (" warm=1" if warm else ""))


def read_cpu_line(log: str | os.PathLike) -> dict[str, float] | None:
    """The fields of the :func:`cpu_line` a job's log ends with (``job_cpu_s``, ``user_s``,
    ``sys_s``, ``max_rss_mb`` and ``warm``, 1 or 0), or None where it has none (an unfinished job,
    a version before the line)."""
    try:
        lines = Path(log).read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return None
    for line in reversed(lines[-5:]):
        fields = line.split()
        if any(f.startswith("job_cpu_s=") for f in fields):
            found = dict(f.split("=", 1) for f in fields if "=" in f and f.split("=", 1)[0].endswith(("_s", "_mb")))
            return {k: float(v) for k, v in found.items()} | {"warm": float("warm=1" in fields)}
    return None


# ----------------------------------------------------------------------------- data and solve


def _family(params: Mapping[str, Any]):
    from .problems import make_family

    return make_family(params["family"], params["problem"], params["experiment"])


def generate_data(params: Mapping[str, Any], inputs: Inputs, outputs: Outputs, threads_granted: int | None = None) -> None:
    """Sample the training set (n problems) and the held-out test set of (experiment, seed)."""
    from .artifacts import provenance, write_h5
    from .seeding import numpy_rng

    experiment, n, seed, n_test = params["experiment"], int(params["n"]), int(params["seed"]), int(params["n_test"])
    family = _family(params)
    draws = params.get("draws") or experiment  # a sweep point draws its base experiment's problems
    train = family.sample(n, numpy_rng(seed, f"{draws}/train/n{n}"))
    datasets = train.arrays()
    if n_test:
        datasets.update(family.sample(n_test, numpy_rng(seed, f"{draws}/test")).arrays("test_"))
    out = outputs["data"]
    write_h5(out, datasets, {
        "kind": "data", "experiment": experiment, "n": n, "seed": seed, "n_test": n_test,
        "problem": family.describe(),
        "provenance": provenance(seed=seed, n=n, experiment=experiment, code_fingerprint=params["code"]),
    })
    log.info("wrote %s: %d training and %d test problems", out, n, n_test)


def load_problem(params: Mapping[str, Any], data: str | os.PathLike):
    """Family and (train, test) sets from a data artifact, checked to be the problem set the
    job's params name (experiment, n, seed, problem parameters)."""
    from .artifacts import read_h5
    from .errors import ArtifactError
    from .problems import ProblemSet

    family = _family(params)
    experiment, n, seed = params["experiment"], int(params["n"]), int(params["seed"])
    arrays, attrs = read_h5(data, "data", {"experiment": experiment, "n": n, "seed": seed})
    if attrs.get("problem") != family.describe():
        raise ArtifactError(
            f"{data} was generated with other problem parameters than experiments.{experiment}.problem "
            "now has; regenerate it (snakemake reruns it when the config changed)"
        )
    train = ProblemSet(arrays["y_target"], arrays["x_true"], arrays.get("gamma"))
    test = None
    if "test_y_target" in arrays:
        test = ProblemSet(arrays["test_y_target"], arrays["test_x_true"], arrays.get("test_gamma"))
    return family, train, test


def run_config(params: Mapping[str, Any], problem: Mapping[str, Any]) -> dict[str, Any]:
    """The ``config`` attribute of a run artifact: the slice of a solve job's params that
    determined the run (``problem``: the family's description). ``invnet.status`` compares a
    recorded one with the plan's."""
    return {
        "experiment": params["experiment"], "problem": dict(problem), "solver": params["settings"],
        "n": int(params["n"]), "n_test": int(params["n_test"]), "dtype": params["dtype"],
        "threads": int(params["threads"]), "device": params["device"], "history_points": int(params["history_points"]),
    }


def solve(params: Mapping[str, Any], inputs: Inputs, outputs: Outputs, threads_granted: int | None = None) -> None:
    """Run one solver on one problem set and write its run artifact.

    It computes with ``params["threads"]`` torch (and BLAS) threads: network training sums in
    a thread-dependent order, so the thread count is part of what a run depends on (a param,
    recorded in the artifact). ``threads_granted`` (the cores the scheduler gave the job) is
    only recorded; a grant below ``threads`` is logged as a warning.
    """
    import numpy as np

    from .artifacts import STATUS_NAMES, STATUS_OK, file_sha256, provenance, read_h5, write_h5
    from .devices import device_name, resolve_device

    experiment, solver, n, seed = params["experiment"], params["solver"], int(params["n"]), int(params["seed"])
    data = inputs["data"][0]
    family, train, test = load_problem(params, data)
    init = inputs.get("init", [None])[0]
    x_init = None
    if params.get("start_from") is not None:
        if init is None:
            from .errors import ArtifactError

            raise ArtifactError(f"solver '{solver}' starts from '{params['start_from']}' and needs its run artifact")
        init_arrays, _ = read_h5(init, "run", {"experiment": experiment, "solver": params["start_from"], "n": n,
                                                "seed": seed})
        x_init = init_arrays["x"]
    shared_file = inputs.get("shared", [None])[0]
    shared, fit = None, None
    if shared_file is not None:
        shared, fit = load_shared(params, family, shared_file)
    threads = int(params["threads"])
    if threads_granted is not None and threads_granted < threads:
        log.warning(
            "%s/%s n=%d seed=%d: granted %d core(s) but computing with threads=%d (config), so that "
            "the results do not depend on the grant", experiment, solver, n, seed, threads_granted, threads,
        )
    device = resolve_device(params["device"])
    log.info("%s/%s n=%d seed=%d on %s: settings %s", experiment, solver, n, seed, device, params["settings"])
    t0, cpu0 = time.perf_counter(), time.process_time()
    result = solve_problem_set(params, family, train, test, x_init, device, shared=shared)
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    log.info("%s/%s n=%d seed=%d: done in %.2f s (%.2f s CPU; %.2f s CPU before), mean loss %.4e, median %.4e",
             experiment, solver, n, seed, wall, cpu, cpu0, float(np.mean(result.loss)), float(np.median(result.loss)))
    timing: dict[str, Any] = {"wall_time_s": wall}
    if fit is not None:  # the run is charged the whole shared fit: its time is part of the run's
        timing = {"wall_time_s": wall + fit["wall_time_s"],
                  "shared": {**fit, "run_wall_time_s": wall, "run_cpu_time_s": cpu}}
        log.info("%s/%s n=%d seed=%d: %.2f s with the shared part's %.2f s (%.2f s CPU) from %s", experiment, solver,
                 n, seed, timing["wall_time_s"], fit["wall_time_s"], fit["cpu_time_s"], shared_file)
    status = result.problem_status
    failed = {name: int((status == k).sum()) for k, name in STATUS_NAMES.items() if k != STATUS_OK}
    if sum(failed.values()):
        log.warning("%s/%s n=%d seed=%d: %d of %d problems failed (%s); they count in no comparison", experiment,
                    solver, n, seed, sum(failed.values()), train.n, ", ".join(f"{v} {k}" for k, v in failed.items() if v))
    datasets = {
        "x": result.x, "problem_status": status, "solve_status": result.status, "loss": result.loss,
        "iterations": result.iterations,
        "evaluations": result.evaluations, "loss_history": result.loss_history, "history_step": result.history_step,
        **result.extras,
    }
    write_h5(outputs["run"], datasets, {
        "kind": "run", "experiment": experiment, "solver": solver, "n": n, "seed": seed,
        "config": run_config(params, family.describe()),
        "provenance": provenance(
            seed=seed, n=n, experiment=experiment, solver=solver, **timing, data_file=str(data),
            data_sha256=file_sha256(data), init_file=None if init is None else str(init), info=result.info,
            device=device_name(device), threads=threads, threads_granted=threads_granted,
            code_fingerprint=params["code"],
        ),
    })


def shared_config(params: Mapping[str, Any], problem: Mapping[str, Any]) -> dict[str, Any]:
    """The ``config`` attribute of a solver's per-seed part shared across n (fit_surrogate): the
    slice of the job's params that determined it; every n's solve job checks it against its own."""
    return {
        "experiment": params["experiment"], "problem": dict(problem), "solver": params["settings"],
        "dtype": params["dtype"], "threads": int(params["threads"]), "device": params["device"],
    }


def fit_surrogate(params: Mapping[str, Any], inputs: Inputs, outputs: Outputs, threads_granted: int | None = None) -> None:
    """Make the per-seed part of a solver that shares one across n (``Solver.prepare_shared``:
    the neural adjoint's surrogate of a family without identifiers) once for every n's solve job
    of the seed, computing as a solve job computes (threads, determinism, seed, dtype, device);
    its artifact records the wall and CPU time it took, which each of those runs is charged."""
    import numpy as np

    from .artifacts import provenance, write_h5
    from .devices import DTYPES, device_name, resolve_device
    from .solvers import build_solver

    experiment, solver, seed = params["experiment"], params["solver"], int(params["seed"])
    family = _family(params)
    device = resolve_device(params["device"])
    log.info("%s/%s seed=%d on %s: the part shared by every n; settings %s", experiment, solver, seed, device,
             params["settings"])
    t0, cpu0 = time.perf_counter(), time.process_time()
    with computing(params):
        arrays = build_solver(solver, params["settings"]).prepare_shared(family, seed, DTYPES[params["dtype"]], device)
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    log.info("%s/%s seed=%d: done in %.2f s (%.2f s CPU), %d arrays", experiment, solver, seed, wall, cpu, len(arrays))
    write_h5(outputs["surrogate"], {k: np.asarray(v, dtype=np.float64) for k, v in arrays.items()}, {
        "kind": "surrogate", "experiment": experiment, "solver": solver, "seed": seed,
        "config": shared_config(params, family.describe()),
        "provenance": provenance(
            seed=seed, experiment=experiment, solver=solver, wall_time_s=wall, cpu_time_s=cpu,
            device=device_name(device), threads=int(params["threads"]), threads_granted=threads_granted,
            code_fingerprint=params["code"],
        ),
    })


def load_shared(params: Mapping[str, Any], family, path: str | os.PathLike):
    """(arrays, fit) of the shared per-seed part ``path`` a solve job reads: its arrays, checked
    to be this run's solver, seed, settings, problem, dtype, threads, device and code, and
    ``fit``: its file, sha256, wall and CPU seconds (what the run is charged for it)."""
    from .artifacts import file_sha256, read_h5
    from .errors import ArtifactError

    expect = {"experiment": params["experiment"], "solver": params["solver"], "seed": int(params["seed"])}
    arrays, attrs = read_h5(path, "surrogate", expect)
    prov = attrs["provenance"] if isinstance(attrs["provenance"], dict) else {}
    if attrs["config"] != shared_config(params, family.describe()) or prov.get("code_fingerprint") != params["code"]:
        raise ArtifactError(f"{path} was made with other settings or code than this run's; delete it and rerun "
                            "(snakemake reruns it when the config or the code changed)")
    fit = {"file": str(path), "sha256": file_sha256(path), "wall_time_s": float(prov["wall_time_s"]),
           "cpu_time_s": float(prov["cpu_time_s"])}
    return arrays, fit


def solve_test(params: Mapping[str, Any], inputs: Inputs, outputs: Outputs, threads_granted: int | None = None) -> None:
    """Run one per-problem solver on a seed's held-out test set (invnet.test_runs)."""
    from .test_runs import solve_test_set

    solve_test_set(params, inputs, outputs, threads_granted)


def solve_problem_set(params: Mapping[str, Any], family, train, test=None, init=None, device=None, progress=None,
                      shared=None):
    """The computation of a solve job, also the tuning sweep's (invnet.tuning): the solver
    ``params["solver"]`` with ``params["settings"]`` on ``train``, with ``params["threads"]``
    threads, deterministic algorithms, the run's seed, dtype and device, through the one
    solver driver (:func:`invnet.solvers.solve`); ``shared``: the solver's per-seed part made
    once for every n (:func:`fit_surrogate`), else None."""
    from .devices import DTYPES, resolve_device
    from .solvers import SolveProblem, build_solver, solve

    device = resolve_device(params["device"]) if device is None else device
    with computing(params):
        problem = SolveProblem(
            family=family, train=train, test=test, seed=int(params["seed"]), init=init, dtype=DTYPES[params["dtype"]],
            device=device, history_points=int(params["history_points"]),
            progress=log.info if progress is None else progress, shared=shared,
        )
        return solve(build_solver(params["solver"], params["settings"]), problem)


@contextmanager
def computing(params: Mapping[str, Any]) -> Iterator[None]:
    """How every solver computes (solve and fit_surrogate jobs): ``params["threads"]`` torch
    threads, the run's seed as torch's global seed, deterministic algorithms, no TorchDynamo
    import, and BLAS limited to the same threads."""
    import torch
    from threadpoolctl import threadpool_limits

    from .devices import defer_dynamo_import, use_deterministic_algorithms

    threads = int(params["threads"])
    torch.set_num_threads(threads)
    torch.manual_seed(int(params["seed"]))
    use_deterministic_algorithms()
    defer_dynamo_import()
    # SciPy's BLAS (L-BFGS-B, BFGS fallbacks) fighting torch for cores slows small problems 10-50x
    with threadpool_limits(limits=threads):
        yield


# ----------------------------------------------------------------------------- aggregate, figures, tables


def _solvers(params: Mapping[str, Any]):
    from .solver_info import SolverSet

    return SolverSet(params.get("solvers", []))


def aggregate(params: Mapping[str, Any], inputs: Inputs, outputs: Outputs, threads_granted: int | None = None) -> None:
    """Collect every run of one experiment into the tidy frames of ``analysis.AGGREGATE_TABLES``."""
    from .analysis import aggregate as frames_of
    from .tables.render import write_csv

    frames = frames_of(inputs["runs"], inputs["data"], _solvers(params), rtol=float(params["compare_rtol"]),
                       test_run_paths=inputs.get("test_runs", []))
    for name, frame in frames.items():
        write_csv(frame, outputs[name])


def figure_panels(params: Mapping[str, Any], inputs: Inputs, outputs: Outputs, threads_granted: int | None = None) -> None:
    """One figure's panel data for one experiment (the figure's ``panels`` step)."""
    from .figures import figures
    from .figures.base import PanelInputs

    solvers = _solvers(params)
    runs = {Path(p).parts[-3]: p for p in inputs["runs"]}  # results/runs/{experiment}/{solver}/...
    panel_inputs = PanelInputs(params["experiment"], inputs["data"][0], runs, solvers)
    figures()[params["figure"]].panels(panel_inputs, outputs["panels"])


def plot_figure(params: Mapping[str, Any], inputs: Inputs, outputs: Outputs, threads_granted: int | None = None) -> None:
    """Render one figure from aggregated artifacts (and its panel data)."""
    from .figures import FigureInputs, figures

    experiments = params["experiments"]
    tables = {t: [f for f in inputs.get("tables", []) if f.endswith(f"/{t}.csv")] for t in params["reads"]}
    tables.update({s: [f] for s, f in zip(params.get("studies", []), inputs.get("studies", []))})
    panels = dict(zip(experiments, inputs.get("panels", [])))
    figure_inputs = FigureInputs.load(experiments, params["labels"], params["families"], tables, panels,
                                      _solvers(params))
    figures()[params["figure"]].plot(figure_inputs, outputs["pdf"], outputs["png"])


def make_table(params: Mapping[str, Any], inputs: Inputs, outputs: Outputs, threads_granted: int | None = None) -> None:
    """Render one table from aggregated artifacts as CSV, LaTeX, Markdown and HTML."""
    from .tables import TableInputs, tables, write_table

    frames = {t: [f for f in inputs.get("tables", []) if f.endswith(f"/{t}.csv")] for t in params["reads"]}
    table_inputs = TableInputs.load(params["experiments"], params["labels"], frames, _solvers(params),
                                    params.get("settings"), inputs.get("data", []), inputs.get("runs", []))
    rendered = tables()[params["table"]].render(table_inputs)
    write_table(rendered, outputs["csv"], outputs["tex"], outputs["md"], outputs.get("html"))


def study_chunk(params: Mapping[str, Any], inputs: Inputs, outputs: Outputs, threads_granted: int | None = None) -> None:
    """One part of a study over one chunk of seeds (one torch thread)."""
    import torch

    from .studies import studies

    torch.set_num_threads(1)
    studies()[params["study"]].run_chunk(params["settings"], params["part"], list(params["seeds"]), outputs["chunk"])


def study_table(params: Mapping[str, Any], inputs: Inputs, outputs: Outputs, threads_granted: int | None = None) -> None:
    """A study's aggregate table from every chunk of every part."""
    from .studies import studies

    studies()[params["study"]].aggregate(params["settings"], list(inputs["chunks"]), outputs["csv"])


def report_page(params: Mapping[str, Any], inputs: Inputs, outputs: Outputs, threads_granted: int | None = None) -> None:
    """The HTML report's front page and caption templates (:mod:`invnet.report`), from the plan
    of the job's config and the artifacts."""
    from .plan import Plan
    from .report import write_report_files

    write_report_files(Plan(dict(params["config"])), inputs, outputs)


def bundle(params: Mapping[str, Any], inputs: Inputs, outputs: Outputs, threads_granted: int | None = None) -> None:
    """Every artifact into one archive with its manifest (:mod:`invnet.bundle`)."""
    from .bundle import create

    create(inputs["artifacts"], dict(params["config"]), outputs["bundle"])


def sweep(params: Mapping[str, Any], inputs: Inputs, outputs: Outputs, threads_granted: int | None = None) -> None:
    """Every robustness sweep of one experiment into the frames of ``sweeps.SWEEP_TABLES``."""
    from .sweep_frame import sweep_frames
    from .tables.render import write_csv

    frames = sweep_frames(params["sweeps"], params["points"], params["roles"], inputs["runs"],
                          float(params["compare_rtol"]), params["labels"], params["solver_labels"],
                          inputs.get("data", []))
    for name, frame in frames.items():
        write_csv(frame, outputs[name])


RUNNERS = {
    "generate_data": generate_data,
    "solve": solve,
    "solve_test": solve_test,
    "fit_surrogate": fit_surrogate,
    "aggregate": aggregate,
    "figure_panels": figure_panels,
    "plot_experiment_figure": plot_figure,
    "plot_combined_figure": plot_figure,
    "make_table": make_table,
    "study_chunk": study_chunk,
    "study_table": study_table,
    "report_page": report_page,
    "bundle": bundle,
    "sweep": sweep,
}
