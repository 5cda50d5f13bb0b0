"""Batched SciPy BFGS (``invnet.solvers.batched_bfgs``) vs a sequential SciPy loop.

Both solve the same problems from the shared x0 in the same process, float64: the loop calls
``scipy.optimize.minimize(method="BFGS", jac=True)`` once per problem with that problem's slice
of the same ``Objective`` (idx of length 1). For large n the loop runs on a random subset and its
time is extrapolated linearly (said in the table). Two problem families:

- the wave packet (cheap forward) at ``--sizes``;
- Kuramoto–Sivashinsky (``ks``, default parameters: T = 20, 80 ETDRK4 steps per forward, an
  expensive forward) at ``--ks-n``, the loop on ``--ks-seq`` problems, extrapolated.

Last line: ``speedup_n512=<a> speedup_n4096=<b> frac_match=<c> ks_speedup_n512=<x>
ks_frac_match=<y>``; c and y = fraction of compared problems whose batched solution is within
1e-8 (max abs) of SciPy's (both NaN/inf in the same places counts as a match).

The column ``sum nfev/rounds`` is the ceiling of the speed-up if a batched call cost no more than a
single-problem call: the loop makes sum(nfev) calls, the batch at least one call per round, and it
runs as many rounds as its slowest problem needs evaluations (BFGS is sequential per problem).
Where the per-call overhead is gone, a batched call of m problems costs more than a single one,
so the column ``forward bound`` is the ceiling the forward itself sets: the loop's time over the
time the batched run's own sequence of calls takes when nothing but the forward + backward runs
(each call's row count recorded, its cost c(m) timed on a grid of m, best of 3, interpolated
linearly). Speed-up / forward bound is the share of that ceiling the batched optimizer reaches;
the last line gives it for KS as ``ks_forward_bound_n512``.

    python benchmarks/bfgs_batched.py [--sizes 512 4096] [--ks-n 512] [--ks-seq 64] [--threads 1]
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import scipy.optimize
import torch

from invnet.allocator import keep_freed_memory
from invnet.problems import Objective, ProblemSet, make_family
from invnet.solvers.batched_bfgs import bfgs_batched

TOL = 1e-8


def objective_on(pset: ProblemSet, device: torch.device) -> Objective:
    """The problems' float64 Objective with its tensors on ``device`` (the wave-packet family keeps
    its time grid in a private CPU tensor, moved along here on an instance of its own)."""
    fam = make_family("wavepacket")
    fam._t = fam._t.to(device)
    obj = Objective.from_set(fam, pset)
    obj.y_target = obj.y_target.to(device)
    obj.evaluations = obj.evaluations.to(device)
    return obj


def ks_objective_on(pset: ProblemSet, device: torch.device) -> Objective:
    """The KS problems' float64 Objective on ``device`` (the family moves its own constants)."""
    return Objective.from_set(make_family("ks"), pset, device=device)


