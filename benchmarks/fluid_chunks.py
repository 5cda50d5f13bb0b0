"""CPU of the fluid family's loss + backward with the fused RK4 loop run over a few problems at a
time (``invnet.problems.fluid.CHUNK_POINTS``, this tree's default) against one call over the whole
batch (the code before the chunking), in the same process, alternating, on one torch thread.

With ``--busy`` a second process runs the same work on the other core meanwhile, as the pipeline
runs two jobs at once on a 2-core machine (the two then share the memory bus and the last-level
cache).

    python benchmarks/fluid_chunks.py [--sizes 16 64 256] [--busy] [--min-time 2]

Last line: ``fluid_chunked_n<n>=<one call / chunked>`` per size, then ``identical=<yes|no>``.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time

import numpy as np
import torch
from forward_cost import best_cpu, bits

from invnet.allocator import keep_freed_memory
from invnet.problems import fluid as fluid_module
from invnet.problems import make_family

WHOLE_BATCH = 1 << 40  # CHUNK_POINTS so large that every batch is one call


def loss_grad(fam, x, gam, y):
    xr = x.clone().requires_grad_(True)
    loss = fam.loss(fam.forward(xr, gam), y)
    loss.sum().backward()
    return loss.detach(), xr.grad


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[16, 64, 256])
    ap.add_argument("--busy", action="store_true", help="load the other core with the same work meanwhile")
    ap.add_argument("--min-time", type=float, default=2.0, help="CPU seconds of repeats per timing")
    ap.add_argument("--rounds", type=int, default=2, help="alternations of the two settings per size")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    keep_freed_memory()
    chunked = fluid_module.CHUNK_POINTS
    load = None
    if args.busy:
        code = ("import sys; sys.argv[1:] = ['--sizes', '64', '--min-time', '1e9', '--rounds', '1000']; "
                "import fluid_chunks; fluid_chunks.main()")
        load = subprocess.Popen([sys.executable, "-c", code], cwd=__file__.rsplit("/", 1)[0],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(3)
    fam = make_family("fluid")
    ratios, identical = [], True
    print(f"torch={torch.__version__} threads=1 chunk_points={chunked} busy={args.busy}")
    print(f"{'n':>5} {'chunks':>8} {'one call ms':>12} {'chunked ms':>11} {'ratio':>6} same bits")
    try:
        for n in args.sizes:
            pset = fam.sample(n, np.random.default_rng(n))
            x = torch.as_tensor(pset.x_true) * 1.05
            gam, y = torch.as_tensor(pset.gamma), torch.as_tensor(pset.y_target)
            best = {WHOLE_BATCH: float("inf"), chunked: float("inf")}
            outs = {}
            for _ in range(args.rounds):
                for setting in best:
                    fluid_module.CHUNK_POINTS = setting
                    best[setting] = min(best[setting], best_cpu(lambda: loss_grad(fam, x, gam, y), args.min_time))
                    outs[setting] = loss_grad(fam, x, gam, y)
            fluid_module.CHUNK_POINTS = chunked
            same = all(torch.equal(bits(a), bits(b)) for a, b in zip(outs[WHOLE_BATCH], outs[chunked]))
            identical &= same
            one, many = best[WHOLE_BATCH] * 1e3, best[chunked] * 1e3
            parts = len(fluid_module.chunk_sizes(n, fam.params["n_grid"]))
            print(f"{n:>5} {parts:>8} {one:>12.1f} {many:>11.1f} {one / many:>6.2f} {'yes' if same else 'NO'}",
                  flush=True)
            ratios.append(f"fluid_chunked_n{n}={one / many:.2f}")
    finally:
        if load is not None:
            load.kill()
    print(" ".join([*ratios, f"identical={'yes' if identical else 'no'}"]))
    return 0 if identical else 1


if __name__ == "__main__":
    sys.exit(main())
