"""The accuracy half of ``bench check``: one verdict per method (pooled over splits and seeds).

Every kind of row has a figure with a known floor, and is gated only when the baseline sits clearly
above that floor (else a regression could not be seen, and the row is printed "not gated" with the
reason). A gated row fails on a regression beyond noise against the baseline, and also whenever this
run is back at the floor, so all-wrong, constant or shuffled results fail even where the paired test
lacks power:

- video (hit@1 per video), and the label-efficiency study's classifiers (accuracy per test image): floor =
  chance (1 / classes); paired bootstrap by group plus exact McNemar.
- density (NLL per test image): floor = the uniform model (dims x ln(levels) nats per image), which is
  itself gated as a known answer; also fails when the per-image NLLs no longer rank the images as the
  baseline's do (one-sided Spearman test), which is what a mix-up of images and likelihoods looks like.
- sampler without a likelihood (GAN; per sample): floor = noise, which is never "realistic" (no farther
  from the training set than 95% of held-out images are, ``benchmark.audits.memorisation.per_sample``);
  fails when the realistic share drops (one-sided Fisher exact) or reaches the floor, or when the samples
  collapse (fewer than half the baseline's distinct nearest training images).
- planted-copies audit (detections per trial): floor = the detectors' level ALPHA; fails when the
  pooled detection rate at r >= 10% drops (one-sided Fisher exact) or reaches the floor, or when the
  false alarms at r = 0 rise clearly above ALPHA (one-sided binomial).

A row the baseline gated fails when the run no longer carries what gating needs (its per-item results).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats as sps

from benchmark.analysis import stats
from benchmark.analysis.tolerances import Tolerances

POWER_RATE = 0.10     # planted-copy audit: detections pooled over the rates r >= this


@dataclass(frozen=True)
class Verdict:
    method: str
    metric: str
    baseline: float | None
    now: float | None
    interval: str
    verdict: str        # "pass" | "FAIL" | "new" | "not gated"
    note: str = ""
    visible_slowdown: float | None = None   # speed: the smallest slow-down of this phase that would fail


def _aligned(now_items: dict, base_items: dict | None):
    """Positions of the baseline's items in now's order, or None when they are not the same items."""
    if not base_items or sorted(now_items["item"]) != sorted(base_items["item"]):
        return None
    where = {item: i for i, item in enumerate(base_items["item"])}
    return np.array([where[item] for item in now_items["item"]])


def _pct(interval: stats.Interval) -> str:
    return f"{100 * interval.estimate:.1f}% [{100 * interval.low:.1f}, {100 * interval.high:.1f}]"


def _lost(name: str, metric: str, base: dict, now: dict, what: str) -> Verdict:
    return Verdict(name, metric, base.get("value"), now.get("value"), "", "FAIL",
                   f"no longer gateable: the baseline gated this row on its {what}, the run stored none")


def video_verdict(name: str, now: dict, base: dict, tol: Tolerances) -> Verdict:
    """Paired regression (interval below -margin and McNemar), or no longer above chance. Also gates the
    classifiers of the label-efficiency study (per test image instead of per video)."""
    metric = base.get("metric") or "video_hit1"
    unit = "video" if metric == "video_hit1" else "test image"
    boot = dict(n_boot=tol.n_boot, seed=tol.seed)
    base_items = base.get("items")
    labels = base_items["label"] if base_items else (now.get("items") or {}).get("label", [])
    chance = 1.0 / max(len(set(labels)), 1)
    floor = chance + tol.margin
    if base_items:
        base_correct = np.equal(base_items["pred"], base_items["label"]).astype(float)
        base_ci = stats.mean_interval(base_correct, base_items["group"], **boot)
        if base_ci.low <= floor:
            return Verdict(name, metric, base.get("value"), now.get("value"), "", "not gated",
                           f"baseline not clearly above chance ({_pct(base_ci)}, chance {100 * chance:.0f}%, "
                           f"needs its lower bound above {100 * floor:.0f}%): a regression cannot be seen")
    elif base.get("value") is None or base["value"] <= floor:
        return Verdict(name, metric, base.get("value"), now.get("value"), "", "not gated",
                       f"baseline has no per-{unit} predictions and no value clearly above chance")
    items = now.get("items")
    if not items:
        return _lost(name, metric, base, now, f"per-{unit} predictions")
    now_correct = np.equal(items["pred"], items["label"]).astype(float)
    order = _aligned(items, base_items)
    if order is not None:
        paired_base = base_correct[order]
        base_value = float(paired_base.mean())
        diff = stats.paired_difference(now_correct, paired_base, items["group"], **boot)
        test = stats.mcnemar_exact(now_correct.astype(bool), paired_base.astype(bool), alternative="less")
        regressed = diff.high < -tol.margin and test.p_value < tol.alpha
        note = (f"paired by {unit}; McNemar exact one-sided p={test.p_value:.3g} "
                f"({test.now_only} now-only right, {test.base_only} baseline-only right)")
    else:
        base_value = float(base["value"])
        acc = stats.mean_interval(now_correct, items["group"], **boot)
        diff = stats.Interval(acc.estimate - base_value, acc.low - base_value, acc.high - base_value)
        regressed = diff.high < -tol.margin
        note = f"unpaired: baseline has no per-{unit} predictions for these items"
    now_ci = stats.mean_interval(now_correct, items["group"], **boot)
    at_chance = now_ci.low <= chance
    if at_chance:
        note = f"not above chance now ({_pct(now_ci)}, chance {100 * chance:.0f}%); " + note
    return Verdict(name, metric, base_value, float(now_correct.mean()),
                   f"diff {diff.estimate:+.3f} [{diff.low:+.3f}, {diff.high:+.3f}]",
                   "FAIL" if regressed or at_chance else "pass", note + f"; fails below -{tol.margin:g}")


def density_verdict(name: str, now: dict, base: dict, tol: Tolerances) -> Verdict:
    """NLL increase beyond margin, back at the uniform model, or images no longer ranked alike."""
    base_items, base_value, uniform = base.get("items"), base.get("value"), base.get("uniform_nats")
    if not base_items or base_value is None:
        return Verdict(name, "nll_nats", base_value, now.get("value"), "", "not gated",
                       "no per-image NLL in the baseline (model without a likelihood)")
    if uniform is None:
        return Verdict(name, "nll_nats", base_value, now.get("value"), "", "not gated",
                       "the baseline does not record the uniform model's NLL: regenerate it with --update")
    items = now.get("items")
    if not items:
        return _lost(name, "nll_nats", base, now, "per-image NLL")
    nll = np.asarray(items["nll_nats"], dtype=float)
    base_nll = np.asarray(base_items["nll_nats"], dtype=float)
    if np.allclose(base_nll, uniform, rtol=1e-9):   # the uniform model: a known answer, exact
        exact = bool(np.allclose(nll, uniform, rtol=1e-9))
        return Verdict(name, "nll_nats", float(base_nll.mean()), float(nll.mean()), "",
                       "pass" if exact else "FAIL",
                       f"known answer: every image costs dims x ln(levels) = {uniform:.4f} nats")
    boot = dict(n_boot=tol.n_boot, seed=tol.seed)
    base_ci = stats.mean_interval(base_nll, base_items["group"], **boot)
    ceiling = uniform * (1 - tol.nll_margin)
    if base_ci.high >= ceiling:
        return Verdict(name, "nll_nats", float(base_nll.mean()), float(nll.mean()), "", "not gated",
                       f"baseline not clearly better than the uniform model ({base_ci}, uniform {uniform:.1f} "
                       f"nats, needs its upper bound below {ceiling:.1f})")
    order = _aligned(items, base_items)
    if order is None:
        return _lost(name, "nll_nats", base, now, "per-image NLL of the same images")
    base_nll = base_nll[order]
    diff = stats.paired_difference(nll, base_nll, items["group"], **boot)
    limit = tol.nll_margin * abs(float(base_nll.mean()))
    now_ci = stats.mean_interval(nll, items["group"], **boot)
    rank = sps.spearmanr(nll, base_nll, alternative="greater") if np.ptp(nll) > 0 else None
    problems = []
    if diff.low > limit:
        problems.append(f"NLL up by more than {limit:.3g} nats")
    if now_ci.high >= uniform:
        problems.append(f"no better than the uniform model now ({now_ci}, uniform {uniform:.1f})")
    if rank is None or not rank.pvalue < tol.alpha:
        problems.append("per-image NLLs no longer rank the images as the baseline's do ("
                        + ("constant" if rank is None else f"Spearman {rank.statistic:.2f}, p={rank.pvalue:.2g}") + ")")
    note = (f"paired by image; Spearman with the baseline {rank.statistic:.2f}" if rank is not None else "paired by image")
    return Verdict(name, "nll_nats", float(base_nll.mean()), float(nll.mean()),
                   f"diff {diff.estimate:+.3f} [{diff.low:+.3f}, {diff.high:+.3f}]",
                   "FAIL" if problems else "pass",
                   "; ".join(problems) if problems else f"{note}; fails above +{limit:.3g} nats")


def _power_counts(cells: list[dict]) -> tuple[int, int, int, int]:
    """(detections, trials) at r >= POWER_RATE and (false alarms, trials) at r = 0, pooled over cells."""
    hit = [c for c in cells if c["rate"] >= POWER_RATE]
    null = [c for c in cells if c["rate"] == 0]
    return (sum(c["detections"] for c in hit), sum(c["trials"] for c in hit),
            sum(c["detections"] for c in null), sum(c["trials"] for c in null))


def audit_verdict(name: str, now: dict, base: dict, tol: Tolerances) -> Verdict:
    """Planted copies: the detectors' power must stay clearly above their level, false alarms near it."""
    metric = f"detection power (r >= {POWER_RATE:.0%})"
    if not base.get("power"):
        return Verdict(name, metric, None, None, "", "not gated", "the baseline holds no detection counts")
    alpha = base.get("alpha", 0.05)
    b_hit, b_n, _, _ = _power_counts(base["power"])
    base_low = sps.binomtest(b_hit, b_n).proportion_ci().low
    if base_low <= alpha + tol.margin:
        return Verdict(name, metric, b_hit / b_n, None, "", "not gated",
                       f"baseline power {b_hit}/{b_n} not clearly above the level {alpha:g}")
    if not now.get("power"):
        return _lost(name, metric, {"value": b_hit / b_n}, {}, "detection counts")
    n_hit, n_n, n_fa, n_null = _power_counts(now["power"])
    dropped = float(sps.fisher_exact([[n_hit, n_n - n_hit], [b_hit, b_n - b_hit]], alternative="less")[1])
    now_ci = sps.binomtest(n_hit, n_n).proportion_ci()
    false_alarm_p = float(sps.binomtest(n_fa, n_null, alpha, alternative="greater").pvalue) if n_null else 1.0
    problems = []
    if dropped < tol.alpha and b_hit / b_n - n_hit / n_n > tol.margin:
        problems.append(f"power dropped (Fisher exact one-sided p={dropped:.2g})")
    if now_ci.low <= alpha:
        problems.append(f"power {n_hit}/{n_n} no longer clearly above the level {alpha:g}")
    if false_alarm_p < tol.alpha:
        problems.append(f"false alarms {n_fa}/{n_null} at r = 0 above the level {alpha:g} (p={false_alarm_p:.2g})")
    return Verdict(name, metric, b_hit / b_n, n_hit / n_n, f"[{now_ci.low:.3f}, {now_ci.high:.3f}]",
                   "FAIL" if problems else "pass",
                   "; ".join(problems) if problems else
                   f"{n_hit}/{n_n} detections, {n_fa}/{n_null} false alarms; Fisher p={dropped:.2g}")


