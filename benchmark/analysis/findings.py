"""The Findings section of the video report: each classic claim tested on the stored per-video predictions.

A claim says that an effect ``d`` lies above (or below) a threshold. ``d`` is a difference of mean
per-video correctness between two rows on the same videos (paired: same split, seed and video), or one
row's mean minus a constant (chance). Correctness is video hit@1, or, for a class pair, the choice
between the pair's two classes on the pair's videos (0.5 = chance).

Test: the paired group bootstrap of ``benchmark.analysis.stats`` (two-stage; groups are actors within a split),
pooled over the run's jobs as the table's intervals are: each replicate also redraws the training seeds
of every split, so the spread between seeds is in the interval on multi-seed runs. Two one-sided p-values, one for the claim
(H0: d on the wrong side of the threshold) and one against it (H0: d on the claim's side), each the
bootstrap fraction of replicates beyond the threshold (+1 correction). A claim's p is twice the smaller;
Holm's step-down procedure corrects them over every claim tested in the report. "Within t of chance"
is an equivalence claim, tested on both sides (two one-sided tests: supported only when the effect is
shown above -t and below +t). Verdict, at family-wise
level ``ALPHA``: "supported" (the claim side rejects), "contradicted" (the other side rejects) or
"inconclusive at this sample size". A claim whose rows are not in the run is "not tested" and stays out
of the family. The effect is printed with its 95% percentile interval (not Holm-adjusted).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from benchmark.analysis import stats

ALPHA = 0.05
N_BOOT = 4000
MOTION_PAIRS = ("direction", "rotation", "speed")
NON_INFERIORITY = 0.05     # "at least as good as": not worse by more than 5 points
FAILS_WITHIN = 0.10        # "fails": within 10 points of chance


@dataclass(frozen=True)
class Claim:
    text: str
    a: str                         # row (method or method/variant)
    b: str | None                  # the row it is compared with; None: a constant (``offset``)
    pairs: tuple[str, ...] = ()    # empty: video hit@1 on every test video; else choice within these pairs
    direction: str = ">"           # the claim: d > threshold, d < threshold, or "within": |d| < threshold
    threshold: float = 0.0
    offset: float = 0.0            # subtracted when b is None (chance)


CLAIMS: tuple[Claim, ...] = (
    Claim("single-frame models fail on the motion-only pairs (within 10 points of chance)", "single-frame", None,
          MOTION_PAIRS, "within", FAILS_WITHIN, offset=0.5),
    Claim("the temporal stream beats the spatial stream on the motion-only pairs", "two-stream/temporal",
          "two-stream/spatial", MOTION_PAIRS),
    Claim("two-stream fusion (averaging) is at least as good as the temporal stream", "two-stream/fusion-avg",
          "two-stream/temporal", (), ">", -NON_INFERIORITY),
    Claim("two-stream fusion (averaging) is at least as good as the spatial stream", "two-stream/fusion-avg",
          "two-stream/spatial", (), ">", -NON_INFERIORITY),
    Claim("MBH beats HOF under camera motion (dense trajectories, bag of words)", "dt-bow-svm/mbh",
          "dt-bow-svm/hof"),
    Claim("a recurrent model (LRCN) separates the temporal-order pair better than the single-frame model",
          "lrcn", "single-frame", ("temporal-order",)),
    Claim("a recurrent model (GRU-RCN) separates the temporal-order pair better than the single-frame model",
          "gru-rcn", "single-frame", ("temporal-order",)),
    Claim("dense trajectories (BoW, combined) beat a CNN trained from scratch on frames (slow fusion)",
          "dt-bow-svm/combined", "slow-fusion"),
    Claim("dense trajectories (BoW, combined) are at least as good as two-stream fusion (averaging)",
          "dt-bow-svm/combined", "two-stream/fusion-avg", (), ">", -NON_INFERIORITY),
)


def correctness(preds: pd.DataFrame, pairs: tuple[str, ...], pair_classes: dict[str, tuple[int, int]]) -> pd.Series:
    """Per video (index ``key``): 1.0 right, 0.0 wrong; for pairs, only the pairs' videos, by the pair choice."""
    if not pairs:
        return pd.Series((preds["pred"] == preds["label"]).astype(float).to_numpy(), index=preds["key"])
    out = []
    for name in pairs:
        a, b = pair_classes[name]
        part = preds[preds["label"].isin([a, b])]
        scores = np.array(part["scores"].tolist(), dtype=float)
        if scores.ndim != 2 or len(part) == 0:
            raise ValueError("per-video scores are needed for pair accuracy")
        choose_a = scores[:, a] >= scores[:, b]
        out.append(pd.Series((choose_a == (part["label"] == a).to_numpy()).astype(float), index=part["key"]))
    return pd.concat(out)


def _p_beyond(replicates: np.ndarray, threshold: float, side: str) -> float:
    """Bootstrap p of H0 "d is on ``side`` of threshold" (fraction of replicates there, +1 corrected)."""
    hits = np.sum(replicates <= threshold) if side == "<=" else np.sum(replicates >= threshold)
    return float((1 + hits) / (1 + len(replicates)))


