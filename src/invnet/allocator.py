"""glibc's malloc set for jobs that allocate and free the same large tensors at every step: freed
memory stays in the process instead of going back to the kernel.

A fluid forward keeps the grid fields of every RK4 stage for its adjoint (2 MB per stage at 64
problems, 160 MB in all) and the backward frees them. With glibc's defaults the freed top of the
heap is handed back to the kernel (trimmed) once it exceeds a threshold of a few MB, and blocks
above the dynamic mmap threshold are unmapped on free, so the next step faults every page in again,
zeroed by the kernel: about a fifth of a fluid training step's CPU on the 2-core machine
(``benchmarks/allocator.py``). Here blocks up to glibc's largest mmap threshold (32 MiB) come from
the heap and the heap is only trimmed above 2 GiB free. The numbers do not change: torch aligns every
tensor to 64 bytes wherever its memory comes from. A job's peak memory is the same; its resident
memory no longer falls between steps, which no job needs. ``INVNET_KEEP_MEMORY=0`` keeps glibc's
defaults; other C libraries are left as they are.
"""

from __future__ import annotations

import ctypes
import os
import sys

ENV_SWITCH = "INVNET_KEEP_MEMORY"
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # glibc's malloc.h
MMAP_THRESHOLD = 32 * 1024 * 1024  # glibc's largest: HEAP_MAX_SIZE / 2 on 64-bit
TRIM_THRESHOLD = 2**31 - 1  # mallopt takes an int


def keep_freed_memory() -> bool:
    """Set glibc's malloc so that freed memory is reused, not returned (see the module); whether it
    was set (False: switched off, not Linux, or not glibc)."""
    if os.environ.get(ENV_SWITCH, "1").strip().lower() in ("0", "false", "no", "off"):
        return False
    if not sys.platform.startswith("linux"):
        return False
    # The interpreter's own symbols, libc's among them: no library search (ctypes.util and its
    # imports would add up to 80 ms to every cold job start).
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # musl and others: no mallopt
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))
