"""How much slower the machine ran a repeat than it ran the baseline, read off the reference workloads.

Every job times two fixed workloads before and after itself (``benchmark.pipeline.reference_workload``):
a single-threaded matmul + convolution, the minimum of short repeats (the speed of a core), and a small
convnet's training steps at the job's thread count, their mean (the share of the cores a job gets). The
robust centre over a repeat's jobs is that repeat's reference time of each kind. A repeat whose references
ran r_core and r_train times slower than the baseline's medians had its phase times divided by
max(1, r_core, r_train) before the speed gate compares them.

Why divide, and why never multiply: on the 2-core VM the project runs on, the host's speed swings by
1.3-2x between hours with no load of ours. One smoke repeat at a slow hour (2026-11-27, 10:15 UTC) had
its median reference 1.64x the baseline's and its gated phases 0.98-1.72x (median 1.31x), 0.60-1.05x
once divided: the reference slows at least as much as the methods do. So dividing by it does not turn a
slow hour into a regression, at the price of the gate seeing on such an hour only slow-downs beyond
r x (1 + tolerance). A faster host (r < 1) is not credited: the reference over-reacts, so crediting it
would fail unchanged code.

Why two kinds: in the CI run of 2026-12-06 every deep training phase ran x1.12-1.47 slower than in the
baseline (the whole job took 4483 s where the one before took 3603 s) while the single-threaded reference
read x1.00, so 24 checks failed on unchanged code. Two busy processes beside a one-thread job reproduce the
pattern here: the minimum of short repeats finds an undisturbed one and reads x1.00, a fusion net's training
steps slow x1.45-1.5, the training reference x1.4-1.8 (``docs/statistics.md``, "Host speed").
"""
from __future__ import annotations

import numpy as np

KINDS = {"host_references": "single-threaded", "host_training_references": "training steps"}


def _repeat_references(snapshot: dict, kind: str = "host_references") -> list[float]:
    """Every timing sample's repeat reference of one kind in a snapshot (each repeat's value once per sample)."""
    return [r for job in snapshot.get("jobs", {}).values()
            for refs in (job.get(kind) or {}).values() for r in refs if r]


def baseline_references(baseline: dict) -> dict[str, float]:
    """The baseline's reference time of each kind it has: the median over its repeats' references (for the
    single-threaded kind in a baseline written before those were stored, over its jobs' own reference times)."""
    out = {}
    for kind in KINDS:
        values = _repeat_references(baseline, kind)
        if kind == "host_references" and not values:
            values = [job["reference_s"] for job in baseline.get("jobs", {}).values() if job.get("reference_s")]
        if values:
            out[kind] = float(np.median(values))
    return out


def slowdowns(job: dict, phase: str, references: dict[str, float]) -> np.ndarray | None:
    """Per timing sample of ``phase``: max(1, each kind's repeat reference / the baseline's); None when a
    sample's reference of a kind the baseline has is unknown (the times then compare as they are), or when
    the baseline has none. A baseline job from before repeat references were stored counts as taken at the
    single-threaded reference: that reference is the median of such a baseline's own jobs."""
    samples = len(job["cpu_samples"][phase])
    if not references:
        return None
    factors = np.ones(samples)
    for kind, reference in references.items():
        if kind == "host_references" and kind not in job:
            continue
        refs = (job.get(kind) or {}).get(phase)
        if not refs or len(refs) != samples or None in refs:
            return None
        factors = np.maximum(factors, np.asarray(refs, dtype=float) / reference)
    return factors


def summary(baseline: dict, current: dict, tolerance: float) -> str | None:
    """Lines for the gate's output: how much slower the host ran than the baseline's, by reference kind, and
    so which slow-downs this run can still fail. None when the run or the baseline has no references."""
    references = baseline_references(baseline)
    parts, factors = [], []
    for kind, reference in references.items():
        repeats = sorted(set(_repeat_references(current, kind)))
        if repeats:
            ratios = np.asarray(repeats) / reference
            parts.append(f"x{ratios.min():.2f}-x{ratios.max():.2f} ({KINDS[kind]})")
            factors.append(float(np.median(np.maximum(1.0, ratios))))
    if not parts:
        return None
    lines = [f"host: the reference workloads ran {' and '.join(parts)} the baseline's time in this run's repeats; "
             f"phase times divided by max(1, those), so a phase fails only when about "
             f"x{max(factors) * (1 + tolerance):.2f} slower than in the baseline (x{1 + tolerance:g} on the "
             f"baseline's host)"]
    missing = [KINDS[k] for k in KINDS if k not in references]
    if missing:
        lines.append(f"host: the baseline has no {', '.join(missing)} reference: a slow-down that workload would "
                     f"see is not divided out (regenerate the baseline)")
    return "\n".join(lines)
