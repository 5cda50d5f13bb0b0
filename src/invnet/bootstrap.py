"""Confidence intervals for fractions of problems from a two-stage bootstrap: seeds are resampled
with replacement, then problems with replacement within each drawn seed (docs/experiments.md §2.4).

Resampling both stages of raw values counts the problem-level noise twice (once inside the spread
of the seed means, once more within each seed) and gives intervals about √2 too wide when seeds
do not differ (coverage near 99 % for a nominal 95 %). So the values are first shrunk as in
Davison & Hinkley (1997, *Bootstrap Methods and their Application*, §3.8, two-stage sampling):

    ỹ_ij = ȳ + c·(ȳ_i − ȳ) + d_i·(y_ij − ȳ_i),   d_i² = b_i / (b_i − 1),
    c² = σ̂²_seed / ((a − 1)/a · s²_means),    σ̂²_seed = max(0, s²_means − σ̂²_within / b̄)

(a seeds, b_i problems in seed i, s²_means the sample variance of the seed means, σ̂²_within the
pooled within-seed variance), so that the bootstrap variance of the pooled mean matches the
two-level estimate (σ̂²_seed + σ̂²_within / b̄) / a. The seed component is known only from a − 1
degrees of freedom, so c is further scaled by t_{a−1} / z (the 97.5 % quantiles of Student's t
and the normal for a 95 % interval): the small-sample width a t interval gives a mean of seed
means. The interval is the percentile interval of the resampled pooled means. Coverage on cases
with a known answer: ``benchmarks/bootstrap_coverage.py`` (docs/experiments.md §2.4).
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

LEVEL = 0.95
REPLICATES = 2000
CHUNK = 1_000_000  # resampled values held at once


@dataclass(frozen=True)
class Interval:
    """A point estimate (the pooled mean over every seed's problems) and its interval."""

    estimate: float
    low: float
    high: float

    def contains(self, value: float) -> bool:
        return self.low <= value <= self.high


def rng_for(label: str, seed: int = 0) -> np.random.Generator:
    """A generator fixed by a label (e.g. ``"verdict/wavepacket/n64"``): the same table twice
    gives the same intervals."""
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, zlib.crc32(label.encode())])))


def shrunk(groups: Sequence[np.ndarray], level: float = LEVEL, small_sample: bool = True) -> list[np.ndarray]:
    """Each seed's values (b_i, k) replaced by the Davison–Hinkley values ỹ_ij with the seed
    component's small-sample scaling (module docstring; ``small_sample=False`` leaves it out, for
    comparison only), per column."""
    from scipy import stats

    groups = [np.asarray(g, dtype=np.float64).reshape(len(g), -1) for g in groups]
    sizes = np.array([len(g) for g in groups], dtype=np.float64)
    means = np.stack([g.mean(axis=0) for g in groups])  # (a, k)
    grand = np.concatenate(groups).mean(axis=0)  # pooled mean, (k,)
    a = len(groups)
    dof = float(np.sum(np.maximum(sizes - 1, 0)))
    within = sum(((g - m) ** 2).sum(axis=0) for g, m in zip(groups, means)) / dof if dof > 0 else np.zeros_like(grand)
    if a > 1:
        s2_means = means.var(axis=0, ddof=1)
        seed_var = np.maximum(0.0, s2_means - within / sizes.mean())
        q = 1 - (1 - level) / 2
        small = stats.t.ppf(q, a - 1) / stats.norm.ppf(q) if small_sample else 1.0
        with np.errstate(invalid="ignore", divide="ignore"):
            c = small * np.where(s2_means > 0, np.sqrt(seed_var / ((a - 1) / a * s2_means)), 0.0)
    else:
        c = np.zeros_like(grand)
    out = []
    for g, m, b in zip(groups, means, sizes):
        d = np.sqrt(b / (b - 1)) if b > 1 else 1.0
        out.append(grand + c * (m - grand) + d * (g - m))
    return out


