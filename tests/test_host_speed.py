"""The speed gate on a host slower than the baseline's: times are divided by how much slower the reference
workload ran, never multiplied, so a slow hour passes and a slow-down beyond it still fails."""
from __future__ import annotations

import numpy as np
import pytest

from benchmark.analysis import host_speed
from benchmark.analysis.check import compare, snapshot
from benchmark.pipeline.outcome import JobOutcome, RowResult
from benchmark.pipeline.store import Store

REPEATS = 6
JITTER = np.array([0.97, 0.99, 1.01, 1.03, 0.98, 1.02])   # distinct: no ties for the rank test
BASE_REFERENCE = 0.001


def _job(seconds: float, reference: float, with_references: bool = True, training: float | None = None) -> dict:
    samples = list(seconds * JITTER)
    job = {"method": "m", "reference_s": reference, "seconds": {"train_s": seconds},
           "ratios": {"train_s": seconds / reference}, "sigma_log_reference": 0.02,
           "reference_log_deviation": 0.0, "workers": 1,
           "samples": {"train_s": samples}, "cpu_samples": {"train_s": list(samples)}}
    if with_references:
        job["host_references"] = {"train_s": [reference] * REPEATS}
    if training is not None:
        job["host_training_references"] = {"train_s": [training] * REPEATS}
    return job


def _snapshot(jobs: dict) -> dict:
    return {"format": "cvbench-baseline/1", "rows": {}, "jobs": jobs}


def _baseline(with_references: bool = True, training: float | None = None) -> dict:
    return _snapshot({f"video|toy|smoke|split 1|seed 0|{m}": _job(2.0, BASE_REFERENCE, with_references, training)
                      for m in ("a", "b", "c")})


def _now(factors: dict[str, float], reference: float, with_references: bool = True,
         training: float | None = None) -> dict:
    return _snapshot({f"video|toy|smoke|split 1|seed 0|{m}": _job(2.0 * f, reference, with_references, training)
                      for m, f in factors.items()})


def _failed(verdicts) -> list[str]:
    return sorted({v.method.split("|")[-1] for v in verdicts if v.verdict == "FAIL"})


# Measured at a slow hour (2026-11-27): reference x1.70 the baseline's, phases x0.98-1.72 (median 1.31).
SLOW_HOUR = {"a": 1.31, "b": 1.72, "c": 0.98}


def test_a_slow_hour_passes_because_of_the_reference():
    assert _failed(compare(_baseline(), _now(SLOW_HOUR, 1.70 * BASE_REFERENCE))) == []
    # the same times without the host's reference measurements fail: the adjustment is what passes them
    assert _failed(compare(_baseline(), _now(SLOW_HOUR, 1.70 * BASE_REFERENCE, with_references=False))) == ["a", "b"]


@pytest.mark.parametrize("host, slowed, fails", [
    (1.0, 2.0, True),      # an unchanged host: a 2x slow-down fails
    (1.0, 1.2, False),     # within the 25% tolerance
    (1.7, 2.5, True),      # a slow host: 2.5x is beyond 1.7 x 1.25
    (1.7, 2.0, False),     # the price: on a 1.7x slower host, a 2x slow-down is not seen
    (0.6, 1.4, True),      # a faster host is not credited: its times compare as measured
])
def test_slow_downs_beyond_the_host_fail(host, slowed, fails):
    verdicts = compare(_baseline(), _now({"a": 1.0, "b": slowed, "c": 1.0}, host * BASE_REFERENCE))
    assert _failed(verdicts) == (["b"] if fails else [])
    note = next(v.note for v in verdicts if v.method.endswith("|b") and "CPU" in v.metric)
    assert f"median x{max(host, 1.0):.2f} now" in note


def test_a_baseline_from_before_host_references_uses_its_jobs_references():
    baseline = _baseline(with_references=False)
    assert host_speed.baseline_references(baseline) == {"host_references": pytest.approx(BASE_REFERENCE)}
    assert _failed(compare(baseline, _now(SLOW_HOUR, 1.70 * BASE_REFERENCE))) == []
    assert _failed(compare(baseline, _now({"a": 1.0, "b": 2.0, "c": 1.0}, BASE_REFERENCE))) == ["b"]


def _store(out, reference: float) -> None:
    store = Store(out)
    run_id = store.start_run("bench run (test)", {"workers": 1}, {}, "t0")
    for k, method in enumerate(("a", "b", "c")):
        timings = {"train_s": 1.0, "train_cpu_s": 1.0, "reference_before_s": reference * (1 + 0.1 * k),
                   "reference_after_s": reference * (1 + 0.1 * k), "reference_s": reference,
                   "training_reference_before_s": 3 * reference, "training_reference_after_s": 3 * reference}
        outcome = JobOutcome([RowResult("", {"video_hit1": 1.0}, [])], timings, {})
        job = {"job_key": f"key-{method}", "suite": "video", "dataset": "toy", "split": 1, "method": method,
               "profile": "smoke", "seed": 0, "device": "cpu", "code_version": "t"}
        store.record(run_id, job, "done", outcome, None, {}, "t0", "t1")
    store.close()


