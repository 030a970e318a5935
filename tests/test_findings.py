"""Findings: a planted effect is supported, a planted null inconclusive, a reversed effect contradicted."""
from __future__ import annotations

import numpy as np
import pandas as pd

from benchmark.analysis.findings import Claim, evaluate, holm

N_ACTORS, PER_ACTOR, N_CLASSES = 12, 20, 10


def _preds(accuracy: float, rng) -> pd.DataFrame:
    """Per-video predictions of one row: 12 actors x 20 videos, each actor's accuracy drawn around ``accuracy``."""
    rows = []
    for actor in range(N_ACTORS):
        p = float(np.clip(accuracy + rng.normal(0, 0.05), 0, 1))
        for v in range(PER_ACTOR):
            label = v % N_CLASSES
            right = rng.random() < p
            scores = np.full(N_CLASSES, 0.01)
            pred = label if right else (label + 1) % N_CLASSES
            scores[pred] = 0.9
            rows.append({"key": f"1|0|a{actor}v{v}", "group": f"1|{actor}", "label": label, "pred": pred,
                         "scores": scores.tolist()})
    return pd.DataFrame(rows)


CLAIM = Claim("A beats B", "A", "B")


def _verdict(acc_a: float, acc_b: float, seed: int = 0) -> str:
    rng = np.random.default_rng(seed)
    table = evaluate([CLAIM], {"A": _preds(acc_a, rng), "B": _preds(acc_b, rng)}, {}, n_boot=2000)
    return table.iloc[0]["verdict"]


def test_planted_effect_is_supported():
    assert _verdict(0.8, 0.4) == "supported"


def test_planted_null_is_inconclusive():
    verdicts = [_verdict(0.6, 0.6, seed) for seed in range(5)]
    assert all(v == "inconclusive at this sample size" for v in verdicts), verdicts


def test_reversed_effect_is_contradicted():
    assert _verdict(0.4, 0.8) == "contradicted"


def test_claims_against_chance_and_within_pairs():
    rng = np.random.default_rng(1)
    at_chance = _preds(0.0, rng)   # always predicts label+1: pair (0, 1) videos of class 0 choose class 1
    fails = Claim("fails on the pair", "A", None, ("p",), "<", 0.10, offset=0.5)
    table = evaluate([fails], {"A": at_chance}, {"p": (0, 1)}, n_boot=1000)
    assert table.iloc[0]["verdict"] == "supported"
    good = _preds(1.0, rng)
    table = evaluate([fails], {"A": good}, {"p": (0, 1)}, n_boot=1000)
    assert table.iloc[0]["verdict"] == "contradicted"


def test_missing_rows_are_not_tested_and_holm_adjusts():
    table = evaluate([CLAIM], {"A": _preds(0.5, np.random.default_rng(0))}, {})
    assert table.iloc[0]["verdict"].startswith("not tested")
    assert holm([0.01, 0.04, 0.03]) == [0.03, 0.06, 0.06]
