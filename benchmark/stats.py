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


def group_resamples(groups, n_boot: int = N_BOOT, seed: int = 0, two_stage: bool = True) -> np.ndarray:
    """(n_boot, n) item indices, each row one bootstrap replicate resampled by group.

    Every replicate has exactly n items, so paired statistics line up; groups are drawn in proportion
    to their size (a group with more videos stands for more of the test set).
    """
    groups = np.asarray(groups)
    n = len(groups)
    if n == 0:
        raise ValueError("cannot bootstrap an empty set")
    rng = np.random.default_rng(seed)
    _, codes = np.unique(groups.astype(str), return_inverse=True)
    members = [np.flatnonzero(codes == g) for g in range(codes.max() + 1)]
    sizes = np.array([len(m) for m in members])
    out = np.empty((n_boot, n), dtype=np.int64)
    for b in range(n_boot):
        picked: list[np.ndarray] = []
        total = 0
        while total < n:
            g = rng.choice(len(members), p=sizes / n)
            chosen = rng.choice(members[g], size=len(members[g]), replace=True) if two_stage else members[g]
            picked.append(chosen)
            total += len(chosen)
        out[b] = np.concatenate(picked)[:n]
    return out


def _percentile_interval(estimate: float, replicates: np.ndarray, level: float) -> Interval:
    replicates = replicates[np.isfinite(replicates)]
    if len(replicates) == 0:
        return Interval(estimate, math.nan, math.nan)
    alpha = (1 - level) / 2
    low, high = np.quantile(replicates, [alpha, 1 - alpha])
    return Interval(float(estimate), float(low), float(high))


def bootstrap(statistic: Callable[[np.ndarray], float], groups, n_boot: int = N_BOOT, level: float = LEVEL,
              seed: int = 0, two_stage: bool = True) -> Interval:
    """Percentile interval of ``statistic(indices)`` over group resamples (indices into the items)."""
    groups = np.asarray(groups)
    estimate = statistic(np.arange(len(groups)))
    replicates = np.array([statistic(idx) for idx in group_resamples(groups, n_boot, seed, two_stage)])
    return _percentile_interval(estimate, replicates, level)


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
    p_value: float     # two-sided exact (binomial) test of now_only vs base_only


def mcnemar_exact(now_correct, base_correct) -> McNemar:
    now_correct, base_correct = np.asarray(now_correct, bool), np.asarray(base_correct, bool)
    b = int(np.sum(now_correct & ~base_correct))
    c = int(np.sum(~now_correct & base_correct))
    p = 1.0 if b + c == 0 else float(sps.binomtest(b, b + c, 0.5).pvalue)
    return McNemar(b, c, p)


def log_sd(samples) -> float | None:
    """Sample standard deviation of log(samples); None with fewer than two positive samples."""
    x = np.asarray([s for s in samples if s is not None and s > 0], dtype=np.float64)
    if len(x) < 2:
        return None
    return float(np.std(np.log(x), ddof=1))


def ratio_interval(ratio: float, sd_log: float, level: float = LEVEL) -> Interval:
    """Log-normal interval of a ratio whose logarithm has standard deviation ``sd_log``."""
    z = float(sps.norm.ppf(0.5 + level / 2))
    return Interval(ratio, ratio * math.exp(-z * sd_log), ratio * math.exp(z * sd_log))
