"""Coverage of the verdict table's 95 % intervals (invnet.bootstrap) on cases with a known answer:
per-seed Bernoulli outcomes with a known p (iid, or per-seed p drawn from a Beta around p), over
seeded repetitions; as the verdict table computes them, without the small-sample scaling of the
seed component, and raw (values resampled at both stages without the shrinkage of Davison &
Hinkley). Prints one line per case: coverage and mean interval width of each. The numbers quoted in
docs/experiments.md §2.4 come from this script.

    python benchmarks/bootstrap_coverage.py [--repetitions 2000]
"""

from __future__ import annotations

import argparse

import numpy as np

from invnet.bootstrap import intervals

CASES = [  # (p, seeds, problems per seed, sd of the per-seed p)
    (0.3, 5, 64, 0.0), (0.3, 2, 64, 0.0), (0.3, 5, 16, 0.0), (0.8, 5, 256, 0.0), (0.3, 1, 64, 0.0),
    (0.4, 5, 64, 0.1), (0.4, 2, 64, 0.1), (0.4, 10, 64, 0.1),
]


def coverage(p: float, seeds: int, problems: int, seed_sd: float, repetitions: int, adjust: bool | str,
             rng_seed: int = 1) -> tuple[float, float]:
    rng = np.random.default_rng(rng_seed)
    hits, widths = 0, []
    for _ in range(repetitions):
        if seed_sd:
            m = p * (1 - p) / seed_sd**2 - 1
            probs = rng.beta(p * m, (1 - p) * m, size=seeds)
        else:
            probs = np.full(seeds, p)
        groups = [(rng.random(problems) < q).astype(float) for q in probs]
        iv = intervals(groups, replicates=1000, rng=rng, bounds=[(0, 1)], adjust=adjust)[0]
        hits += iv.contains(p)
        widths.append(iv.high - iv.low)
    return hits / repetitions, float(np.mean(widths))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repetitions", type=int, default=2000)
    args = parser.parse_args()
    for p, seeds, problems, sd in CASES:
        ours = coverage(p, seeds, problems, sd, args.repetitions, True)
        plain = coverage(p, seeds, problems, sd, args.repetitions, "no-small-sample")
        raw = coverage(p, seeds, problems, sd, args.repetitions, False)
        print(f"p={p} seeds={seeds} problems={problems} seed_sd={sd}: coverage {ours[0]:.3f} (width {ours[1]:.3f}); "
              f"without the small-sample scaling {plain[0]:.3f} ({plain[1]:.3f}); "
              f"raw two-stage {raw[0]:.3f} ({raw[1]:.3f})", flush=True)


if __name__ == "__main__":
    main()
