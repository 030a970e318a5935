"""The accuracy gate can fail: for every video method, all-wrong, constant and shuffled predictions must
fail the check and name that row, or the row must be reported "not gated" (never pass silently)."""
from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pytest

from benchmark.analysis.check import Tolerances, _method_key, compare

BASELINE = Path(__file__).resolve().parents[1] / "reports" / "baseline-smoke.json"
TOL = Tolerances(n_boot=400)


def _mutate(items: dict, how: str, rng) -> dict:
    labels = np.asarray(items["label"])
    n_classes = int(labels.max()) + 1
    if how == "all-wrong":
        pred = (labels + 1) % n_classes
    elif how == "constant":
        pred = np.zeros_like(labels)
    else:  # shuffled: the labels in a random order (every class still predicted as often)
        pred = rng.permutation(labels)
    return {**items, "pred": pred.astype(int).tolist()}


def _video_methods(snapshot: dict) -> dict[str, list[str]]:
    methods: dict[str, list[str]] = {}
    for key, row in snapshot["rows"].items():
        if row["suite"] == "video" and row["status"] == "done" and row.get("items"):
            methods.setdefault(_method_key(key), []).append(key)
    return methods


def _check_every_method(baseline: dict) -> tuple[int, int]:
    """(gated, ungated) methods; asserts each gated one fails under every mutation and is named."""
    rng = np.random.default_rng(0)
    clean = {v.method: v for v in compare(baseline, baseline, TOL) if v.metric == "video_hit1"}
    assert not [v for v in clean.values() if v.verdict == "FAIL"], "an unchanged run must pass"
    gated = ungated = 0
    for method, keys in _video_methods(baseline).items():
        name = next(n for n in clean if n.startswith(method + " ("))
        if clean[name].verdict == "not gated":
            assert "chance" in clean[name].note   # said so, with the reason, in the table
            ungated += 1
            continue
        gated += 1
        for how in ("all-wrong", "constant", "shuffled"):
            current = copy.deepcopy(baseline)
            for key in keys:
                current["rows"][key]["items"] = _mutate(current["rows"][key]["items"], how, rng)
            verdicts = compare(baseline, current, TOL)
            failed = [v.method for v in verdicts if v.verdict == "FAIL"]
            assert failed == [name], f"{how} predictions of {method}: failed rows {failed}"
    return gated, ungated


def _toy_baseline(accuracies: dict[str, float], n_videos=60, n_groups=6, n_classes=10, seed=0) -> dict:
    rng = np.random.default_rng(seed)
    labels = np.tile(np.arange(n_classes), n_videos // n_classes)
    groups = np.repeat(np.arange(n_groups), n_videos // n_groups)
    rows = {}
    for method, acc in accuracies.items():
        correct = rng.random(n_videos) < acc
        pred = np.where(correct, labels, (labels + 1 + rng.integers(0, n_classes - 1, n_videos)) % n_classes)
        items = {"item": [f"v{i}" for i in range(n_videos)], "group": groups.tolist(),
                 "label": labels.tolist(), "pred": pred.tolist()}
        rows[f"video|toy|smoke|split 1|seed 0|{method}"] = {
            "suite": "video", "method": method, "status": "done", "metric": "video_hit1",
            "value": float(correct.mean()), "items": items}
    return {"format": "cvbench-baseline/1", "rows": rows, "jobs": {}, "profiles": ["smoke"]}


def test_every_method_above_chance_fails_every_mutation():
    gated, ungated = _check_every_method(_toy_baseline({"strong": 0.9, "medium": 0.6, "weak": 0.45,
                                                        "chance": 0.1}))
    assert (gated, ungated) == (3, 1)


def test_the_gate_is_not_vacuous():
    """Mutation check of the check: with the at-chance floor removed, a constant predictor on a model at
    45% would still be caught by the paired test, but a row at chance would pass silently; here the
    at-chance row must come out 'not gated', never 'pass'."""
    baseline = _toy_baseline({"chance": 0.1})
    (verdict,) = [v for v in compare(baseline, baseline, TOL) if v.metric == "video_hit1"]
    assert verdict.verdict == "not gated"


@pytest.mark.skipif(not BASELINE.is_file(), reason="no committed smoke baseline")
def test_committed_smoke_baseline_every_method():
    baseline = json.loads(BASELINE.read_text())
    gated, ungated = _check_every_method(baseline)
    assert gated + ungated == len(_video_methods(baseline))
    print(f"committed smoke baseline: {gated} gated video methods, {ungated} not gated (at chance)")
