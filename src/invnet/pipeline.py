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

from .artifacts import provenance, read_h5, write_h5
from .errors import ArtifactError, ConfigError
from .problems import FAMILIES, ProblemSet, make_family
from .seeding import numpy_rng
from .solvers import SOLVERS, SolveContext, get_solver

log = logging.getLogger("invnet")

DTYPES = {"float64": torch.float64, "float32": torch.float32}
GLOBAL_DEFAULTS: dict[str, Any] = {"compare_rtol": 1e-3, "dtype": "float64", "threads": 1, "history_points": 200}


def solver_dependency(solver: str) -> str | None:
    """The solver whose run artifact ``solver`` starts from (``jpo`` for ``jpo_bfgs``), or None."""
    return get_solver(solver).needs


def _global(config: dict[str, Any], key: str) -> Any:
    return config.get(key, GLOBAL_DEFAULTS[key])


def _experiment(config: dict[str, Any], experiment: str) -> dict[str, Any]:
    exps = config.get("experiments") or {}
    if experiment not in exps:
        raise ConfigError("experiments", f"no block for experiment '{experiment}'; present: {', '.join(exps)}")
    return exps[experiment]


def solver_settings(config: dict[str, Any], experiment: str, solver: str) -> dict[str, Any]:
    """The solver's settings for this experiment with defaults filled in and types checked."""
    block = _experiment(config, experiment).get("solvers") or {}
    if solver not in block:
        raise ConfigError(f"experiments.{experiment}.solvers", f"solver '{solver}' is not configured")
    cls = SOLVERS[solver]
    settings = dict(block[solver] or {})
    if "history_points" in cls.settings_spec:
        settings.setdefault("history_points", _global(config, "history_points"))
    return cls.resolve_settings(experiment, settings)


def validate_config(config: dict[str, Any]) -> None:
    """Semantic checks beyond the JSON schema; raise ConfigError naming the offending key."""
    if _global(config, "dtype") not in DTYPES:
        raise ConfigError("dtype", f"got {config['dtype']!r}; allowed: {', '.join(DTYPES)}")
    for key in ("threads", "history_points"):
        v = _global(config, key)
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ConfigError(key, f"must be a positive integer, got {v!r}")
    rtol = _global(config, "compare_rtol")
    if isinstance(rtol, bool) or not isinstance(rtol, (int, float)) or not 0 <= rtol < 1:
        raise ConfigError("compare_rtol", f"must be a number in [0, 1), got {rtol!r}")
    exps = config.get("experiments")
    if not isinstance(exps, dict) or not exps:
        raise ConfigError("experiments", f"must map experiment names to blocks; allowed: {', '.join(FAMILIES)}")
    for name, block in exps.items():
        if name not in FAMILIES:
            raise ConfigError("experiments", f"unknown experiment '{name}'; allowed: {', '.join(sorted(FAMILIES))}")
        where = f"experiments.{name}"
        if not isinstance(block, dict):
            raise ConfigError(where, "must be a mapping")
        for key in ("n", "seeds"):
            values = block.get(key)
            low = 1 if key == "n" else 0
            if not isinstance(values, list) or not values:
                raise ConfigError(f"{where}.{key}", f"must be a non-empty list of integers >= {low}")
            for v in values:
                if isinstance(v, bool) or not isinstance(v, int) or v < low:
                    raise ConfigError(f"{where}.{key}", f"entries must be integers >= {low}, got {v!r}")
        n_test = block.get("n_test", 0)
        if isinstance(n_test, bool) or not isinstance(n_test, int) or n_test < 0:
            raise ConfigError(f"{where}.n_test", f"must be an integer >= 0, got {n_test!r}")
        make_family(name, block.get("problem") or {})
        solvers = block.get("solvers")
        if not isinstance(solvers, dict) or "bfgs" not in solvers:
            raise ConfigError(f"{where}.solvers", "must be a mapping that includes 'bfgs' (the baseline)")
        for solver in solvers:
            get_solver(solver, f"{where}.solvers")
            solver_settings(config, name, solver)
            dep = solver_dependency(solver)
            if dep is not None and dep not in solvers:
                raise ConfigError(f"{where}.solvers.{solver}", f"starts from '{dep}', which is not configured")


