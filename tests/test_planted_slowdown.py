"""The speed gate's mutation hook: a planted slow-down really costs CPU time, and only where it is named."""
from __future__ import annotations

import time

import numpy as np
import pytest

from benchmark.common.timing import PhaseTimer, planted_slowdowns


def _work(seconds: float) -> None:
    end = time.process_time() + seconds
    while time.process_time() < end:
        pass


def test_planted_phase_costs_the_factor_in_cpu_time():
    plain, planted = PhaseTimer(), PhaseTimer({"train": 2.0})
    for timer in (plain, planted):
        with timer.phase("train"):
            _work(0.2)
        with timer.phase("infer"):
            _work(0.1)
    assert planted.cpu_seconds["train"] == pytest.approx(2 * plain.cpu_seconds["train"], rel=0.15)
    assert planted.cpu_seconds["infer"] == pytest.approx(plain.cpu_seconds["infer"], rel=0.3)


def test_the_variable_names_method_phase_and_factor():
    assert planted_slowdowns("c3d", "c3d:train:1.5,dt-bow-svm:extract:1.5") == {"train": 1.5}
    assert planted_slowdowns("lrcn", "c3d:train:1.5") == {}
    assert planted_slowdowns("c3d", "") == {}
    with pytest.raises(ValueError, match="method:phase:factor"):
        planted_slowdowns("c3d", "c3d:train")
    with pytest.raises(ValueError, match="below 1"):
        planted_slowdowns("c3d", "c3d:train:0.5")


# --- the gate's side: `bench check --expect-planted` (what .ci/run relies on) -----------------------
JITTER = np.array([0.97, 0.99, 1.01, 1.03, 0.98, 1.02])


def _job(train: float, extract: float) -> dict:
    samples = {"train_s": list(train * JITTER), "extract_s": list(extract * JITTER)}
    return {"method": "m", "reference_s": None, "seconds": {"train_s": train, "extract_s": extract},
            "ratios": {}, "workers": 1, "samples": samples, "cpu_samples": {k: list(v) for k, v in samples.items()}}


def _snap(slow: dict[tuple[str, str], float]) -> dict:
    jobs = {}
    for method in ("c3d", "dt-bow-svm"):
        train, extract = slow.get((method, "train"), 1.0) * 7.5, slow.get((method, "extract"), 1.0) * 1.8
        jobs[f"video|ucf-embedded|ci|split 1|seed 0|{method}"] = _job(train, extract)
    return {"format": "cvbench-baseline/1", "rows": {}, "jobs": jobs}


PLANTED = "c3d:train:1.5,dt-bow-svm:extract:1.5"


@pytest.mark.parametrize("slowed, missed, unexpected", [
    ({("c3d", "train"): 1.5, ("dt-bow-svm", "extract"): 1.5}, [], []),
    ({("c3d", "train"): 1.5}, ["dt-bow-svm:extract"], []),
    ({}, ["c3d:train", "dt-bow-svm:extract"], []),
    ({("c3d", "train"): 1.5, ("dt-bow-svm", "extract"): 1.5, ("c3d", "extract"): 1.5}, [],
     ["c3d split 1 seed 0 extract CPU time", "c3d split 1 seed 0 extract wall time"]),
])
def test_expect_planted_names_what_was_missed_and_what_failed_unplanted(slowed, missed, unexpected):
    from benchmark.analysis.check import compare, planted_outcome

    verdicts = compare(_snap({}), _snap(slowed))
    assert planted_outcome(verdicts, PLANTED) == (missed, unexpected)


def test_a_failed_result_row_is_not_planted():
    from benchmark.analysis.check import compare, planted_outcome
    from benchmark.analysis.row_gates import Verdict

    verdicts = compare(_snap({}), _snap({("c3d", "train"): 1.5, ("dt-bow-svm", "extract"): 1.5}))
    verdicts.append(Verdict("video|ucf-embedded|ci|c3d (1 run)", "video_hit1", 0.5, 0.1, "", "FAIL"))
    assert planted_outcome(verdicts, PLANTED) == ([], ["c3d (1 run) video_hit1"])
    with pytest.raises(ValueError, match="no method:phase:factor"):
        planted_outcome(verdicts, " ")


def test_cli_exit_code_says_whether_the_plants_were_caught(tmp_path, capsys, monkeypatch):
    import json

    from benchmark.analysis import check
    from benchmark.cli import main

    baseline = tmp_path / "same.json"
    baseline.write_text(json.dumps(_snap({})))
    monkeypatch.setattr(check, "load_baseline", lambda path: json.loads(path.read_text()))
    for slowed, code in (({("c3d", "train"): 1.5, ("dt-bow-svm", "extract"): 1.5}, 0), ({("c3d", "train"): 1.5}, 1)):
        monkeypatch.setattr(check, "snapshot", lambda dirs, s=slowed: _snap(s))
        assert main(["check", "--baseline", str(baseline), "--out", str(tmp_path), "--expect-planted", PLANTED]) == code
        out = capsys.readouterr().out
        assert ("mutation test FAILED" in out) == bool(code)
        assert ("not caught on CPU time: dt-bow-svm:extract;" in out) == bool(code)
