"""Uncertainty of the numbers the reports print and the CI gate tests.

Videos of one group (one actor, one source clip) are not independent, so every bootstrap here
resamples groups. With few groups (the synthetic splits hold out 2-4 groups, UCF101 split 1 holds 7)
a pure group bootstrap is degenerate: two groups give three possible means. The default is therefore
the two-stage (hierarchical) bootstrap: draw groups with replacement, then videos with replacement
within each drawn group. It keeps the group correlation and is slightly conservative when there are
many groups, which is the safe side for a gate.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np
from scipy import stats as sps

N_BOOT = 2000
LEVEL = 0.95


@dataclass(frozen=True)
class Interval:
    estimate: float
    low: float
    high: float

    def __str__(self) -> str:
        return f"{self.estimate:.3f} [{self.low:.3f}, {self.high:.3f}]"


def group_resamples(groups, n_boot: int = N_BOOT, seed: int = 0, two_stage: bool = True) -> list[np.ndarray]:
    """``n_boot`` arrays of item indices, each one bootstrap replicate resampled by group.

    A replicate draws as many groups as there are, uniformly with replacement, and takes every drawn
    group whole (``two_stage=False``) or resamples its items with replacement (``two_stage=True``).
    Replicates differ in size when groups do; paired statistics use the same indices on both sides.
    """
    groups = np.asarray(groups)
    if len(groups) == 0:
        raise ValueError("cannot bootstrap an empty set")
    rng = np.random.default_rng(seed)
    _, codes = np.unique(groups.astype(str), return_inverse=True)
    order = np.argsort(codes, kind="stable")
    sizes = np.bincount(codes)
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    n_groups, widest = len(sizes), int(sizes.max())
    slot = np.arange(widest)
    out: list[np.ndarray] = []
    for first in range(0, n_boot, 64):  # in chunks: (B, G, W) arrays of a large test set would be big
        batch = min(64, n_boot - first)
        drawn = rng.integers(0, n_groups, size=(batch, n_groups))                     # (B, G) group ids
        if two_stage:
            offsets = np.floor(rng.random((batch, n_groups, widest)) * sizes[drawn][..., None]).astype(np.int64)
        else:
            offsets = np.broadcast_to(slot, (batch, n_groups, widest))
        valid = slot < sizes[drawn][..., None]                                       # (B, G, W)
        items = order[np.where(valid, starts[drawn][..., None] + offsets, 0)]
        out += [items[b][valid[b]] for b in range(batch)]
    return out


def percentile_interval(estimate: float, replicates, level: float = LEVEL) -> Interval:
    replicates = np.asarray(replicates, dtype=np.float64)
    replicates = replicates[np.isfinite(replicates)]
    if len(replicates) == 0:
        return Interval(float(estimate), math.nan, math.nan)
    alpha = (1 - level) / 2
    low, high = np.quantile(replicates, [alpha, 1 - alpha])
    return Interval(float(estimate), float(low), float(high))


def bootstrap_replicates(statistic: Callable[[np.ndarray], float], groups, n_boot: int = N_BOOT, seed: int = 0,
                         two_stage: bool = True) -> tuple[float, np.ndarray]:
    """(statistic on all items, statistic on each group resample): for averaging over several jobs."""
    groups = np.asarray(groups)
    estimate = float(statistic(np.arange(len(groups))))
    replicates = np.array([statistic(idx) for idx in group_resamples(groups, n_boot, seed, two_stage)])
    return estimate, replicates


def bootstrap(statistic: Callable[[np.ndarray], float], groups, n_boot: int = N_BOOT, level: float = LEVEL,
              seed: int = 0, two_stage: bool = True) -> Interval:
    """Percentile interval of ``statistic(indices)`` over group resamples (indices into the items)."""
    estimate, replicates = bootstrap_replicates(statistic, groups, n_boot, seed, two_stage)
    return percentile_interval(estimate, replicates, level)


def mean_interval(values, groups, **kwargs) -> Interval:
    values = np.asarray(values, dtype=np.float64)
    return bootstrap(lambda idx: float(values[idx].mean()), groups, **kwargs)


def mean_class_accuracy_interval(pred, labels, groups, **kwargs) -> Interval:
    pred, labels = np.asarray(pred), np.asarray(labels)

    def statistic(idx: np.ndarray) -> float:
        p, y = pred[idx], labels[idx]
        return float(np.mean([np.mean(p[y == c] == c) for c in np.unique(y)]))

    return bootstrap(statistic, groups, **kwargs)


def paired_difference(now, base, groups, **kwargs) -> Interval:
    """Interval of mean(now) - mean(base) over the same items, resampled together (by group)."""
    diff = np.asarray(now, dtype=np.float64) - np.asarray(base, dtype=np.float64)
    return mean_interval(diff, groups, **kwargs)


@dataclass(frozen=True)
class McNemar:
    now_only: int      # items right now and wrong in the baseline
    base_only: int     # items wrong now and right in the baseline
    p_value: float     # exact (binomial) test of now_only vs base_only


def mcnemar_exact(now_correct, base_correct, alternative: str = "two-sided") -> McNemar:
    """Exact McNemar test: a binomial test of the discordant pairs. ``alternative="less"`` asks
    whether now is worse (fewer now-only right than baseline-only right)."""
    now_correct, base_correct = np.asarray(now_correct, bool), np.asarray(base_correct, bool)
    b = int(np.sum(now_correct & ~base_correct))
    c = int(np.sum(~now_correct & base_correct))
    p = 1.0 if b + c == 0 else float(sps.binomtest(b, b + c, 0.5, alternative=alternative).pvalue)
    return McNemar(b, c, p)


def robust_log_spread(samples) -> tuple[float, float] | None:
    """(median, 1.4826 x median absolute deviation) of log(samples): a spread that one disturbed
    measurement cannot inflate. None with fewer than two positive samples."""
    x = np.asarray([s for s in samples if s is not None and s > 0], dtype=np.float64)
    if len(x) < 2:
        return None
    logs = np.log(x)
    centre = float(np.median(logs))
    return centre, float(1.4826 * np.median(np.abs(logs - centre)))


def ratio_interval(ratio: float, sd_log: float, level: float = LEVEL) -> Interval:
    """Log-normal interval of a ratio whose logarithm has standard deviation ``sd_log``."""
    z = float(sps.norm.ppf(0.5 + level / 2))
    return Interval(ratio, ratio * math.exp(-z * sd_log), ratio * math.exp(z * sd_log))


def pooled_over_runs(job_replicates: dict[tuple[int, int], np.ndarray], job_estimates: dict[tuple[int, int], float],
                     n_boot: int = N_BOOT, seed: int = 0) -> tuple[float, np.ndarray]:
    """(estimate, replicates) of a statistic averaged over the jobs of a run, (split, seed) -> value.

    ``job_replicates[(split, s)]`` are the job's group-bootstrap replicates, made with the same group
    resamples for every seed of a split (its test videos). Each replicate also redraws the seeds of each
    split with replacement, so the spread between training seeds enters the interval (with one seed per
    split it cannot: the interval then holds test-video sampling only). Splits are fixed, not resampled:
    the three splits are the design's whole population of splits, their different test actors are in
    the group resampling. Estimate: mean over splits of the mean over its seeds."""
    rng = np.random.default_rng(seed)
    splits = sorted({split for split, _ in job_replicates})
    per_split_est, per_split_reps = [], []
    for split in splits:
        seeds = sorted(s for sp, s in job_replicates if sp == split)
        reps = np.stack([job_replicates[(split, s)][:n_boot] for s in seeds])        # (k, B)
        drawn = rng.integers(0, len(seeds), size=(reps.shape[1], len(seeds)))         # (B, k)
        per_split_reps.append(reps[drawn, np.arange(reps.shape[1])[:, None]].mean(axis=1))
        per_split_est.append(float(np.mean([job_estimates[(split, s)] for s in seeds])))
    return float(np.mean(per_split_est)), np.mean(per_split_reps, axis=0)


def rank_sum_p(now, base, max_enumerated: int = 200_000) -> float:
    """One-sided p of the Mann-Whitney test (now larger), exact with ties: the mid-rank sum of ``now``
    against its value in every split of the pooled samples into the two sizes (scipy's exact method
    ignores ties and its asymptotic one cannot reach the small p that 6 vs 6 samples allow). Falls back
    to scipy's asymptotic test beyond ``max_enumerated`` splits."""
    from itertools import combinations

    now, base = np.asarray(now, dtype=float), np.asarray(base, dtype=float)
    n, m = len(now), len(base)
    if math.comb(n + m, n) > max_enumerated:
        return float(sps.mannwhitneyu(now, base, alternative="greater").pvalue)
    ranks = sps.rankdata(np.concatenate([now, base]))
    splits = np.array(list(combinations(range(n + m), n)))
    sums = ranks[splits].sum(axis=1)
    observed = ranks[:n].sum()
    return float(np.mean(sums >= observed - 1e-9))
