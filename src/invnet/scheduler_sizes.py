"""Snakemake's scheduler without its per-round input sizing, for workflows with no temp() files.

Before every scheduling round (each job's end, for hundreds of ready jobs) Snakemake's
``JobScheduler.job_selector`` awaits ``update_input_sizes``: an ``exists`` and a ``size`` call,
each an asyncio task, for every input of every ready job. The sizes serve only its temp-file
heuristics (the ILP scheduler's temp() terms; the greedy scheduler's tie-break after priority).
A sampling profile of the Snakemake process over the default config's 704 jobs (py-spy) put
about half of the process's CPU there. This workflow marks no output temp(), so the sizes
change nothing the ILP decides; :func:`skip_input_sizing` makes the call a no-op while no rule
has a temp() output (checked once per scheduler from its workflow's rules) and reads every size
as unknown (``None``, which the greedy scheduler counts as 0). Where a rule has a temp() output,
or Snakemake has no such method (another version), nothing changes.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any


def has_temp_outputs(rules: Any) -> bool:
    """Whether any rule declares a temp() output."""
    return any(f.is_flagged("temp") for rule in rules for f in rule.output)


def skip_input_sizing(scheduler_class: type) -> bool:
    """Patch ``scheduler_class.update_input_sizes`` (Snakemake's JobScheduler) as the module
    says; True if patched."""
    original = getattr(scheduler_class, "update_input_sizes", None)
    if original is None or getattr(original, "skips_without_temp", False):
        return False

    async def update_input_sizes(self, jobs):
        sizing = getattr(self, "_sizes_needed", None)
        if sizing is None:
            sizing = self._sizes_needed = has_temp_outputs(self.workflow.rules)
            if not sizing:
                self._input_sizes = defaultdict(lambda: None)
        if sizing:
            await original(self, jobs)

    update_input_sizes.skips_without_temp = True
    update_input_sizes.__doc__ = original.__doc__
    scheduler_class.update_input_sizes = update_input_sizes
    return True
