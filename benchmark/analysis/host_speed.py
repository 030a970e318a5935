"""How much slower the machine ran a repeat than it ran the baseline, read off the reference workload.

Every job times a fixed single-threaded matmul + convolution before and after itself
(``benchmark.pipeline.reference_workload``); the median over a repeat's jobs is that repeat's reference time.
A repeat whose reference ran r times slower than the baseline's median reference had its phase times
divided by max(1, r) before the speed gate compares them.

Why divide, and why never multiply: on the 2-core VM the project runs on, the host's speed swings by
1.3-2x between hours with no load of ours. One smoke repeat at a slow hour (2026-11-27, 10:15 UTC) had
its median reference 1.64x the baseline's and its gated phases 0.98-1.72x (median 1.31x), 0.60-1.05x
once divided: the reference slows at least as much as the methods do. So dividing by it does not turn a
slow hour into a regression, at the price of the gate seeing on such an hour only slow-downs beyond
r x (1 + tolerance). A faster host (r < 1) is not credited: the reference over-reacts, so crediting it
would fail unchanged code.
"""
from __future__ import annotations

import numpy as np


def _repeat_references(snapshot: dict) -> list[float]:
    """Every timing sample's repeat reference in a snapshot (each repeat's value once per sample)."""
    return [r for job in snapshot.get("jobs", {}).values()
            for refs in (job.get("host_references") or {}).values() for r in refs if r]


def baseline_reference(baseline: dict) -> float | None:
    """The baseline's reference time: median over its repeats' references (for a baseline written
    before those were stored, over its jobs' own reference times)."""
    values = _repeat_references(baseline) or [job["reference_s"] for job in baseline.get("jobs", {}).values()
                                                if job.get("reference_s")]
    return float(np.median(values)) if values else None


def slowdowns(job: dict, phase: str, reference: float | None) -> np.ndarray | None:
    """Per timing sample of ``phase``: max(1, its repeat's reference / ``reference``); None when a
    sample's reference (or the baseline's) is unknown, and the times then compare as they are. A
    baseline job from before repeat references were stored counts as taken at ``reference``: that
    reference is the median of such a baseline's own jobs."""
    samples = len(job["cpu_samples"][phase])
    if reference and "host_references" not in job:
        return np.ones(samples)
    refs = (job.get("host_references") or {}).get(phase)
    if not reference or not refs or len(refs) != samples or None in refs:
        return None
    return np.maximum(1.0, np.asarray(refs, dtype=float) / reference)


def summary(baseline: dict, current: dict, tolerance: float) -> str | None:
    """One line for the gate's output: how much slower the host ran than the baseline's, and so which
    slow-downs this run can still fail. None when the run or the baseline has no references."""
    reference = baseline_reference(baseline)
    repeats = sorted(set(_repeat_references(current)))
    if not reference or not repeats:
        return None
    ratios = np.asarray(repeats) / reference
    threshold = float(np.median(np.maximum(1.0, ratios))) * (1 + tolerance)
    return (f"host: the reference workload ran x{ratios.min():.2f}-x{ratios.max():.2f} the baseline's time "
            f"in this run's repeats; phase times divided by max(1, that), so a phase fails only when about "
            f"x{threshold:.2f} slower than in the baseline (x{1 + tolerance:g} on the baseline's host)")
