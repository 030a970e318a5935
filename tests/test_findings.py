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


def _pair_guesser(p_right: float, rng, n_actors: int = 24) -> pd.DataFrame:
    """Videos of the pair (0, 1) only, choosing the right one of the two with probability ``p_right``."""
    rows = []
    for actor in range(n_actors):
        for v in range(20):
            label = v % 2
            choice = label if rng.random() < p_right else 1 - label
            scores = [0.9, 0.1] if choice == 0 else [0.1, 0.9]
            rows.append({"key": f"1|0|a{actor}v{v}", "group": f"1|{actor}", "label": label, "pred": choice,
                         "scores": scores})
    return pd.DataFrame(rows)


def test_within_chance_is_tested_on_both_sides():
    """'Fails (within 10 points of chance)' is an equivalence: a pair choice at chance supports it; one that is
    always wrong (0%, which a one-sided test would count as support) or always right contradicts it."""
    rng = np.random.default_rng(1)
    fails = Claim("fails on the pair", "A", None, ("p",), "within", 0.10, offset=0.5)
    verdict = lambda preds: evaluate([fails], {"A": preds}, {"p": (0, 1)}, n_boot=1000).iloc[0]["verdict"]
    assert verdict(_pair_guesser(0.5, rng)) == "supported"
    assert verdict(_pair_guesser(0.0, rng)) == "contradicted"
    assert verdict(_pair_guesser(1.0, rng)) == "contradicted"


def _seeds(acc_by_seed: list[float], rng) -> pd.DataFrame:
    """One row's predictions over 3 splits x len(acc_by_seed) seeds; seed s at accuracy acc_by_seed[s]."""
    frames = []
    for split in (1, 2, 3):
        for seed, acc in enumerate(acc_by_seed):
            part = _preds(acc, rng)
            part["key"] = part["key"].str.replace("1|0|", f"{split}|{seed}|", regex=False)
            part["group"] = part["group"].str.replace("1|", f"{split}|", regex=False)
            frames.append(part)
    return pd.concat(frames, ignore_index=True)


def _width(table) -> float:
    low, high = table.iloc[0]["effect [95% CI]"].split("[")[1].split("]")[0].split(",")
    return float(high) - float(low)


def test_seed_spread_widens_the_findings_interval():
    """Same mean, same videos: seeds that disagree (A at 0.9 or 0.5 by seed) give a wider interval than
    seeds that agree (A at 0.7 every seed), because replicates redraw the seeds as the table's do."""
    rng = np.random.default_rng(3)
    b = _seeds([0.4, 0.4, 0.4], rng)
    steady = evaluate([CLAIM], {"A": _seeds([0.7, 0.7, 0.7], rng), "B": b}, {}, n_boot=2000)
    spread = evaluate([CLAIM], {"A": _seeds([0.9, 0.5, 0.7], rng), "B": b}, {}, n_boot=2000)
    assert _width(spread) > 1.5 * _width(steady), (_width(spread), _width(steady))


def test_missing_rows_are_not_tested_and_holm_adjusts():
    table = evaluate([CLAIM], {"A": _preds(0.5, np.random.default_rng(0))}, {})
    assert table.iloc[0]["verdict"].startswith("not tested")
    assert holm([0.01, 0.04, 0.03]) == [0.03, 0.06, 0.06]