def test_snapshot_records_each_repeats_median_reference(tmp_path):
    dirs = [tmp_path / f"r{k}" for k in range(2)]
    for out, reference in zip(dirs, (0.001, 0.002)):
        _store(out, reference)
    for job in snapshot(dirs)["jobs"].values():
        # the median of the repeat's six measurements (3 jobs x before and after), shared by its jobs
        assert job["host_references"]["train_s"] == pytest.approx([0.0011, 0.0022])
        assert job["host_training_references"]["train_s"] == pytest.approx([0.003, 0.006])


def test_the_rank_test_reads_each_repeats_adjusted_times():
    """Four repeats 1.3x slower on an unchanged host, two at a 1.7x slower host: adjusted, two of six
    are faster than every baseline time, so the rank test does not reject (raw, all six are slower)."""
    now = _now({"a": 1.0}, BASE_REFERENCE)
    job = next(iter(now["jobs"].values()))
    hosts = np.array([1, 1, 1, 1, 1.7, 1.7])
    adjusted = 2.0 * JITTER * np.array([1.3, 1.3, 1.3, 1.3, 0.95, 0.95])
    job["samples"]["train_s"] = job["cpu_samples"]["train_s"] = list(adjusted * hosts)
    job["host_references"]["train_s"] = list(BASE_REFERENCE * hosts)
    verdicts = [v for v in compare(_baseline(), now) if v.method.endswith("|a")]
    assert [v.verdict for v in verdicts] == ["pass", "pass"]
    assert "p=0.0011" not in verdicts[0].note


def test_the_summary_states_the_host_and_the_slow_down_it_can_still_fail():
    line = host_speed.summary(_baseline(), _now(SLOW_HOUR, 1.70 * BASE_REFERENCE), 0.25)
    assert "x1.70-x1.70" in line and "about x2.12 slower" in line
    assert "about x1.25 slower" in host_speed.summary(_baseline(), _now(SLOW_HOUR, 0.5 * BASE_REFERENCE), 0.25)
    assert host_speed.summary(_baseline(), _now(SLOW_HOUR, BASE_REFERENCE, with_references=False), 0.25) is None


@pytest.mark.parametrize("side", ["now", "baseline"])
def test_an_unknown_host_on_either_side_compares_both_as_measured(side):
    baseline, now = _baseline(), _now(SLOW_HOUR, 1.70 * BASE_REFERENCE)
    for job in (now if side == "now" else baseline)["jobs"].values():
        job["host_references"]["train_s"][0] = None    # one repeat without its reference
    verdicts = compare(baseline, now)
    assert _failed(verdicts) == ["a", "b"]
    assert all("host speed unknown" in v.note for v in verdicts if "CPU" in v.metric)


# The CI run of 2026-12-06: deep training phases x1.12-1.47 slower, the single-threaded reference x1.00.
SHARED_CORES = {"a": 1.47, "b": 1.34, "c": 1.12}
TRAINING = 0.007


def test_shared_cores_pass_because_of_the_training_reference():
    baseline = _baseline(training=TRAINING)
    assert _failed(compare(baseline, _now(SHARED_CORES, BASE_REFERENCE, training=1.45 * TRAINING))) == []
    # the same times with the training reference unchanged fail, as they did in that CI run
    assert _failed(compare(baseline, _now(SHARED_CORES, BASE_REFERENCE, training=TRAINING))) == ["a", "b"]


def test_a_slow_down_beyond_the_shared_cores_still_fails():
    baseline = _baseline(training=TRAINING)
    verdicts = compare(baseline, _now({"a": 1.0, "b": 1.45 * 1.5, "c": 1.45}, BASE_REFERENCE, training=1.45 * TRAINING))
    assert _failed(verdicts) == ["b"]


def test_a_run_without_the_training_reference_against_a_baseline_with_it_is_host_unknown():
    baseline = _baseline(training=TRAINING)
    verdicts = compare(baseline, _now(SHARED_CORES, BASE_REFERENCE))
    assert _failed(verdicts) == ["a", "b"]
    assert all("host speed unknown" in v.note for v in verdicts if "CPU" in v.metric)


def test_the_summary_names_both_references_and_a_baseline_without_the_training_one():
    line = host_speed.summary(_baseline(training=TRAINING),
                              _now(SHARED_CORES, BASE_REFERENCE, training=1.6 * TRAINING), 0.25)
    assert "x1.00-x1.00 (single-threaded) and x1.60-x1.60 (training steps)" in line
    assert "about x2.00 slower" in line and "regenerate" not in line
    old = host_speed.summary(_baseline(), _now(SHARED_CORES, BASE_REFERENCE, training=TRAINING), 0.25)
    assert "no training steps reference" in old
