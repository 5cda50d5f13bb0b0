"""The tuning sweep: every method's declared knobs (``Solver.tuning``), tried on a separate tuning
seed that no study run uses, with the same protocol for every method.

    python -m invnet.tuning --config config/config.yaml --experiment wavepacket --n 64 --seed 100

For each configured solver with a tuning grid, every combination of its knobs (the rest as in
the config) is run on one problem set of n problems drawn with the tuning seed. The choice: the
settings whose mean final training loss is within ``RTOL`` (the comparison's rtol) of the lowest
are equally good; among them the configured setting is kept if it is there, else the one with
the fewest evaluations per problem (then grid order). Then the chosen setting is run at 0.5x, 1x and 2.5x
its step budget (iterative methods with ``steps``/``maxiter``) to show what more compute buys.
Writes ``docs/tuning/<experiment>.csv`` (every run: loss, evaluations, wall time) and
``docs/tuning/<experiment>.md`` (the grids, the choice, the budget rows).

Every run goes through the solve job's own computation (:func:`invnet.jobs.solve_problem_set`,
with the params the job plan gives the experiment's solve jobs: threads, dtype, device, the
global history length, deterministic algorithms), on the problem set the data job would sample
for the tuning seed; only the settings differ.
"""

from __future__ import annotations

import argparse
import itertools
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .atomic import atomic_write_text
from .config import load_yaml, resolve_config
from .jobs import solve_problem_set
from .plan import Plan
from .problems import make_family
from .seeding import numpy_rng
from .solvers import resolve_solvers, solver_class
from .tables.render import to_markdown, write_csv

BUDGET_FACTORS = (0.5, 1.0, 2.5)
RTOL = 1e-3  # losses this close count as equal (as in the comparison with BFGS)


def choose(grid: pd.DataFrame, configured: dict[str, Any]) -> dict[str, Any]:
    """The chosen setting of one solver's grid rows (see the module docstring)."""
    good = grid[grid["mean_loss"] <= grid["mean_loss"].min() * (1 + RTOL)]
    settings = [json.loads(s) for s in good["setting"]]
    for setting in settings:
        if all(configured.get(k) == v for k, v in setting.items()):
            return setting
    return json.loads(good.sort_values("mean_evaluations", kind="stable").iloc[0]["setting"])


def _run(params: dict[str, Any], family, train, solver: str, settings: dict[str, Any]) -> dict[str, Any]:
    """One run of ``solver`` with ``settings`` through the solve job's computation."""
    t0 = time.perf_counter()
    res = solve_problem_set({**params, "solver": solver, "settings": settings}, family, train,
                            progress=lambda _: None)
    return {
        "mean_loss": float(np.mean(res.loss)),
        "median_loss": float(np.median(res.loss)),
        "mean_evaluations": float(np.mean(res.evaluations)),
        "wall_time_s": time.perf_counter() - t0,
    }


def sweep(config: dict[str, Any], experiment: str, n: int, seed: int) -> pd.DataFrame:
    """Every grid point of every tunable configured solver, then the budget rows of the choice."""
    config = resolve_config(config, check_cuda=False)
    block = config["experiments"][experiment]
    if seed in block["seeds"]:
        raise ValueError(f"tuning seed {seed} is one of the study's seeds {block['seeds']}; pick another")
    family = make_family(block["family"], block["problem"], experiment)
    train = family.sample(n, numpy_rng(seed, f"{experiment}/train/n{n}"))  # as the data job samples it
    tuned = {**config, "experiments": {experiment: {**block, "n": [n], "seeds": [seed]}}}
    plan = Plan(tuned)
    rows = []

    def settings_of(solver: str, values: dict[str, Any]) -> dict[str, Any]:
        blocks = {**block["solvers"], solver: {**block["solvers"][solver], **values}}
        return resolve_solvers(experiment, blocks, family)[solver].settings

    for solver, base in block["solvers"].items():
        resolved = plan.experiments[experiment].resolved[solver]
        cls = solver_class(resolved.info.method)
        if not cls.tuning or resolved.start_from is not None or resolved.info.starts:
            continue
        params = plan.job("solve", {"experiment": experiment, "solver": solver, "n": n, "seed": seed}).params
        knobs = list(cls.tuning)
        for values in itertools.product(*(cls.tuning[k] for k in knobs)):
            setting = dict(zip(knobs, values))
            rows.append({"solver": solver, "stage": "grid", "setting": json.dumps(setting),
                         **_run(params, family, train, solver, settings_of(solver, setting))})
        grid = pd.DataFrame([r for r in rows if r["solver"] == solver and r["stage"] == "grid"])
        best = choose(grid, base)
        budget_key = next((k for k in ("steps", "maxiter") if k in cls.settings_spec), None)
        if budget_key is None:
            continue
        chosen = settings_of(solver, best)
        for factor in BUDGET_FACTORS:
            budget = max(1, int(round(chosen[budget_key] * factor)))
            rows.append({"solver": solver, "stage": "budget", "setting": json.dumps({**best, budget_key: budget}),
                         **_run(params, family, train, solver, settings_of(solver, {**best, budget_key: budget}))})
    return pd.DataFrame(rows)