def max_abs_diff(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise max |a - b|, 0 where both are the same non-finite value."""
    same = (a == b) | (np.isnan(a) & np.isnan(b))
    return np.where(same, 0.0, np.abs(a - b)).max(axis=1)


def sequential(
    obj: Objective, x0: np.ndarray, which: np.ndarray, device: torch.device
) -> tuple[np.ndarray, ...]:
    """SciPy BFGS one problem at a time; returns (x, nit, status) of the problems ``which``."""
    xs, nits, stats = [], [], []
    for i in which:
        idx = torch.tensor([int(i)], device=device)

        def fun(x: np.ndarray) -> tuple[float, np.ndarray]:
            f, g = obj.value_and_grad(torch.from_numpy(x).to(device)[None], idx)
            return f.item(), g[0].cpu().numpy()

        res = scipy.optimize.minimize(fun, x0[i], jac=True, method="BFGS")
        xs.append(res.x)
        nits.append(res.nit)
        stats.append(res.status)
    return np.array(xs), np.array(nits), np.array(stats)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[512, 4096])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--seq-max", type=int, default=512, help="largest sequential run; beyond: subset")
    ap.add_argument("--repeats", type=int, default=3, help="batched timing: best of this many")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: every usable core)")
    ap.add_argument("--ks-n", type=int, default=512, help="KS problems (0: skip KS)")
    ap.add_argument("--ks-seq", type=int, default=64, help="KS sequential subset (extrapolated)")
    ap.add_argument("--ks-repeats", type=int, default=1, help="KS batched timing: best of this many")
    args = ap.parse_args()
    keep_freed_memory()  # malloc as jobs set it (invnet.allocator), for both sides

    threads = args.threads or len(os.sched_getaffinity(0))
    torch.set_num_threads(threads)
    device = torch.device(args.device)
    fam = make_family("wavepacket")

    # warm-up: first calls pay for lazy initialisation in torch and SciPy
    warm = objective_on(fam.sample(32, np.random.default_rng(12345)), device)
    bfgs_batched(warm.value_and_grad, torch.tensor(np.tile(fam.x0, (32, 1)), device=device))
    sequential(warm, np.tile(fam.x0, (32, 1)), np.arange(4), device)

    def compare_at(name, obj, n, x0, seq_max, repeats, rng):
        x0_t = torch.tensor(x0, device=device)
        best = float("inf")
        calls: list[int] = []

        def recorded(x, idx=None):
            calls.append(int(x.shape[0]))
            return obj.value_and_grad(x, idx)

        for _ in range(repeats):
            if device.type == "cuda":
                torch.cuda.synchronize()
            calls.clear()
            t = time.perf_counter()
            res = bfgs_batched(recorded, x0_t)
            if device.type == "cuda":
                torch.cuda.synchronize()
            best = min(best, time.perf_counter() - t)

        which = np.arange(n) if n <= seq_max else np.sort(rng.choice(n, seq_max, replace=False))
        t = time.perf_counter()
        xs, nits, stats = sequential(obj, x0, which, device)
        t_seq = (time.perf_counter() - t) * n / len(which)

        dx = max_abs_diff(xs, res.x[which].cpu().numpy())
        ok = int((dx <= TOL).sum())
        nit_eq = int((nits == res.nit[which].cpu().numpy()).sum())
        status_eq = int((stats == res.status[which].cpu().numpy()).sum())
        seq_note = "" if len(which) == n else f" (extrapolated from {len(which)})"
        # Ceiling of the speed-up when a batched call costs no more than one single-problem call:
        # the loop pays sum(nfev) calls, the batch at least `rounds` (its slowest problem's nfev).
        bound = float(res.nfev.sum()) / res.rounds
        forward_bound = t_seq / forward_only_time(obj, x0_t, calls)
        row = (name, n, f"{best:.3f}", res.rounds, f"{bound:.1f}", f"{forward_bound:.1f}", f"{t_seq:.2f}{seq_note}",
               f"{t_seq / best:.1f}", f"{ok}/{len(which)}", f"{dx.max():.1e}", nit_eq, status_eq)  # fmt: skip
        return row, t_seq / best, forward_bound, ok, len(which)

    def forward_only_time(obj, x0_t, calls):
        """Seconds the recorded sequence of batched calls costs in the forward + backward alone."""
        grid = sorted({1, max(calls), *[2**k for k in range(1, max(calls).bit_length())]})
        cost = []
        for m in grid:
            x, idx = x0_t[:m], torch.arange(m, device=x0_t.device)
            obj.value_and_grad(x, idx)  # warm
            times = []
            for _ in range(3):
                t = time.perf_counter()
                obj.value_and_grad(x, idx)
                times.append(time.perf_counter() - t)
            cost.append(min(times))
        return float(np.interp(calls, grid, cost).sum())

    rows, speedups, matched, compared = [], {}, 0, 0
    for n in args.sizes:
        rng = np.random.default_rng(args.seed)
        obj = objective_on(fam.sample(n, rng), device)
        row, speedups[n], _, ok, cmp = compare_at(
            "wavepacket", obj, n, np.tile(fam.x0, (n, 1)), args.seq_max, args.repeats, rng
        )
        rows.append(row)
        matched, compared = matched + ok, compared + cmp

    ks_parts = []
    if args.ks_n > 0:
        ks = make_family("ks")
        warm = ks_objective_on(ks.sample(8, np.random.default_rng(12345)), device)
        bfgs_batched(warm.value_and_grad, torch.tensor(np.tile(ks.x0, (8, 1)), device=device))
        sequential(warm, np.tile(ks.x0, (8, 1)), np.arange(2), device)
        n = args.ks_n
        rng = np.random.default_rng(args.seed)
        obj = ks_objective_on(ks.sample(n, rng), device)
        row, ks_speedup, ks_bound, ok, cmp = compare_at(
            "ks", obj, n, np.tile(ks.x0, (n, 1)), args.ks_seq, args.ks_repeats, rng
        )
        rows.append(row)
        ks_parts = [f"ks_speedup_n{n}={ks_speedup:.1f}", f"ks_forward_bound_n{n}={ks_bound:.1f}",
                    f"ks_frac_match={ok / max(cmp, 1):.4f}"]

    head = ("problem", "n", "batched s", "rounds", "sum nfev/rounds", "forward bound", "scipy loop s", "speedup", "<=1e-8", "max|dx|", "nit eq", "status eq")
    widths = [max(len(str(r[i])) for r in [head, *rows]) for i in range(len(head))]
    print(f"device={device} threads={threads} torch={torch.__version__} scipy={scipy.__version__}")
    for r in [head, *rows]:
        print("  ".join(str(v).rjust(w) for v, w in zip(r, widths)))
    parts = [f"speedup_n{n}={s:.1f}" for n, s in speedups.items()]
    print(" ".join([*parts, f"frac_match={matched / max(compared, 1):.4f}", *ks_parts]))


if __name__ == "__main__":
    main()
