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

from invnet.bootstrap import simulated_coverage

CASES = [  # (p, seeds, problems per seed, sd of the per-seed p)
    (0.3, 5, 64, 0.0), (0.3, 2, 64, 0.0), (0.3, 5, 16, 0.0), (0.8, 5, 256, 0.0), (0.3, 1, 64, 0.0),
    (0.4, 5, 64, 0.1), (0.4, 2, 64, 0.1), (0.4, 10, 64, 0.1),
]


def coverage(p: float, seeds: int, problems: int, seed_sd: float, repetitions: int,
             adjust: bool | str) -> tuple[float, float]:
    return simulated_coverage(p, seeds, problems, repetitions, seed_sd, adjust)


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
