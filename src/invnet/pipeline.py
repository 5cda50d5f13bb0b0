"""Entry points of the Snakemake rules: validate config, generate a problem set, run one solver.

Each function reads and writes only artifacts, so every rule script is a two-line call.
"""

from __future__ import annotations

import hashlib
import logging
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from threadpoolctl import threadpool_limits

from .artifacts import (
    STATUS_FAILED, STATUS_INF, STATUS_NAMES, STATUS_NAN, STATUS_OK, provenance, read_h5, write_h5,
)
from .config import resolve_config
from .devices import device_name, resolve_device
from .errors import ArtifactError, ConfigError
from .fingerprint import code_fingerprint
from .problems import ProblemSet, family_class, make_family
from .seeding import numpy_rng
from .solvers import SolveProblem, SolveStatus, build_solver, resolve_solvers, solve, solver_class, solvers
from .solvers.driver import final_status
from .solvers.driver import problem_status as driver_problem_status

log = logging.getLogger("invnet")

DTYPES = {"float64": torch.float64, "float32": torch.float32}


def solver_dependency(solver: str) -> str | None:
    """The solver whose run artifact ``solver`` starts from (``jpo`` for ``jpo_bfgs``), or None."""
    return solver_class(solver).needs


def validate_config(config: dict[str, Any]) -> dict[str, Any]:
    """The resolved config (defaults filled in); InvalidConfig naming every offending key."""
    return resolve_config(config)


