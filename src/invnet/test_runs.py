"""Per-problem methods on new problems (docs/experiments.md §2.5): each seed's held-out test set,
solved once per seed by the solvers an experiment lists in ``test_solvers`` (default: BFGS).

The test set of a seed is the same for every n (stream ``{experiment}/test``), so its run is one
job per (experiment, solver, seed), ``results/runs/{experiment}/{solver}/test/seed{seed}.h5``,
reading the test set from the seed's data artifact of the smallest n. Its artifact is a run
artifact of kind ``test_run`` (its ``n`` is the number of test problems, ``data_n`` the n of the
data artifact it read), so that no reader of training runs takes it for one.

Only per-problem methods qualify: a network method predicts the test set inside its own run
(``test_x``, ``test_loss``), and a refinement would need its start run's test solutions.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from typing import Any

from .errors import ConfigError

log = logging.getLogger("invnet")


def check_test_solvers(names: Sequence[str], resolved: Mapping[str, Any], where: str) -> None:
    """Each of ``names`` is a configured per-problem solver that starts from x0 (or a multi-start
    of one); ConfigError naming ``where`` otherwise."""
    for i, name in enumerate(names):
        if name not in resolved:
            raise ConfigError(f"{where}[{i}]", f"'{name}' is not a configured solver; allowed: "
                                               f"{', '.join(s for s in resolved if _eligible(resolved[s]))}")
        if not _eligible(resolved[name]):
            why = "a network method (it predicts the test set in its own run)" if resolved[name].info.network \
                else f"a refinement of '{resolved[name].start_from}' (it has no start on new problems)"
            raise ConfigError(f"{where}[{i}]", f"'{name}' is {why}; allowed: "
                                               f"{', '.join(s for s in resolved if _eligible(resolved[s]))}")


def _eligible(resolved: Any) -> bool:
    return not resolved.info.network and resolved.start_from is None


def solve_test_set(params: Mapping[str, Any], inputs: Mapping[str, list[str]], outputs: Mapping[str, str],
                   threads_granted: int | None = None) -> None:
    """The solve_test job: run ``params["solver"]`` on the test set of the data artifact and write
    its test-run artifact (datasets as a run artifact's, for the test problems)."""
    import numpy as np

    from .artifacts import file_sha256, provenance, write_h5
    from .devices import device_name, resolve_device
    from .errors import ArtifactError
    from .jobs import load_problem, solve_problem_set

    experiment, solver, seed = params["experiment"], params["solver"], int(params["seed"])
    data = inputs["data"][0]
    family, _, test = load_problem(params, data)
    if test is None:
        raise ArtifactError(f"{data} holds no test set (n_test = 0)")
    threads = int(params["threads"])
    device = resolve_device(params["device"])
    log.info("%s/%s test set of seed %d (%d problems) on %s: settings %s", experiment, solver, seed, test.n, device,
             params["settings"])
    t0 = time.perf_counter()
    result = solve_problem_set(params, family, test, None, None, device)
    wall = time.perf_counter() - t0
    log.info("%s/%s test seed=%d: done in %.2f s, mean loss %.4e", experiment, solver, seed, wall,
             float(np.mean(result.loss)))
    datasets = {
        "x": result.x, "problem_status": result.problem_status, "solve_status": result.status, "loss": result.loss,
        "iterations": result.iterations, "evaluations": result.evaluations, "loss_history": result.loss_history,
        "history_step": result.history_step, **result.extras,
    }
    write_h5(outputs["run"], datasets, {
        "kind": "test_run", "experiment": experiment, "solver": solver, "n": test.n, "seed": seed,
        "data_n": int(params["n"]),
        "config": {
            "experiment": experiment, "problem": family.describe(), "solver": params["settings"], "n": test.n,
            "n_test": int(params["n_test"]), "dtype": params["dtype"], "threads": threads, "device": params["device"],
            "history_points": int(params["history_points"]),
        },
        "provenance": provenance(
            seed=seed, n=test.n, experiment=experiment, solver=solver, wall_time_s=wall, data_file=str(data),
            data_sha256=file_sha256(data), info=result.info, device=device_name(device), threads=threads,
            threads_granted=threads_granted, code_fingerprint=params["code"],
        ),
    })