def replicate_means(groups: Sequence[np.ndarray], replicates: int = REPLICATES,
                    rng: np.random.Generator | None = None, adjust: bool | str = True,
                    level: float = LEVEL) -> np.ndarray:
    """(replicates, k) pooled means of two-stage resamples of ``groups`` (one (b_i, k) or (b_i,)
    array per seed): ``a`` seeds drawn with replacement, then each drawn seed's b_i values drawn
    with replacement. For comparison only: ``adjust=False`` resamples the raw values,
    ``adjust="no-small-sample"`` the shrunk values without the seed component's scaling."""
    groups = [np.asarray(g, dtype=np.float64).reshape(len(g), -1) for g in groups if len(g)]
    if not groups:
        raise ValueError("no values to resample")
    rng = rng if rng is not None else rng_for("bootstrap")
    values = shrunk(groups, level, small_sample=adjust != "no-small-sample") if adjust else groups
    a = len(values)
    k = values[0].shape[1]
    seeds = rng.integers(0, a, size=(replicates, a))
    totals = np.zeros((replicates, k))
    counts = np.zeros(replicates)
    for i, g in enumerate(values):  # every draw of seed i: b_i problems drawn from its values
        draws = seeds == i  # (replicates, a)
        times = draws.sum(axis=1)
        if not times.any():
            continue
        b = len(g)
        owner = np.repeat(np.arange(replicates), times)
        block = max(1, CHUNK // b)  # draws per block: memory bounded at any n
        for start in range(0, len(owner), block):
            rows = owner[start:start + block]
            idx = rng.integers(0, b, size=(len(rows), b))
            np.add.at(totals, rows, g[idx].sum(axis=1))
        counts += times * b
    return totals / counts[:, None]


def intervals(groups: Sequence[np.ndarray], level: float = LEVEL, replicates: int = REPLICATES,
              rng: np.random.Generator | None = None, bounds: Sequence[tuple[float, float]] | None = None,
              adjust: bool | str = True) -> list[Interval]:
    """One percentile interval per column of the groups' values (pooled mean as the estimate),
    from the same resamples; ``bounds`` clip each interval (e.g. (0, 1) for a fraction)."""
    arrays = [np.asarray(g, dtype=np.float64).reshape(len(g), -1) for g in groups if len(g)]
    if not arrays:
        raise ValueError("no values to resample")
    estimate = np.concatenate(arrays).mean(axis=0)
    reps = replicate_means(arrays, replicates, rng, adjust, level)
    alpha = (1.0 - level) / 2
    low, high = np.quantile(reps, [alpha, 1 - alpha], axis=0)
    out = []
    for j in range(len(estimate)):
        lo, hi = float(low[j]), float(high[j])
        if bounds is not None:
            lo, hi = max(lo, bounds[j][0]), min(hi, bounds[j][1])
        out.append(Interval(float(estimate[j]), lo, hi))
    return out


def fraction_interval(groups: Sequence[np.ndarray], level: float = LEVEL, replicates: int = REPLICATES,
                      rng: np.random.Generator | None = None) -> Interval:
    """The interval of one fraction: ``groups`` are per-seed arrays of 0/1 indicators."""
    return intervals(groups, level, replicates, rng, bounds=[(0.0, 1.0)])[0]


def simulated_coverage(p: float, seeds: int, problems: int, repetitions: int, seed_sd: float = 0.0,
                       adjust: bool | str = True, rng_seed: int = 1) -> tuple[float, float]:
    """(how often the 95 % interval of a fraction holds the true p, mean width) over seeded
    repetitions on a case with a known answer: each draws ``seeds`` groups of ``problems``
    Bernoulli outcomes (success probability p, or per seed a Beta draw with mean p and sd
    ``seed_sd``). Used by tests/test_verdict.py and benchmarks/bootstrap_coverage.py."""
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
