"""invnet.scheduler_sizes: Snakemake's per-round input sizing is skipped exactly when no rule has a
temp() output, and the sizes then read as unknown; Snakemake's own scheduler class is patched."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

from invnet.scheduler_sizes import has_temp_outputs, skip_input_sizing


class Flagged(str):
    def __new__(cls, name: str, temp: bool = False):
        out = super().__new__(cls, name)
        out.temp = temp
        return out

    def is_flagged(self, flag: str) -> bool:
        return flag == "temp" and self.temp


def scheduler_class():
    class Scheduler:
        def __init__(self, rules):
            self.workflow = SimpleNamespace(rules=rules)
            self._input_sizes = {}
            self.sized = []

        async def update_input_sizes(self, jobs):
            self.sized.append(list(jobs))
            self._input_sizes.update({f: 1 for job in jobs for f in job})

    return Scheduler


def test_inputs_are_sized_only_where_a_rule_has_a_temp_output():
    cls = scheduler_class()
    assert skip_input_sizing(cls) and not skip_input_sizing(cls)  # patched once
    plain = [SimpleNamespace(output=[Flagged("a"), Flagged("b")])]
    with_temp = [*plain, SimpleNamespace(output=[Flagged("t", temp=True)])]
    assert not has_temp_outputs(plain) and has_temp_outputs(with_temp)
    quiet, sizing = cls(plain), cls(with_temp)
    for s in (quiet, sizing):
        asyncio.run(s.update_input_sizes([["x.h5"]]))
        asyncio.run(s.update_input_sizes([["y.h5"]]))
    assert quiet.sized == [] and quiet._input_sizes["never sized"] is None
    assert sizing.sized == [[["x.h5"]], [["y.h5"]]] and sizing._input_sizes == {"x.h5": 1, "y.h5": 1}


def test_snakemakes_scheduler_is_the_class_patched():
    from snakemake.scheduling.job_scheduler import JobScheduler

    skip_input_sizing(JobScheduler)
    assert getattr(JobScheduler.update_input_sizes, "skips_without_temp", False)
    assert not skip_input_sizing(SimpleNamespace)  # a version without the method: nothing done