def _resolved(config: dict[str, Any], experiment: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The resolved config (defaults filled in; idempotent) and the block of ``experiment``.

    The CUDA check is left to :func:`invnet.devices.resolve_device` in the job itself.
    """
    config = resolve_config(config, check_cuda=False)
    if experiment not in config["experiments"]:
        present = ", ".join(config["experiments"])
        raise ConfigError("experiments", f"no block for experiment '{experiment}'; present: {present}")
    return config, config["experiments"][experiment]


def data_fingerprint(family: str) -> str:
    """Fingerprint of the code a data artifact depends on: the family's module closure."""
    return code_fingerprint(family_class(family))


def run_fingerprint(family: str, solver: str) -> str:
    """Fingerprint of the code a run artifact depends on: family and solver module closures."""
    return code_fingerprint(family_class(family), solver_class(solver))


def generate_data(config: dict[str, Any], experiment: str, n: int, seed: int, out: str | Path) -> None:
    """Sample the training set (n problems) and the held-out test set for (experiment, seed)."""
    _, block = _resolved(config, experiment)
    family = make_family(block["family"], block["problem"], experiment)
    train = family.sample(n, numpy_rng(seed, f"{experiment}/train/n{n}"))
    datasets = train.arrays()
    n_test = int(block["n_test"])
    if n_test:
        datasets.update(family.sample(n_test, numpy_rng(seed, f"{experiment}/test")).arrays("test_"))
    write_h5(
        out,
        datasets,
        {
            "kind": "data",
            "experiment": experiment,
            "n": n,
            "seed": seed,
            "n_test": n_test,
            "problem": family.describe(),
            "provenance": provenance(
                seed=seed, n=n, experiment=experiment, code_fingerprint=data_fingerprint(block["family"])
            ),
        },
    )
    log.info("wrote %s: %d training and %d test problems", out, n, n_test)


def _file_sha256(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def load_problem(block: dict[str, Any], experiment: str, data: str | Path):
    """Family and (train, test) sets from a data artifact, checked against the experiment's
    resolved config ``block``."""
    family = make_family(block["family"], block["problem"], experiment)
    arrays, attrs = read_h5(data, "data", {"experiment": experiment})
    if attrs.get("problem") != family.describe():
        raise ArtifactError(
            f"{data} was generated with other problem parameters than experiments.{experiment}.problem "
            "now has; regenerate it (snakemake reruns it when the config changed)"
        )
    train = ProblemSet(arrays["y_target"], arrays["x_true"], arrays.get("gamma"))
    test = None
    if "test_y_target" in arrays:
        test = ProblemSet(arrays["test_y_target"], arrays["test_x_true"], arrays.get("test_gamma"))
    return family, train, test, attrs


def problem_status(loss: np.ndarray, x: np.ndarray, solve_status: np.ndarray | None = None) -> np.ndarray:
    """Per-problem comparison status (int64, STATUS_*), derived by the solver driver from the
    typed ``solve_status`` (``invnet.solvers.SolveStatus``; None: every problem ran to its end)
    and the finiteness of loss and solution (:func:`invnet.solvers.driver.problem_status`)."""
    if solve_status is None:
        solve_status = np.full(np.shape(loss), int(SolveStatus.BUDGET), dtype=np.int64)
    return driver_problem_status(final_status(solve_status, loss, x), loss)


def run_solver(
    config: dict[str, Any],
    experiment: str,
    solver: str,
    n: int,
    seed: int,
    data: str | Path,
    out: str | Path,
    init: str | Path | None = None,
    threads_granted: int | None = None,
) -> None:
    """Run one solver on one problem set and write its run artifact (atomically).

    It computes with ``config["threads"]`` torch (and BLAS) threads: network training sums in
    a thread-dependent order, so the thread count is part of what a run depends on (a job
    parameter, recorded in the artifact). ``threads_granted`` (the cores the scheduler gave
    the job) is only recorded; a grant below ``threads`` is logged as a warning.
    """
    config, block = _resolved(config, experiment)
    if solver not in block["solvers"]:
        raise ConfigError(f"experiments.{experiment}.solvers", f"solver '{solver}' is not configured")
    family, train, test, data_attrs = load_problem(block, experiment, data)
    if data_attrs.get("n") != n or data_attrs.get("seed") != seed:
        raise ArtifactError(f"{data} holds n={data_attrs.get('n')}, seed={data_attrs.get('seed')}; expected n={n}, seed={seed}")
    resolved = resolve_solvers(experiment, block["solvers"], family)[solver]
    settings = resolved.settings
    x_init = None
    if resolved.start_from is not None:
        if init is None:
            raise ArtifactError(f"solver '{solver}' starts from '{resolved.start_from}' and needs its run artifact")
        init_arrays, _ = read_h5(
            init, "run", {"experiment": experiment, "solver": resolved.start_from, "n": n, "seed": seed}
        )
        x_init = init_arrays["x"]

    threads = config["threads"]
    if threads_granted is not None and threads_granted < threads:
        log.warning(
            "%s/%s n=%d seed=%d: granted %d core(s) but computing with threads=%d (config), so that "
            "the results do not depend on the grant", experiment, solver, n, seed, threads_granted, threads,
        )
    device = resolve_device(config["device"])
    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True)
    problem = SolveProblem(
        family=family, train=train, test=test, seed=seed, init=x_init, dtype=DTYPES[config["dtype"]],
        device=device, history_points=config["history_points"], progress=log.info,
    )
    log.info("%s/%s n=%d seed=%d on %s: settings %s", experiment, solver, n, seed, device, settings)
    t0 = time.perf_counter()
    # SciPy's BLAS (L-BFGS-B, BFGS fallbacks) fighting torch for cores slows small problems 10-50x
    with threadpool_limits(limits=threads):
        result = solve(build_solver(solver, settings), problem)
    wall = time.perf_counter() - t0
    log.info(
        "%s/%s n=%d seed=%d: done in %.2f s, mean loss %.4e, median %.4e",
        experiment, solver, n, seed, wall, float(np.mean(result.loss)), float(np.median(result.loss)),
    )
    status = result.problem_status
    failed = {STATUS_NAMES[k]: int(np.sum(status == k)) for k in (STATUS_NAN, STATUS_INF, STATUS_FAILED)}
    if sum(failed.values()):
        log.warning(
            "%s/%s n=%d seed=%d: %d of %d problems failed (%s); they count in no comparison",
            experiment, solver, n, seed, sum(failed.values()), train.n,
            ", ".join(f"{v} {k}" for k, v in failed.items() if v),
        )
    datasets = {
        "x": result.x,
        "problem_status": status,
        "solve_status": result.status,
        "loss": result.loss,
        "iterations": result.iterations,
        "evaluations": result.evaluations,
        "loss_history": result.loss_history,
        "history_step": result.history_step,
        **result.extras,
    }
    write_h5(
        out,
        datasets,
        {
            "kind": "run",
            "experiment": experiment,
            "solver": solver,
            "n": n,
            "seed": seed,
            "config": {
                "experiment": experiment,
                "problem": family.describe(),
                "solver": settings,
                "n": n,
                "n_test": int(block["n_test"]),
                "dtype": config["dtype"],
                "threads": threads,
                "device": config["device"],
            },
            "provenance": provenance(
                seed=seed,
                n=n,
                experiment=experiment,
                solver=solver,
                wall_time_s=wall,
                data_file=str(data),
                data_sha256=_file_sha256(data),
                init_file=None if init is None else str(init),
                info=result.info,
                device=device_name(device),
                threads=threads,
                threads_granted=threads_granted,
                code_fingerprint=(run_fingerprint(block["family"], solver) if solver in solvers()
                                  else code_fingerprint(family_class(block["family"]), *resolved.code)),
            ),
        },
    )