def sampler_verdict(name: str, now: dict, base: dict, tol: Tolerances) -> Verdict:
    """A sampler: realistic share clearly above noise's 0%, no drop beyond noise, no collapse."""
    metric = "realistic samples"
    base_items = base.get("items")
    if not base_items:
        return Verdict(name, metric, None, None, "", "not gated", "the baseline holds no per-sample checks")
    b_real, b_n = int(np.sum(base_items["realistic"])), len(base_items["realistic"])
    base_low = sps.binomtest(b_real, b_n).proportion_ci().low
    if base_low <= tol.margin:
        return Verdict(name, metric, b_real / b_n, None, "", "not gated",
                       f"baseline {b_real}/{b_n} realistic samples, not clearly above noise (0%)")
    items = now.get("items")
    if not items:
        return _lost(name, metric, {"value": b_real / b_n}, {}, "per-sample checks")
    n_real, n_n = int(np.sum(items["realistic"])), len(items["realistic"])
    now_ci = sps.binomtest(n_real, n_n).proportion_ci()
    dropped = float(sps.fisher_exact([[n_real, n_n - n_real], [b_real, b_n - b_real]], alternative="less")[1])
    b_distinct, n_distinct = len(set(base_items["nn_index"])), len(set(items["nn_index"]))
    problems = []
    if dropped < tol.alpha and b_real / b_n - n_real / n_n > tol.margin:
        problems.append(f"realistic share dropped (Fisher exact one-sided p={dropped:.2g})")
    if now_ci.low <= tol.margin:
        problems.append(f"{n_real}/{n_n} realistic, no longer clearly above noise")
    if n_distinct < b_distinct / 2:
        problems.append(f"collapsed: {n_distinct} distinct nearest training images, baseline {b_distinct}")
    return Verdict(name, metric, b_real / b_n, n_real / n_n, f"[{now_ci.low:.3f}, {now_ci.high:.3f}]",
                   "FAIL" if problems else "pass",
                   "; ".join(problems) if problems else
                   f"{n_distinct} distinct nearest training images (baseline {b_distinct}); Fisher p={dropped:.2g}")
