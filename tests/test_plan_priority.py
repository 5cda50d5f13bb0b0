"""Scheduling priorities (Snakemake ``priority:``) of the default config's plan: the longest chains
of jobs start first, ordered by the job times measured in workflow/resources.yaml, so that two
cores are not left with one long job at the end."""

from __future__ import annotations

import heapq

import pytest
import yaml

from helpers import REPO, plan_of

RESOURCES = yaml.safe_load((REPO / "workflow" / "resources.yaml").read_text())


@pytest.fixture(scope="module")
def plan():
    return plan_of(yaml.safe_load((REPO / "config" / "config.yaml").read_text()), RESOURCES)


def solve(plan, experiment, solver, n, seed=0):
    return plan.job("solve", {"experiment": experiment, "solver": solver, "n": n, "seed": seed})


def test_solves_that_feed_only_the_aggregate_are_ordered_by_their_measured_time(plan):
    """KS at n = 256: the solvers nothing refines start in the order of their measured seconds."""
    measured = RESOURCES["solve"]["ks"]
    refined = {"jpo"}  # jpo_bfgs starts from it
    solvers = [s for s in plan.experiments["ks"].solvers if s not in refined and s in measured]
    assert len(solvers) >= 4
    by_priority = sorted(solvers, key=lambda s: -plan.priorities[solve(plan, "ks", s, 256).key])
    by_measured = sorted(solvers, key=lambda s: -measured[s][256]["s"])
    assert by_priority == by_measured


def test_a_chain_counts_whole_and_its_data_set_comes_first(plan):
    """JPO, which JPO + BFGS refines, ranks above JPO + BFGS by at least its own measured time, and
    every problem set ranks above each solve that reads it."""
    for exp, n in (("ks", 256), ("fluid", 64)):
        jpo, refine = solve(plan, exp, "jpo", n), solve(plan, exp, "jpo_bfgs", n)
        assert jpo.outputs["run"] in refine.inputs["init"]
        own = RESOURCES["solve"][exp]["jpo"][n]["s"]
        assert plan.priorities[jpo.key] >= plan.priorities[refine.key] + own - 1
    for data in plan.rule_jobs("generate_data"):
        readers = [j for j in plan.jobs if data.outputs["data"] in j.input_files]
        assert readers and all(plan.priorities[data.key] > plan.priorities[j.key] for j in readers)


def test_the_longest_jobs_are_the_highest_ranked_solves(plan):
    """The solve jobs ranked first are the ones with the longest measured times (KS JPO at 256, fluid
    JPO and GD at 64), and figures and tables, which end the run, rank last."""
    solves = plan.rule_jobs("solve")
    top = sorted(solves, key=lambda j: -plan.priorities[j.key])[:6]
    longest = sorted(solves, key=lambda j: -plan.expected_seconds(j))[:6]
    assert {j.key for j in top} == {j.key for j in longest}
    last = min(plan.priorities[j.key] for j in solves)
    assert all(plan.priorities[j.key] < last for j in plan.rule_jobs("make_table"))


def makespan(plan, jobs, cores: int, first) -> float:
    """List scheduling of ``jobs`` (expected seconds) on ``cores``: whenever a core is free, the
    ready job that ``first`` ranks highest starts."""
    producers = {p: j for j in jobs for p in j.output_files}
    waiting = {j.key: {producers[p].key for p in j.input_files if p in producers} for j in jobs}
    readers: dict = {}
    for j in jobs:
        for dep in waiting[j.key]:
            readers.setdefault(dep, []).append(j)
    ready = [(first(j), i, j) for i, j in enumerate(jobs) if not waiting[j.key]]
    heapq.heapify(ready)
    running: list = []
    now, order, started = 0.0, len(jobs), 0
    while ready or running:
        while ready and len(running) < cores:
            _, _, job = heapq.heappop(ready)
            started += 1
            heapq.heappush(running, (now + plan.expected_seconds(job), started, job))
        now, _, done = heapq.heappop(running)
        for reader in readers.get(done.key, []):
            waiting[reader.key].discard(done.key)
            if not waiting[reader.key]:
                order += 1
                heapq.heappush(ready, (first(reader), order, reader))
    return now


def test_priorities_leave_no_core_idle_at_the_end(plan, measured):
    """Simulated on 2 cores with the measured times: starting the highest priority first ends the
    default run within 1 % of the bound (total / 2); starting the shortest ready job first (an
    order a scheduler may pick among equal priorities) leaves one core with a long chain at the
    end and ends later."""
    jobs = plan.jobs
    by_priority = makespan(plan, jobs, 2, lambda j: -plan.priorities[j.key])
    shortest_first = makespan(plan, jobs, 2, lambda j: plan.expected_seconds(j))
    bound = sum(plan.expected_seconds(j) for j in jobs) / 2
    measured(f"simulated 2-core run of the default config: {by_priority:.0f} s with priorities, "
             f"{shortest_first:.0f} s shortest first, bound {bound:.0f} s")
    assert by_priority <= 1.01 * bound
    assert shortest_first > by_priority
