"""What a job asks a cluster for (runtime minutes, memory), sized from the Snakemake benchmarks
recorded in ``workflow/resources.yaml`` (written by ``benchmarks/size_resources.py``), scaled to
the configured n and iteration budget, doubled on every retry (``--retries``); local runs ignore
everything but threads. docs/cluster.md explains the margins.

A measured entry is keyed by rule, experiment (else its family), [solver,] n. Where nothing was
measured, the cost classes of family and solver (``ProblemFamily.cost``, ``Solver.cost``) give a
coarse request.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Mapping

RUNTIME_MARGIN = 3.0  # requested wall time = 3 x the measured (load, other CPUs, other nodes)
STARTUP_MIN = 2  # + 2 min for Snakemake's start-up inside the job (parse, imports)
MEM_MARGIN = 1.5  # requested memory = 1.5 x measured peak RSS + 500 MB
MEM_FLOOR_MB = 500
DEFAULT_MEM_MB = 2000  # not measured
MAX_RUNTIME_MIN = 24 * 60
SMALL_JOB_S = 5.0  # expected seconds of a job nothing was measured for (aggregate, figure, table)
BUDGET_KEYS = ("steps", "starts")  # iteration budgets a measured run is scaled by


@dataclass(frozen=True)
class Requests:
    """The request model over one table of measurements (``workflow/resources.yaml``)."""

    measured: Mapping[str, Any] = field(default_factory=dict)

    def _entry(self, rule: str, experiment: str, family: str, n: int, solver: str | None):
        table = self.measured.get(rule, {}) or {}
        if solver is not None:
            table = {e: entries.get(solver) for e, entries in table.items() if entries.get(solver)}
        entries = table.get(experiment) or table.get(family)
        if not entries:
            return None, None
        sizes = sorted(int(m) for m in entries)
        m = max([s for s in sizes if s <= n], default=sizes[0])
        return m, entries[m]

    def estimate(
        self, rule: str, experiment: str, family: str, n: int, solver: str | None = None,
        settings: Mapping[str, Any] | None = None,
    ) -> tuple[float, float] | None:
        """(wall seconds, peak RSS MB) of one job, or None where nothing was measured: the
        measured worst case, scaled linearly in n above the measured n and by the ratio of the
        iteration budget (steps, starts) configured now to the measured one."""
        m, entry = self._entry(rule, experiment, family, n, solver)
        if entry is None:
            return None
        scale = max(1.0, n / m)
        for key in BUDGET_KEYS:
            if settings is not None and key in entry and key in settings:
                scale *= settings[key] / entry[key]
        return entry["s"] * scale, entry["max_rss_mb"]

    def request(
        self, rule: str, experiment: str, family: str, n: int, solver: str | None = None,
        settings: Mapping[str, Any] | None = None, cost: float = 1.0,
    ) -> tuple[int, int]:
        """(runtime minutes, mem_mb) asked for one job on its first attempt; ``cost`` (family
        times solver cost class) sizes a job nothing was measured for."""
        estimate = self.estimate(rule, experiment, family, n, solver, settings)
        if estimate is None:
            return min(int((10 + n // 32) * cost), MAX_RUNTIME_MIN), DEFAULT_MEM_MB
        seconds, rss = estimate
        runtime = STARTUP_MIN + math.ceil(RUNTIME_MARGIN * seconds / 60)
        mem = 100 * math.ceil((MEM_MARGIN * rss + MEM_FLOOR_MB) / 100)
        return min(runtime, MAX_RUNTIME_MIN), mem


    def expected_seconds(
        self, rule: str, experiment: str, family: str, n: int, solver: str | None = None,
        settings: Mapping[str, Any] | None = None, cost: float = 1.0,
    ) -> float:
        """Expected wall seconds of one job on one core, for ordering jobs (longest first): the
        measured estimate, else the cost-class request without its margin."""
        estimate = self.estimate(rule, experiment, family, n, solver, settings)
        if estimate is not None:
            return estimate[0]
        runtime, _ = self.request(rule, experiment, family, n, solver, settings, cost)
        return 60.0 * runtime / RUNTIME_MARGIN


def on_attempt(first: int, attempt: int, cap: int | None = None) -> int:
    """A request on retry ``attempt`` (1, 2, ...): the first one times the attempt, capped."""
    value = first * attempt
    return min(value, cap) if cap is not None else value