def _pooled_effect(diff: pd.Series, groups: np.ndarray, n_boot: int, seed: int) -> tuple[float, np.ndarray]:
    """(estimate, replicates) of the mean effect, built as the table's intervals are: per job (split, seed)
    a group bootstrap whose resamples the seeds of a split share, then ``stats.pooled_over_runs``, which
    redraws the seeds of each split per replicate, so seed-to-seed spread widens the interval."""
    parts = pd.DataFrame({"diff": diff.to_numpy(), "group": groups},
                         index=pd.MultiIndex.from_tuples([tuple(k.split("|", 2)) for k in diff.index]))
    estimates, replicates = {}, {}
    for (split, run_seed), job in parts.groupby(level=[0, 1], sort=True):
        job = job.sort_index()   # same videos in the same order for every seed of a split
        values = job["diff"].to_numpy()
        key = (int(split), int(run_seed))
        estimates[key], replicates[key] = stats.bootstrap_replicates(
            lambda idx: float(values[idx].mean()), job["group"].to_numpy(), n_boot, seed=seed + int(split))
    return stats.pooled_over_runs(replicates, estimates, n_boot, seed)


def one_sided_ps(replicates: np.ndarray, claim: Claim) -> tuple[float, float]:
    """(p for the claim, p against it): each a bootstrap p of the null on that side. "within" claims are
    two one-sided tests: for, d is inside (-t, t) (both outer nulls rejected); against, d is outside."""
    t = claim.threshold
    if claim.direction == "within":
        p_for = max(_p_beyond(replicates, t, ">="), _p_beyond(replicates, -t, "<="))
        p_against = min(1.0, 2 * min(_p_beyond(replicates, t, "<="), _p_beyond(replicates, -t, ">=")))
        return p_for, p_against
    return (_p_beyond(replicates, t, "<=" if claim.direction == ">" else ">="),
            _p_beyond(replicates, t, ">=" if claim.direction == ">" else "<="))


def holm(p_values: list[float]) -> list[float]:
    """Holm step-down adjusted p-values (same order as given)."""
    m = len(p_values)
    order = np.argsort(p_values, kind="stable")
    adjusted = np.empty(m)
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[i]))
        adjusted[i] = running
    return adjusted.tolist()


def evaluate(claims, predictions: dict[str, pd.DataFrame], pair_classes: dict[str, tuple[int, int]],
             n_boot: int = N_BOOT, seed: int = 0, alpha: float = ALPHA) -> pd.DataFrame:
    """One row per claim. ``predictions[row]``: columns key (split|seed|video), group (split|actor), label,
    pred, scores; pooled over the run's splits and seeds."""
    records, tested = [], []
    for claim in claims:
        rows = [claim.a] + ([claim.b] if claim.b else [])
        absent = [r for r in rows if r not in predictions or predictions[r].empty]
        absent += [f"pair {name!r}" for name in claim.pairs if name not in pair_classes]
        record = {"claim": claim.text, "measure": _measure(claim), "effect [95% CI]": "", "n videos": "",
                  "p (Holm)": "", "verdict": f"not tested ({', '.join(absent)} not in this dataset's run)" if absent else ""}
        records.append(record)
        if absent:
            continue
        a = correctness(predictions[claim.a], claim.pairs, pair_classes)
        if a.index.has_duplicates:
            raise ValueError(f"{claim.a}: the same video (split|seed|item) appears twice in the predictions")
        groups_of = predictions[claim.a].drop_duplicates("key").set_index("key")["group"]
        if claim.b:
            b = correctness(predictions[claim.b], claim.pairs, pair_classes)
            common = a.index.intersection(b.index)
            if len(common) == 0:
                record["verdict"] = "not tested (the rows share no videos)"
                continue
            diff = a.loc[common].to_numpy() - b.loc[common].to_numpy()
        else:
            common = a.index
            diff = a.to_numpy() - claim.offset
        groups = groups_of.loc[common].astype(str).to_numpy()
        estimate, replicates = _pooled_effect(pd.Series(diff, index=common), groups, n_boot, seed)
        interval = stats.percentile_interval(estimate, replicates)
        p_for, p_against = one_sided_ps(replicates, claim)
        record.update({"effect [95% CI]": f"{100 * estimate:+.1f} [{100 * interval.low:+.1f}, "
                                          f"{100 * interval.high:+.1f}] points",
                       "n videos": f"{len(common)} ({len(set(groups))} actors)"})
        tested.append((record, p_for, p_against))
    adjusted = holm([min(1.0, 2 * min(pf, pa)) for _, pf, pa in tested])
    for (record, p_for, p_against), p in zip(tested, adjusted):
        record["p (Holm)"] = f"{p:.3g}"
        if p < alpha:
            record["verdict"] = "supported" if p_for < p_against else "contradicted"
        else:
            record["verdict"] = "inconclusive at this sample size"
    return pd.DataFrame(records)


def _measure(claim: Claim) -> str:
    what = ("video hit@1" if not claim.pairs
            else f"pair choice on the {', '.join(claim.pairs)} pair{'s' if len(claim.pairs) > 1 else ''}")
    if claim.b:
        d = f"{claim.a} − {claim.b}"
    else:
        d = f"{claim.a} − {claim.offset:g} (chance)"
    if claim.direction == "within":
        return f"{what}: |{d}| < {100 * claim.threshold:g} points"
    return f"{what}: {d} {claim.direction} {100 * claim.threshold:+g} points"


NOTE = ("Each claim is tested on the stored per-video predictions, paired by video (same split, seed and "
        "video), with a paired group bootstrap (actors resampled, two-stage; training seeds redrawn per split, "
        "as in the table's intervals); p-values are two-sided "
        f"(claim or its opposite) and Holm-corrected over the claims tested; verdicts at family-wise level "
        f"{ALPHA:g}. 'At least as good as' allows {100 * NON_INFERIORITY:g} points; 'fails' means within "
        f"{100 * FAILS_WITHIN:g} points of chance.")