def generate_data(config: dict[str, Any], experiment: str, n: int, seed: int, out: str | Path) -> None:
    """Sample the training set (n problems) and the held-out test set for (experiment, seed)."""
    block = _experiment(config, experiment)
    family = make_family(experiment, block.get("problem") or {})
    train = family.sample(n, numpy_rng(seed, f"{experiment}/train/n{n}"))
    datasets = train.arrays()
    n_test = int(block.get("n_test", 0))
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
            "provenance": provenance(seed=seed, n=n, experiment=experiment),
        },
    )
    log.info("wrote %s: %d training and %d test problems", out, n, n_test)


def _file_sha256(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def load_problem(config: dict[str, Any], experiment: str, data: str | Path):
    """Family and (train, test) sets from a data artifact, checked against the current config."""
    block = _experiment(config, experiment)
    family = make_family(experiment, block.get("problem") or {})
    arrays, attrs = read_h5(data)
    if attrs.get("experiment") != experiment:
        raise ArtifactError(f"{data} holds experiment {attrs.get('experiment')!r}, expected {experiment!r}")
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


def run_solver(
    config: dict[str, Any],
    experiment: str,
    solver: str,
    n: int,
    seed: int,
    data: str | Path,
    out: str | Path,
    init: str | Path | None = None,
) -> None:
    """Run one solver on one problem set and write its run artifact (atomically)."""
    settings = solver_settings(config, experiment, solver)
    family, train, test, data_attrs = load_problem(config, experiment, data)
    if data_attrs.get("n") != n or data_attrs.get("seed") != seed:
        raise ArtifactError(f"{data} holds n={data_attrs.get('n')}, seed={data_attrs.get('seed')}; expected n={n}, seed={seed}")
    impl = get_solver(solver)
    x_init = None
    if impl.needs is not None:
        if init is None:
            raise ArtifactError(f"solver '{solver}' starts from '{impl.needs}' and needs its run artifact")
        init_arrays, init_attrs = read_h5(init)
        if init_attrs.get("solver") != impl.needs or init_attrs.get("n") != n or init_attrs.get("seed") != seed:
            raise ArtifactError(f"{init} is not the '{impl.needs}' run for n={n}, seed={seed}")
        x_init = init_arrays["x"]

    threads = int(_global(config, "threads"))
    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True)
    ctx = SolveContext(
        family=family, train=train, test=test, settings=settings, seed=seed, init=x_init,
        dtype=DTYPES[_global(config, "dtype")], progress=log.info,
    )
    log.info("%s/%s n=%d seed=%d: settings %s", experiment, solver, n, seed, settings)
    t0 = time.perf_counter()
    # SciPy's BLAS (L-BFGS-B, BFGS fallbacks) fighting torch for cores slows small problems 10-50x
    with threadpool_limits(limits=threads):
        result = impl.solve(ctx)
    wall = time.perf_counter() - t0
    result.check(train.n, family.dim)
    log.info(
        "%s/%s n=%d seed=%d: done in %.2f s, mean loss %.4e, median %.4e",
        experiment, solver, n, seed, wall, float(np.mean(result.loss)), float(np.median(result.loss)),
    )
    datasets = {
        "x": result.x,
        "loss": result.loss,
        "iterations": result.iterations,
        "evaluations": result.evaluations,
        "loss_history": result.loss_history,
        "history_step": result.history_step,
        **result.extras,
    }
    block = _experiment(config, experiment)
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
                "n_test": int(block.get("n_test", 0)),
                "dtype": _global(config, "dtype"),
                "threads": threads,
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
            ),
        },
    )
