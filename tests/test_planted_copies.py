"""Planted copies: C_T against a hand computation, the sampler, and detectors whose power is measured
(a detector that never fires has zero power; false alarms at r = 0 stay bounded)."""
from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import mannwhitneyu

from benchmark.audits import planted_copies as pc
from benchmark.audits.memorisation import ct_cell_z, ct_from_cells
from benchmark.data.images import load_image_dataset

# A fixed 1-D example. Train 0, 1 | 10, 11 in cells 0 | 1. Distances to the training points of the own cell:
#   test  0.5, 2.0 | 10.2, 12, 13  ->  0.5, 1.0 | 0.2, 1.0, 2.0
#   gen   0, 1, 0.1 | 10.6, 11     ->  0, 0, 0.1 | 0.4, 0
# cell 0: m=3, n=2, U = #(gen > test) = 0, z = (0 - (3 - 0.5)) / sqrt(3*2*6/12) = -2.5 / sqrt(3)
# cell 1: m=2, n=3, U = 1 (0.4 > 0.2),      z = (1 - (3 - 0.5)) / sqrt(2*3*6/12) = -1.5 / sqrt(3)
# C_T = P_n-weighted mean = 2/5 * (-2.5/sqrt 3) + 3/5 * (-1.5/sqrt 3) = -1.9 / sqrt(3) = -1.0969655...
TRAIN = np.array([[0.0], [1.0], [10.0], [11.0]])
TEST = np.array([[0.5], [2.0], [10.2], [12.0], [13.0]])
GEN = np.array([[0.0], [1.0], [0.1], [10.6], [11.0]])
CELLS = {"train": np.array([0, 0, 1, 1]), "test": np.array([0, 0, 1, 1, 1]), "gen": np.array([0, 0, 0, 1, 1])}


def test_ct_known_answer():
    result = ct_from_cells(TRAIN, TEST, GEN, CELLS, n_cells=2, min_cell_samples=2)
    assert result["ct_cells"] == 2
    assert result["ct"] == pytest.approx(-1.9 / math.sqrt(3), abs=1e-6)
    assert result["ct"] == pytest.approx(-1.0969655, abs=1e-6)


def test_ct_drops_cells_with_too_few_samples():
    result = ct_from_cells(TRAIN, TEST, GEN, CELLS, n_cells=2, min_cell_samples=3)   # cell 1 holds 2 samples
    assert result["ct_cells"] == 1 and result["ct"] == pytest.approx(-2.5 / math.sqrt(3), abs=1e-6)


def test_cell_z_counts_u_like_scipy_and_the_reference_code():
    # The authors' Zu takes scipy's U of (generated, test) distances, mean mn/2 - 0.5, sd sqrt(mn(m+n+1)/12).
    rng = np.random.default_rng(0)
    d_gen, d_test = rng.random(7), rng.random(5)
    u = mannwhitneyu(d_gen, d_test).statistic
    assert ct_cell_z(d_gen, d_test) == pytest.approx((u - (35 / 2 - 0.5)) / math.sqrt(35 * 13 / 12))


def test_sampler_plants_the_requested_copies():
    rng = np.random.default_rng(0)
    train = rng.integers(0, 17, (50, 1, 8, 8)).astype(np.uint8)
    fresh = rng.integers(0, 17, (60, 1, 8, 8)).astype(np.uint8)
    samples, is_copy = pc.plant(train, fresh, 0.25, "exact", 40, 17, rng)
    assert is_copy.sum() == 10 and samples.shape == (40, 1, 8, 8)
    train_set = {x.tobytes() for x in train}
    assert all((s.tobytes() in train_set) == c for s, c in zip(samples, is_copy))
    shifted = pc.perturb(train[:20], "shift", 17, rng)
    assert all(not np.array_equal(a, b) or np.all(a == a.flat[0]) for a, b in zip(shifted, train[:20]))
    # a one-pixel shift: every shifted image equals its original moved by one row or column
    for a, b in zip(shifted, train[:20]):
        assert any(np.array_equal(a[:, 1:, :], b[:, :-1, :]) or np.array_equal(a[:, :-1, :], b[:, 1:, :])
                   or np.array_equal(a[:, :, 1:], b[:, :, :-1]) or np.array_equal(a[:, :, :-1], b[:, :, 1:])
                   for _ in [0])
    noisy = pc.perturb(train, "noise", 17, rng)
    assert 0 < np.mean(noisy != train) < 0.5 and noisy.dtype == np.uint8


@pytest.fixture(scope="module")
def digits():
    data = load_image_dataset("digits", "quick", seed=0)
    return data.train, np.concatenate([data.valid, data.test]), data.levels


SMALL = pc.StudyParams(n_samples=150, n_seeds=12, n_cells=3, feature_epochs=0)


def test_a_detector_that_never_fires_shows_zero_power(digits):
    train, held, levels = digits

    def never(space, gen, ref, min_cell_samples):
        return {"never": (0.0, False)}

    rows = pc.power_study(train, held, levels, pc.StudyParams(100, 3, 2, 0), seed=0, rates=(0.0, 0.25),
                          kinds=("exact",), detector=never)
    assert rows and all(r["detection_rate"] == 0.0 for r in rows)


def test_planted_exact_copies_are_caught_and_false_alarms_bounded(digits):
    train, held, levels = digits
    rows = pc.power_study(train, held, levels, SMALL, seed=0, rates=(0.0, 0.25), kinds=("exact",))
    rate = {(r["detector"], r["rate"]): r["detection_rate"] for r in rows}
    assert set(d for d, _ in rate) == set(pc.DETECTORS)
    for detector in pc.DETECTORS:   # level-0.05 rules: 12 trials, P(>= 4 false alarms) < 0.003 each
        assert rate[(detector, 0.0)] <= 3 / 12, detector
    assert rate[("exact-copies", 0.25)] == 1.0 and rate[("nn-ratio", 0.25)] == 1.0
    assert rate[("authenticity", 0.25)] >= 0.5   # weaker: held-out images are often "inauthentic" too
    assert rate[("latent-path", 0.25)] >= 0.75   # a path average: 11/12 when measured (12 trials)


def test_power_table_and_figure_render():
    import pandas as pd

    audits = pd.DataFrame([{"method": "planted-copies", "status": "done", "dataset": "toy", "power": [
        {"space": "pixel", "copy_kind": "none", "rate": 0.0, "detector": "ct", "trials": 4, "detection_rate": 0.25},
        {"space": "pixel", "copy_kind": "exact", "rate": 0.05, "detector": "ct", "trials": 4, "detection_rate": 0.5},
    ]}])
    pooled = pc.power_frame(audits)
    table = pc.power_table(pooled)
    assert table.loc[0, "false alarm r=0"] == "25% (1/4)" and table.loc[0, "exact 5%"] == "50% (2/4)"
    assert pc.power_figure(pooled)[:4] == b"\x89PNG"


def test_figure_helpers_come_from_the_low_level_module():
    """planted_copies and the report both draw with benchmark.common.plotting; neither imports the other's privates."""
    import ast
    import inspect

    from benchmark.common import plotting

    def imported(module) -> set[str]:
        tree = ast.parse(inspect.getsource(module))
        return {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}

    assert "benchmark.common.plotting" in imported(pc) and "benchmark.reports.report" not in imported(pc)
    assert not {m for m in imported(plotting) if m.startswith("benchmark")}
