"""CI gates speed against a baseline made on another machine, at the tolerance `.ci/run` sets for that:
unchanged code slowed as much as the worst host measured must pass, a larger slow-down of one phase must
still fail by name, and the same-host default would have failed the measured cross-host slow-down."""
from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np

from benchmark.analysis.check import Tolerances, compare

ROOT = Path(__file__).resolve().parents[1]
BASELINE = json.loads((ROOT / "reports" / "baseline-ci.json").read_text())
LSGAN = "generative|digits|ci|split 1|seed 0|lsgan"
C3D = "video|synthetic-actions|ci|split 1|seed 0|c3d"
# The worst slow-down of unchanged code measured on another host after the host adjustment: LSGAN's training,
# clean-clone .ci/run of 3011400, 2026-12-07 (docs/statistics.md, "Across hosts").
WORST_CROSS_HOST = 1.42


def _ci_tolerance() -> float:
    match = re.search(r"^cross_host_tolerance=([0-9.]+)$", (ROOT / ".ci" / "run").read_text(), re.M)
    assert match, ".ci/run no longer sets cross_host_tolerance"
    return float(match.group(1))


def _slowed(factors: dict[str, float], default: float = 1.0) -> dict:
    """The baseline's own timings with each job's phases x its factor (host references as they were)."""
    jobs = {}
    for key, job in BASELINE["jobs"].items():
        f = factors.get(key, default)
        jobs[key] = {**job, "samples": {p: list(np.asarray(s) * f) for p, s in job["samples"].items()},
                     "cpu_samples": {p: list(np.asarray(s) * f) for p, s in job["cpu_samples"].items()}}
    return {**BASELINE, "jobs": jobs}


def _speed_failures(current: dict, tolerance: float) -> set[tuple[str, str]]:
    verdicts = compare(BASELINE, current, Tolerances(speed_tolerance=tolerance, n_boot=200))
    return {(v.method, v.metric) for v in verdicts if v.verdict == "FAIL"}


def test_ci_sets_a_cross_host_tolerance_above_the_measured_cross_host_slowdown():
    assert 1 + _ci_tolerance() >= 1.15 * WORST_CROSS_HOST


def test_every_phase_slowed_as_the_worst_host_did_passes_at_cis_tolerance():
    assert _speed_failures(_slowed({}, default=WORST_CROSS_HOST), _ci_tolerance()) == set()


def test_the_same_host_default_fails_that_host_slowdown():
    """Why CI does not gate against the committed baseline at the default tolerance: a phase the baseline times
    steadily (C3D's training; LSGAN's repeats spread more in the baseline of f719be1) fails at x1.42."""
    failures = _speed_failures(_slowed({C3D: WORST_CROSS_HOST}), Tolerances().speed_tolerance)
    assert {(C3D, "train CPU time"), (C3D, "train wall time")} <= failures


def test_a_larger_slowdown_of_one_phase_fails_at_cis_tolerance():
    factor = (1 + _ci_tolerance()) * 1.1
    assert _speed_failures(_slowed({LSGAN: factor}), _ci_tolerance()) == {
        (LSGAN, "train CPU time"), (LSGAN, "train wall time")}
