"""The accuracy gate can fail: for every method (video and generative), all-wrong, constant and shuffled
results must fail the check and name that row. On toy baselines an at-chance row is reported "not
gated" (never passes silently); the committed ci baseline, the one CI gates against, has none."""
from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pytest

from benchmark.analysis.check import Tolerances, _method_key, compare

BASELINE = Path(__file__).resolve().parents[1] / "reports" / "baseline-ci.json"
TOL = Tolerances(n_boot=400)


def _mutate(row: dict, how: str, rng) -> dict:
    """The row's per-item results replaced by all-wrong, constant or shuffled ones, in its own metric."""
    metric, items = row.get("metric"), row.get("items")
    if metric == "detection power":   # audit cells: detections moved to the null, made flat, or shuffled
        cells = row["power"]
        if how == "all-wrong":
            power = [{**c, "detections": c["trials"] if c["rate"] == 0 else 0} for c in cells]
        elif how == "constant":
            share = sum(c["detections"] for c in cells) / sum(c["trials"] for c in cells)
            power = [{**c, "detections": round(share * c["trials"])} for c in cells]
        else:
            rates = rng.permutation([c["detections"] / c["trials"] for c in cells])
            power = [{**c, "detections": round(r * c["trials"])} for c, r in zip(cells, rates)]
        return {**row, "power": power}
    if metric == "realistic samples":   # noise (never realistic), one sample repeated, pixel-shuffled samples
        n = len(items["item"])
        if how == "constant":
            return {**row, "items": {**items, "realistic": [items["realistic"][0]] * n,
                                     "nn_index": [items["nn_index"][0]] * n}}
        return {**row, "items": {**items, "realistic": [0] * n}}   # tests/test_gen_known_answers.py: < 10% real
    if metric == "nll_nats":
        # worse than uniform; blind to the image (even if better on average); images and NLLs mixed up, here
        # in reverse rank order (a random permutation escapes the one-sided rank test with probability alpha,
        # which test_density_shuffles_fail_at_the_rank_tests_rate measures)
        nll = np.asarray(items["nll_nats"], dtype=float)
        reversed_ranks = np.sort(nll)[::-1][np.argsort(np.argsort(nll))]
        value = {"all-wrong": np.full_like(nll, 1.5 * row["uniform_nats"]),
                 "constant": np.full_like(nll, 0.9 * nll.mean()), "shuffled": reversed_ranks}[how]
        return {**row, "items": {**items, "nll_nats": value.tolist()}}
    labels = np.asarray(items["label"])
    n_classes = int(labels.max()) + 1
    if how == "all-wrong":
        pred = (labels + 1) % n_classes
    elif how == "constant":
        pred = np.zeros_like(labels)
    else:  # shuffled: the labels in a random order (every class still predicted as often)
        pred = rng.permutation(labels)
    return {**row, "items": {**items, "pred": pred.astype(int).tolist()}}


def _methods(snapshot: dict, suite: str | None = None) -> dict[str, list[str]]:
    methods: dict[str, list[str]] = {}
    for key, row in snapshot["rows"].items():
        if row["status"] == "done" and suite in (None, row["suite"]):
            methods.setdefault(_method_key(key), []).append(key)
    return methods


def _check_every_method(baseline: dict, suite: str | None = None) -> tuple[int, list[str]]:
    """(gated methods, ungated methods); asserts each gated one fails under every mutation and is named."""
    rng = np.random.default_rng(0)
    clean = {v.method: v for v in compare(baseline, baseline, TOL) if v.metric != "present"
             and not v.metric.endswith(("time", "reference"))}
    assert not [v for v in clean.values() if v.verdict == "FAIL"], "an unchanged run must pass"
    # the mutations touch results only: compared without the speed samples, whose rank tests took three quarters
    # of each compare (the accuracy verdicts of the committed baseline are the same with and without them)
    baseline = {**baseline, "jobs": {}}
    gated, ungated = 0, []
    for method, keys in _methods(baseline, suite).items():
        name = next(n for n in clean if n.startswith(method + " ("))
        if clean[name].verdict == "not gated":
            ungated.append(f"{method}: {clean[name].note}")
            continue
        gated += 1
        for how in ("all-wrong", "constant", "shuffled"):
            current = {**baseline, "rows": dict(baseline["rows"])}   # _mutate returns new rows
            for key in keys:
                current["rows"][key] = _mutate(current["rows"][key], how, rng)
            if current == baseline:   # shuffling a constant output (the uniform model's) changes nothing
                assert how == "shuffled" and method.endswith("|uniform"), (how, method)
                continue
            verdicts = compare(baseline, current, TOL)
            failed = [v.method for v in verdicts if v.verdict == "FAIL"]
            assert failed == [name], f"{how} results of {method}: failed rows {failed}"
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
    assert gated == 3 and len(ungated) == 1 and "chance" in ungated[0]


def test_the_gate_is_not_vacuous():
    """Mutation check of the check: with the at-chance floor removed, a constant predictor on a model at
    45% would still be caught by the paired test, but a row at chance would pass silently; here the
    at-chance row must come out 'not gated', never 'pass'."""
    baseline = _toy_baseline({"chance": 0.1})
    (verdict,) = [v for v in compare(baseline, baseline, TOL) if v.metric == "video_hit1"]
    assert verdict.verdict == "not gated"


@pytest.mark.skipif(not BASELINE.is_file(), reason="no committed ci baseline")
@pytest.mark.timeout(1200)   # 51 jobs x 3 mutations, each a compare of every result row
def test_committed_ci_baseline_gates_every_method():
    """Every method CI runs is gated, and each fails under all three mutations, naming itself."""
    baseline = json.loads(BASELINE.read_text())
    gated, ungated = _check_every_method(baseline)
    assert not ungated, "rows CI cannot see fail:\n" + "\n".join(ungated)
    assert gated == len(_methods(baseline)) and {"video", "generative"} <= {
        row["suite"] for row in baseline["rows"].values()}


def test_committed_ci_baseline_holds_every_registered_method():
    """A method added without regenerating the baseline would run in CI as a "new", ungated row."""
    from benchmark.registry import methods_of

    baseline = json.loads(BASELINE.read_text())
    held = {row["method"].split("/")[0] for row in baseline["rows"].values()}
    registered = set(methods_of("video")) | set(methods_of("generative"))
    assert not registered - held, f"not in {BASELINE.name}: {sorted(registered - held)}; regenerate it (docs/statistics.md)"


def test_density_shuffles_fail_at_the_rank_tests_rate():
    """Random permutations of a density model's per-image NLLs (same mean) fail in about 1 - alpha of cases."""
    rng = np.random.default_rng(1)
    nll = rng.gamma(20, 5, 200)
    items = {"item": [f"test/{i}" for i in range(200)], "group": ["test"] * 200, "nll_nats": nll.tolist()}
    row = {"suite": "generative", "method": "m", "status": "done", "metric": "nll_nats", "value": float(nll.mean()),
           "uniform_nats": 181.3, "items": items}
    baseline = {"format": "cvbench-baseline/1", "rows": {"generative|d|smoke|split 1|seed 0|m": row}, "jobs": {}}
    failed = 0
    for _ in range(100):
        current = copy.deepcopy(baseline)
        current["rows"]["generative|d|smoke|split 1|seed 0|m"]["items"]["nll_nats"] = rng.permutation(nll).tolist()
        failed += any(v.verdict == "FAIL" for v in compare(baseline, current, TOL))
    assert failed >= 88   # 95% expected; 88 is its 0.1% binomial quantile
