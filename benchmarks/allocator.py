"""CPU of one loss + backward of the KS and fluid families with glibc's malloc as jobs set it
(:mod:`invnet.allocator`) against glibc's defaults, and whether the numbers are the same bits.

The setting is process-wide and cannot be undone, so each measurement runs in a child process; the
two settings alternate, ``--rounds`` times, and the median of each is compared. Float64, one torch
thread, the fused spectral kernels where they apply: a job's setting.

    python benchmarks/allocator.py [--rounds 3] [--cases ks:256 fluid:64 fluid:16]

Last line: ``<family>_n<n>=<default/kept>`` per case, then ``identical=<yes|no>``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import subprocess
import sys


def child(cases: list[str], min_time: float) -> None:
    """Time every case in this process (the allocator as the environment says) and print JSON."""
    import numpy as np
    import torch
    from forward_cost import best_cpu  # this folder's forward-cost benchmark: best CPU of repeats

    from invnet.allocator import keep_freed_memory
    from invnet.problems import make_family

    kept = keep_freed_memory()
    torch.set_num_threads(1)
    out = {"kept": kept}
    for case in cases:
        name, n = case.split(":")
        fam = make_family(name)
        ps = fam.sample(int(n), np.random.default_rng(0))
        x = torch.as_tensor(ps.x_true) + 0.01
        gamma = None if ps.gamma is None else torch.as_tensor(ps.gamma)
        y = torch.as_tensor(ps.y_target)

        def step():
            xx = x.clone().requires_grad_(True)
            loss = fam.loss(fam.forward(xx, gamma), y).sum()
            loss.backward()
            return loss.detach(), xx.grad

        loss, grad = step()  # also builds or loads the kernels
        digest = hashlib.sha256(loss.numpy().tobytes() + grad.numpy().tobytes()).hexdigest()[:16]
        out[case] = {"ms": 1e3 * best_cpu(step, min_time), "digest": digest}
    print(json.dumps(out))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--cases", nargs="+", default=["ks:256", "ks:16", "fluid:64", "fluid:16"])
    ap.add_argument("--min-time", type=float, default=2.0, help="CPU seconds per case and child")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        child(a.cases, a.min_time)
        return
    runs: dict[str, list[dict]] = {"default": [], "kept": []}
    for _ in range(a.rounds):
        for mode in runs:
            env = dict(os.environ, INVNET_KEEP_MEMORY="1" if mode == "kept" else "0")
            res = subprocess.run([sys.executable, __file__, "--child", "--min-time", str(a.min_time), "--cases", *a.cases],
                                 env=env, check=True, capture_output=True, text=True)
            runs[mode].append(json.loads(res.stdout.strip().splitlines()[-1]))
    if not all(r["kept"] for r in runs["kept"]) or any(r["kept"] for r in runs["default"]):
        sys.exit("the allocator setting did not take effect as asked (not glibc?)")
    print(f"{'case':<10} {'default ms':>11} {'kept ms':>9} {'ratio':>6}  (CPU of one loss + backward, best per child, "
          f"median of {a.rounds} children)")
    fields, same = [], True
    for case in a.cases:
        d = statistics.median(r[case]["ms"] for r in runs["default"])
        k = statistics.median(r[case]["ms"] for r in runs["kept"])
        same &= len({r[case]["digest"] for mode in runs.values() for r in mode}) == 1
        print(f"{case:<10} {d:>11.2f} {k:>9.2f} {d / k:>6.2f}")
        name, n = case.split(":")
        fields.append(f"{name}_n{n}={d / k:.2f}")
    print(" ".join(fields + [f"identical={'yes' if same else 'no'}"]))


if __name__ == "__main__":
    main()
