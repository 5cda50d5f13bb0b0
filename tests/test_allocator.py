"""The jobs' malloc setting (invnet.allocator): freed blocks are reused instead of being handed back
to the kernel and faulted in again, which is what a training step's alloc/free pattern needs."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

CHILD = r"""
import json, resource, sys
import numpy as np
from invnet.allocator import keep_freed_memory
kept = keep_freed_memory()
def step():  # a fluid step's pattern: 40 blocks of 2 MB kept for the adjoint, then all freed
    blocks = [np.ones(262144) for _ in range(40)]
    return sum(float(b[0]) for b in blocks)
step()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(4):
    step()
print(json.dumps({"kept": kept, "faults": resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before}))
"""


def _run(keep: str) -> dict:
    env = dict(os.environ, INVNET_KEEP_MEMORY=keep)
    out = subprocess.run([sys.executable, "-c", CHILD], env=env, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_freed_blocks_are_reused_not_faulted_in_again():
    default, kept = _run("0"), _run("1")
    assert default["kept"] is False and kept["kept"] is True
    pages = 4 * 40 * (2 * 1024 * 1024 // 4096)  # what four steps touch
    # glibc's defaults hand the freed 80 MB back and fault it in again at every step ...
    assert default["faults"] > 0.5 * pages, default
    # ... the jobs' setting reuses it: (almost) no page is faulted in after the first step
    assert kept["faults"] < 0.02 * pages, kept