def report(frame: pd.DataFrame, experiment: str, n: int, seed: int, config: dict[str, Any]) -> str:
    """The Markdown page of a sweep: protocol, grids, every run, the choice per method."""
    block = resolve_config(config, check_cuda=False)["experiments"][experiment]
    lines = [
        f"# Tuning sweep: {experiment}",
        "",
        f"Generated by `python -m invnet.tuning --experiment {experiment} --n {n} --seed {seed}`.",
        f"One problem set of n = {n} problems drawn with tuning seed {seed} (not a study seed:",
        f"the study uses seeds {block['seeds']}). Every method gets the same protocol: each combination",
        "of its declared knobs (`Solver.tuning`), the other settings as configured; the lowest mean final",
        f"training loss wins; settings within a relative {RTOL:g} of the lowest count as equal, and among",
        "those the configured one is kept, else the cheapest (fewest evaluations per problem). The choice",
        "is then rerun at 0.5x, 1x and 2.5x its iteration budget to show what more compute buys (budgets",
        "are not chosen: more steps cost more).",
        "",
    ]
    show = frame.copy()
    for col in ("mean_loss", "median_loss"):
        show[col] = show[col].map(lambda v: f"{v:.5f}")
    show["mean_evaluations"] = show["mean_evaluations"].map(lambda v: f"{v:,.0f}")
    show["wall_time_s"] = show["wall_time_s"].map(lambda v: f"{v:.1f}")
    for solver, grp in frame.groupby("solver", sort=False):
        grid = grp[grp["stage"] == "grid"]
        chosen = choose(grid, block["solvers"][solver])
        row = grid[grid["setting"] == json.dumps(chosen)].iloc[0]
        configured = {k: block["solvers"][solver][k] for k in chosen}
        lines += [
            f"## {solver}",
            "",
            f"Grid: {json.dumps(solver_class(block['solvers'][solver].get('method', solver)).tuning)}. "
            f"Chosen: `{json.dumps(chosen)}` "
            f"(mean loss {row['mean_loss']:.5f}; lowest in the grid {grid['mean_loss'].min():.5f}); "
            f"configured: `{json.dumps(configured)}`.",
            "",
            to_markdown(show.loc[grp.index, ["stage", "setting", "mean_loss", "median_loss",
                                             "mean_evaluations", "wall_time_s"]]),
        ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", default="config/config.yaml")
    parser.add_argument("--experiment", required=True)
    parser.add_argument("--n", type=int, default=64)
    parser.add_argument("--seed", type=int, default=100)
    parser.add_argument("--out", default="docs/tuning")
    args = parser.parse_args(argv)
    config = load_yaml(args.config)
    frame = sweep(config, args.experiment, args.n, args.seed)
    out = Path(args.out)
    write_csv(frame, out / f"{args.experiment}.csv")
    atomic_write_text(out / f"{args.experiment}.md", report(frame, args.experiment, args.n, args.seed, config))
    print(f"wrote {out / args.experiment}.csv and .md ({len(frame)} runs)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
