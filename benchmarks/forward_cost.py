"""Forward and forward+backward cost of every family at several batch sizes, this tree against
main before the fused spectral kernels (commit 733b259), in the same process.

The "before" families are the modules of that commit (``git show REV:src/invnet/problems/<m>.py``,
relative imports made absolute), loaded under other names beside this tree's; both compute on the
same problem set (sampled once with this tree), in float64 with one torch thread, the pipeline's
setting. Per (family, n): CPU seconds (``time.process_time``, best of repeats) of one forward
under ``no_grad`` and of one loss + backward, before and after, and whether losses and gradients
are the same bits.

    python benchmarks/forward_cost.py [--sizes 1 16 256 1024] [--families ks fluid]
        [--rev 733b259] [--no-grad-above fluid=256] [--min-time 0.5]

Last line: ``<family>_fb_n<n>=<before/after>`` for every measured forward+backward, then
``identical=<yes|no>``.
"""

from __future__ import annotations

import argparse
import importlib.util
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from invnet.allocator import keep_freed_memory
from invnet.problems import families

REPO = Path(__file__).resolve().parents[1]


def before_family(cls: type, rev: str, tmp: Path):
    """The family ``cls`` as its module was at ``rev``, instantiated with default parameters."""
    module = cls.__module__.rsplit(".", 1)[-1]
    source = subprocess.run(["git", "-C", str(REPO), "show", f"{rev}:src/invnet/problems/{module}.py"],
                            check=True, capture_output=True, text=True).stdout
    source = re.sub(r"^from \.\.", "from invnet.", source, flags=re.M)
    source = re.sub(r"^from \. import", "from invnet.problems import", source, flags=re.M)
    source = re.sub(r"^from \.", "from invnet.problems.", source, flags=re.M)
    path = tmp / f"before_{module}.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location(f"before_{module}", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    old = next(v for v in vars(mod).values() if isinstance(v, type) and getattr(v, "name", None) == cls.name
               and v.__module__ == mod.__name__)
    return old()


def best_cpu(fn, min_time: float) -> float:
    """Best CPU seconds of ``fn`` over repeats totalling at least ``min_time`` (at least 2)."""
    fn()  # warm-up
    times: list[float] = []
    while len(times) < 2 or sum(times) < min_time:
        t = time.process_time()
        fn()
        times.append(time.process_time() - t)
    return min(times)


def bits(t: torch.Tensor) -> torch.Tensor:
    return t.detach().contiguous().view(torch.int64)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[1, 16, 256, 1024])
    ap.add_argument("--families", nargs="+", default=None, help="default: every registered family")
    ap.add_argument("--rev", default="733b259", help="the 'before' commit")
    ap.add_argument("--no-grad-above", nargs="*", default=["fluid=256"],
                    help="family=n: no forward+backward above n (the eager graph of fluid at n=1024 "
                         "keeps about 10 GB)")
    ap.add_argument("--min-time", type=float, default=0.5, help="CPU seconds of repeats per timing")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    keep_freed_memory()  # malloc as jobs set it (invnet.allocator), for both sides
    grad_cap = {k: int(v) for k, v in (item.split("=") for item in args.no_grad_above)}
    names = args.families or sorted(families())
    rows, ratios, identical = [], [], True
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            new = families()[name]()
            old = before_family(type(new), args.rev, Path(tmp))
            for n in args.sizes:
                pset = new.sample(n, np.random.default_rng(n))
                x = torch.as_tensor(pset.x_true) * 1.05
                gam = None if pset.gamma is None else torch.as_tensor(pset.gamma)
                y = torch.as_tensor(pset.y_target)
                row = [name, n]
                outs = {}
                for fam in (old, new):
                    def forward(fam=fam):
                        with torch.no_grad():
                            return fam.forward(x, gam)

                    row.append(best_cpu(forward, args.min_time) * 1e3)
                    outs[fam] = [forward()]
                if n <= grad_cap.get(name, n):
                    for fam in (old, new):
                        def loss_grad(fam=fam):
                            xr = x.clone().requires_grad_(True)
                            loss = fam.loss(fam.forward(xr, gam), y)
                            loss.sum().backward()
                            return loss, xr.grad

                        row.append(best_cpu(loss_grad, args.min_time) * 1e3)
                        outs[fam] += list(loss_grad())
                    ratios.append(f"{name}_fb_n{n}={row[4] / row[5]:.2f}")
                else:
                    row += [float("nan"), float("nan")]
                same = all(torch.equal(bits(a), bits(b)) for a, b in zip(outs[old], outs[new]))
                identical &= same
                rows.append(row + ["yes" if same else "NO"])
                print(f"{name} n={n} done", file=sys.stderr, flush=True)
    head = ("family", "n", "fwd before ms", "fwd after ms", "ratio", "fwd+bwd before ms", "fwd+bwd after ms", "ratio",
            "same bits")
    table = [head] + [(r[0], r[1], f"{r[2]:.2f}", f"{r[3]:.2f}", f"{r[2] / r[3]:.1f}", f"{r[4]:.2f}", f"{r[5]:.2f}",
                       f"{r[4] / r[5]:.1f}", r[6]) for r in rows]
    widths = [max(len(str(r[i])) for r in table) for i in range(len(head))]
    print(f"torch={torch.__version__} threads=1 before={args.rev} cpu={torch.backends.cpu.get_cpu_capability()}")
    for r in table:
        print("  ".join(str(v).rjust(w) for v, w in zip(r, widths)))
    print(" ".join([*ratios, f"identical={'yes' if identical else 'no'}"]))
    return 0 if identical else 1


if __name__ == "__main__":
    sys.exit(main())
