"""Wall time and CPU of a whole command, every process it starts included: also those that outlive
their parent, such as the warm interpreter (``invnet.warm``) a job starts in its own session and
the jobs forked from it, which ``/usr/bin/time`` does not count (it sees only the processes their
parents waited for). This process makes itself the subreaper of the command's tree (Linux
``PR_SET_CHILD_SUBREAPER``), so every orphan is handed to it and waited for.

    python benchmarks/run_cpu.py -- snakemake --cores 2 --configfile config/smoke.yaml

The warm interpreter waits ``INVNET_WARM_IDLE_S`` (set to 5 here unless given) after the last job
before it ends; that tail is printed apart from the command's wall time. Last line:
``wall_s=<command> cpu_s=<user+sys of every process> user_s=<u> sys_s=<s> tail_s=<t>``.
"""

from __future__ import annotations

import ctypes
import os
import resource
import subprocess
import sys
import time

PR_SET_CHILD_SUBREAPER = 36


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--"]:
        argv = argv[1:]
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER) failed")
    env = dict(os.environ)
    env.setdefault("INVNET_WARM_IDLE_S", "5")
    t0 = time.perf_counter()
    code = subprocess.run(argv, env=env).returncode
    wall = time.perf_counter() - t0
    while True:  # the orphans handed to this process: wait for each (their CPU is then counted)
        try:
            os.wait()
        except ChildProcessError:
            break
    tail = time.perf_counter() - t0 - wall
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    print(f"wall_s={wall:.1f} cpu_s={usage.ru_utime + usage.ru_stime:.1f} user_s={usage.ru_utime:.1f} "
          f"sys_s={usage.ru_stime:.1f} tail_s={tail:.1f} exit={code}")
    return code


if __name__ == "__main__":
    sys.exit(main())
