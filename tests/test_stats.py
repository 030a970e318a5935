"""Bootstrap by group, paired differences, exact McNemar and ratio intervals."""
from __future__ import annotations

import math

import numpy as np
import pytest

from benchmark.analysis import stats


def test_whole_group_resamples_keep_groups_together():
    groups = np.repeat([3, 1, 2], [4, 2, 6])
    for idx in stats.group_resamples(groups, n_boot=50, seed=1, two_stage=False):
        picked = groups[idx]
        for g in np.unique(picked):
            assert np.sum(picked == g) % np.sum(groups == g) == 0   # each drawn group whole, maybe twice


def test_two_stage_resamples_stay_inside_drawn_groups():
    groups = np.repeat([0, 1], [5, 15])
    for idx in stats.group_resamples(groups, n_boot=50, seed=2):
        assert len(idx) in (10, 20, 30)
        assert set(np.unique(idx)) <= set(range(20))


def test_interval_covers_the_truth_at_about_its_level():
    rng = np.random.default_rng(0)
    groups = np.repeat(np.arange(10), 20)
    covered = 0
    for trial in range(60):
        values = rng.random(200) < 0.7
        ci = stats.mean_interval(values, groups, n_boot=400, seed=trial)
        covered += ci.low <= 0.7 <= ci.high
    assert covered >= 50   # 95% nominal; the two-stage bootstrap is, if anything, conservative


def test_correlated_groups_widen_the_interval():
    """Videos of one group share their outcome: resampling by group must see fewer independent units."""
    rng = np.random.default_rng(1)
    group_outcome = rng.random(8) < 0.5
    groups = np.repeat(np.arange(8), 25)
    values = group_outcome[groups].astype(float)
    by_group = stats.mean_interval(values, groups, n_boot=1000)
    by_video = stats.mean_interval(values, np.arange(len(values)), n_boot=1000)
    assert (by_group.high - by_group.low) > 2 * (by_video.high - by_video.low)


def test_paired_difference():
    rng = np.random.default_rng(2)
    groups = np.repeat(np.arange(5), 40)
    base = (rng.random(200) < 0.6).astype(float)
    same = stats.paired_difference(base, base, groups, n_boot=200)
    assert same.estimate == same.low == same.high == 0
    worse = base.copy()
    worse[rng.choice(np.flatnonzero(base == 1), 40, replace=False)] = 0   # spread over the groups
    diff = stats.paired_difference(worse, base, groups, n_boot=1000)
    assert diff.estimate == pytest.approx(-0.2)
    assert diff.low <= -0.2 <= diff.high < 0


def test_mean_class_accuracy_interval():
    labels = np.repeat(np.arange(4), 10)
    pred = labels.copy()
    pred[labels == 3] = 0
    ci = stats.mean_class_accuracy_interval(pred, labels, np.tile(np.arange(5), 8), n_boot=300)
    assert ci.estimate == pytest.approx(0.75)
    assert ci.low <= 0.75 <= ci.high


def test_mcnemar_exact_matches_the_binomial_tail():
    now = np.array([0] * 6 + [1] * 10, bool)
    base = np.array([1] * 6 + [1] * 10, bool)
    two_sided = stats.mcnemar_exact(now, base)
    assert (two_sided.now_only, two_sided.base_only) == (0, 6)
    assert two_sided.p_value == pytest.approx(2 * 0.5**6)
    assert stats.mcnemar_exact(now, base, alternative="less").p_value == pytest.approx(0.5**6)
    assert stats.mcnemar_exact(base, base).p_value == 1.0


def test_ratio_interval_is_log_symmetric():
    ci = stats.ratio_interval(2.0, 0.1)
    assert ci.low < 2.0 < ci.high
    assert ci.low * ci.high == pytest.approx(4.0)
    assert ci.high / 2.0 == pytest.approx(math.exp(1.959964 * 0.1), rel=1e-5)
    assert stats.ratio_interval(2.0, 0.0).low == 2.0


def test_robust_log_spread_ignores_one_disturbed_measurement():
    assert stats.robust_log_spread([1.0]) is None
    assert stats.robust_log_spread([1.0, None, 0.0]) is None
    centre, sigma = stats.robust_log_spread([1.0, 1.02, 0.98, 1.01, 0.99, 3.0])
    assert centre == pytest.approx(math.log(1.005), abs=1e-3)
    assert 0.005 < sigma < 0.03
