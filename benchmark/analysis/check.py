"""``bench check``: the CI gate. A regression fails it only when noise cannot explain it.

Accuracy: one verdict per method (or method/variant) pooled over the splits and seeds of the run,
against the baseline's per-item results (``benchmark.analysis.row_gates``: video hit@1, density NLL,
planted-copy detector power; each gated only where the baseline is clearly above its floor, and failing
when the run is back at it). A failed or missing job fails the gate by itself; a row the baseline gated
fails when the run no longer stores what gating it needs.

Speed with repeats (the CI way: six run directories a side, ``--out`` repeated, each one repeat of the
same jobs): per phase, CPU time (the job's process and its reaped workers) and wall time are tested
separately, each failing only when the one-sided Mann-Whitney U test (now slower, at least
``min_samples`` a side; exact with ties, ``stats.rank_sum_p``) rejects at p < ``rank_alpha`` = 0.002
AND the ratio of medians exceeds 1 + tolerance, as asv decides. With 6 vs 6 the smallest p is
1/924 = 0.00108, so a phase fails only when every repeat is slower than every baseline repeat; each
verdict says which slow-down would fail it, and the check prints that sensitivity over the phases. When the run's phases took more wall time per CPU second than the
baseline's (median factor above 1 + tolerance: other processes competed for the cores) wall time is
"not gated" and CPU time alone decides: a busy neighbour cannot fail the gate, a slower method can.
Before either test, each repeat's times are divided by max(1, its median reference time / the
baseline's): a slower host cannot fail the gate either (``benchmark.analysis.host_speed`` says why and at
what price).

Speed with one timing per job (the fallback below): every phase time is divided by the reference workload time of the same job (``reference_s``:
a fixed matmul + convolution timed in the job's process just before and after it), and the ratio
now / baseline of these ratios is tested. With one seed per job there are no repeat timings of the
method itself, so the interval comes from how much the machine's speed moved during the run, read off
the reference measurements: sigma = 1.4826 x the median absolute deviation of log(reference time)
over the run's jobs (robust: one disturbed measurement does not inflate it), or, when the store has
each job's before and after measurements, the larger of that and |log before - log after| / sqrt(2).
A phase time and its reference, taken at different moments, differ by a log-variance of at most about
2 sigma^2 (a phase averages the machine's load over its duration, a reference samples it), so a ratio
of two runs' ratios has log-variance 2 sigma_now^2 + 2 sigma_base^2. On a shared machine that
underestimates the noise (a burst of load can hit a phase and miss both references), so the log sd
used is the larger of that and the robust spread (1.4826 x MAD) of log(now / baseline) over every
gated phase of the comparison: most phases did not change, so their spread is run-to-run noise, and a
few real regressions do not move a median. A phase regresses only when the lower bound of its
log-normal interval exceeds 1 + tolerance; the intervals are Bonferroni-corrected over the gated
phases (each at 1 - 0.05 / n), so that, as far as this noise model holds, a clean run of the whole
suite fails by chance at most 5% of the time.

Not gated, and said so in the table: phases shorter than ``min_seconds`` in either run (timer and
start-up noise dominate them); runs whose ``--workers`` (hence thread counts) differ from the
baseline's; jobs whose own reference lies more than max(3 sigma, log(1 + tolerance))
from the run's median (the reference itself was disturbed, so the ratio is not trustworthy); runs with
fewer than two reference measurements (sigma cannot be estimated).
"""
from __future__ import annotations

import json
import math
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from benchmark.analysis import host_speed, stats
from benchmark.analysis.row_gates import Verdict, audit_verdict, density_verdict, sampler_verdict, video_verdict
from benchmark.analysis.tolerances import Tolerances
from benchmark.common.provenance import now as utc_now
from benchmark.pipeline import decoding

FORMAT = "cvbench-baseline/1"
PHASES = ("extract_s", "train_s", "infer_s", "infer_train_s", "infer_bounds_s", "sample_s", "nncheck_s")
REFERENCE_KEYS = ("reference_before_s", "reference_after_s")
TRAINING_REFERENCE_KEYS = ("training_reference_before_s", "training_reference_after_s")


# --- snapshots: what a run is, in the baseline's format ----------------------------------------------
def collect(out_dirs) -> pd.DataFrame:
    """Result rows of one or more run directories, each tagged with the directory it came from."""
    from benchmark.pipeline.store import Store

    frames = []
    for out in out_dirs:
        store = Store(out, readonly=True)
        try:
            frame = store.results()
        finally:
            store.close()
        if not frame.empty:
            frames.append(frame.assign(out_dir=str(out)))
    if not frames:
        raise ValueError(f"no results in {', '.join(map(str, out_dirs))}")
    return pd.concat(frames, ignore_index=True)


def predictions(out_dir: str, job_key: str, variant: str) -> pd.DataFrame:
    from benchmark.pipeline.store import Store

    store = Store(out_dir, readonly=True)
    try:
        return store.predictions(job_key, variant)
    finally:
        store.close()


def _key(row, method: str) -> str:
    return f"{row['suite']}|{row['dataset']}|{row['profile']}|split {row['split']}|seed {row['seed']}|{method}"


def _number(value) -> float | None:
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def _reference_samples(row, keys=REFERENCE_KEYS) -> list[float]:
    """A job's before and after measurements of one reference workload (for the single-threaded one in a
    store from before those were kept, its one ``reference_s``)."""
    samples = [s for s in (_number(row.get(k)) for k in keys) if s]
    if samples or keys != REFERENCE_KEYS:
        return samples
    return [s for s in [_number(row.get("reference_s"))] if s]


def snapshot(out_dirs) -> dict:
    """Everything the gate compares, from the stores alone (this is also the baseline file's content)."""
    frame = collect(out_dirs)
    rows, jobs, spread, training, workers, sampled = {}, {}, {}, {}, {}, set()
    for out_dir, part in frame.groupby("out_dir"):
        unique = part.drop_duplicates("job_key")
        spread[out_dir] = stats.robust_log_spread([s for _, r in unique.iterrows() for s in _reference_samples(r)])
        training[out_dir] = stats.robust_log_spread(
            [s for _, r in unique.iterrows() for s in _reference_samples(r, TRAINING_REFERENCE_KEYS)])
        workers[out_dir] = _run_workers(out_dir)
    for _, row in frame.iterrows():
        entry = {"suite": row["suite"], "method": row["method"], "status": row["status"],
                 "error": row.get("error")}
        if row["status"] == "done":
            preds = predictions(row["out_dir"], row["job_key"], row.get("variant") or "")
            if row["suite"] == "video":
                entry["metric"], entry["value"] = "video_hit1", _number(row.get("video_hit1"))
                if not preds.empty:
                    entry["items"] = {"item": preds["item"].tolist(), "group": preds["group"].tolist(),
                                      "label": preds["label"].astype(int).tolist(),
                                      "pred": preds["pred"].astype(int).tolist()}
            elif isinstance(row.get("power"), list):   # the planted-copies audit: detections per cell
                entry["metric"], entry["value"], entry["alpha"] = "detection power", None, _number(row.get("alpha"))
                entry["power"] = [{"rate": float(c["rate"]), "trials": int(c["trials"]),
                                   "detections": int(round(c["detection_rate"] * c["trials"]))} for c in row["power"]]
            elif (not preds.empty and {"label", "pred"} <= set(preds)   # a classifier of a study (label efficiency)
                  and preds["label"].notna().all() and preds["pred"].notna().all()):
                entry["metric"], entry["value"] = "test accuracy", float((preds["pred"] == preds["label"]).mean())
                entry["items"] = {"item": preds["item"].tolist(), "group": preds["group"].astype(str).tolist(),
                                  "label": preds["label"].astype(int).tolist(),
                                  "pred": preds["pred"].astype(int).tolist()}
            elif not preds.empty and "realistic" in preds:   # a sampler without a likelihood
                entry["metric"], entry["value"] = "realistic samples", float(preds["realistic"].mean())
                entry["items"] = {"item": preds["item"].tolist(), "group": preds["group"].astype(str).tolist(),
                                  "realistic": preds["realistic"].astype(int).tolist(),
                                  "nn_index": preds["nn_index"].astype(int).tolist()}
            else:
                entry["metric"], entry["value"] = "nll_nats", _number(row.get("nll_nats"))
                dims, levels = _number(row.get("dims")), _number(row.get("levels"))
                if dims and levels:   # the uniform model's NLL per image, the densities' floor
                    entry["uniform_nats"] = dims * math.log(levels)
                if not preds.empty and "nll_nats" in preds and entry["value"] is not None:
                    entry["items"] = {"item": preds["item"].tolist(), "group": preds["group"].astype(str).tolist(),
                                      "nll_nats": preds["nll_nats"].astype(float).tolist()}
        rows[_key(row, row["method"])] = entry
        base_method = row["method"].split("/")[0] if row.get("variant") else row["method"]
        job_id = _key(row, base_method)
        if row["status"] == "done" and job_id not in jobs:
            jobs[job_id] = {**_speed_entry(row, base_method, spread[row["out_dir"]]),
                            "workers": workers[row["out_dir"]], "samples": {}, "cpu_samples": {},
                            "host_references": {}, "host_training_references": {},
                            **{f: row.get(f) for f in decoding.COMPARED if isinstance(row.get(f), str)}}
        if row["status"] == "done" and (row["out_dir"], row["job_key"]) not in sampled:
            sampled.add((row["out_dir"], row["job_key"]))   # one sample per job and run directory (repeat)
            for phase in PHASES:
                wall, cpu = _number(row.get(phase)), _number(row.get(phase[:-2] + "_cpu_s"))
                if wall is not None and cpu is not None:
                    jobs[job_id]["samples"].setdefault(phase, []).append(wall)
                    jobs[job_id]["cpu_samples"].setdefault(phase, []).append(cpu)
                    for kind, centres in (("host_references", spread), ("host_training_references", training)):
                        jobs[job_id][kind].setdefault(phase, []).append(
                            math.exp(centres[row["out_dir"]][0]) if centres[row["out_dir"]] else None)
    first = frame.iloc[0]
    commits = sorted(frame["commit"].dropna().astype(str).unique()) if "commit" in frame else []
    return {"format": FORMAT, "created": utc_now(), "commit": first.get("commit"), "commits": commits,
            "machine": first.get("machine"),
            "profiles": sorted(frame["profile"].dropna().unique().tolist()), "rows": rows, "jobs": jobs}


def _run_workers(out_dir: str) -> int | None:
    """``--workers`` of the directory's last ``bench run``: it sets the jobs' thread counts, and
    timings taken with other thread counts (or on a machine shared at another level) do not compare."""
    from benchmark.pipeline.store import Store

    store = Store(out_dir, readonly=True)
    try:
        config = store.last_run_config() or {}
    finally:
        store.close()
    return config.get("workers")


def _speed_entry(row, method: str, spread: tuple[float, float] | None) -> dict:
    reference = _number(row.get("reference_s"))
    seconds = {p: _number(row.get(p)) for p in PHASES if _number(row.get(p)) is not None}
    entry = {"method": method, "reference_s": reference, "seconds": seconds,
             "ratios": {p: s / reference for p, s in seconds.items()} if reference else {},
             "sigma_log_reference": None, "reference_log_deviation": None}
    if spread is None or not reference:
        return entry
    centre, sigma = spread
    samples = _reference_samples(row)
    if len(samples) == 2:  # before and after the job: how far the machine's speed moved during it
        sigma = max(sigma, abs(math.log(samples[0] / samples[1])) / math.sqrt(2))
    entry["sigma_log_reference"] = sigma
    entry["reference_log_deviation"] = math.log(reference) - centre
    return entry


# --- comparisons ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Pending:
    """A gated phase before its verdict: that needs the spread over every gated phase."""

    method: str
    metric: str
    baseline: float
    now: float
    sd_reference: float


def _rank_verdicts(name: str, now: dict, base: dict, tol: Tolerances, busy: float | None,
                   references: dict[str, float]) -> list[Verdict]:
    """With repeats (one run directory per repeat, >= ``min_samples`` a side): per phase, CPU time and
    wall time, each failing only when the one-sided Mann-Whitney U test (now slower) rejects at
    ``rank_alpha`` AND the ratio of medians exceeds 1 + tolerance. Wall time is not gated when the run
    was busy (``busy``: how much more wall time per CPU second its phases took than the baseline's):
    other processes then slow the wall clock, while CPU time still measures the method's work.
    Each sample is first divided by its repeat's host slow-down (``benchmark.analysis.host_speed``;
    ``references``: the baseline's reference times by kind)."""
    out = []
    for phase, base_cpu in sorted(base.get("cpu_samples", {}).items()):
        now_cpu, now_wall = now.get("cpu_samples", {}).get(phase), now.get("samples", {}).get(phase)
        base_wall = base["samples"][phase]
        label = phase[:-2]
        if not now_cpu:
            out.append(Verdict(name, f"{label} CPU time", float(np.median(base_cpu)), None, "", "not gated",
                               "phase not timed in this run"))
            continue
        f_now, f_base = host_speed.slowdowns(now, phase, references), host_speed.slowdowns(base, phase, references)
        if f_now is None or f_base is None:   # either side unknown: both compare as measured
            host, f_now, f_base = "; host speed unknown, times as measured", np.ones(len(now_cpu)), np.ones(len(base_cpu))
        else:
            host = (f"; times divided by the host's slow-down by the reference workloads, median "
                    f"x{np.median(f_now):.2f} now, x{np.median(f_base):.2f} in the baseline")
        for kind, b_raw, n_raw in (("CPU time", base_cpu, now_cpu), ("wall time", base_wall, now_wall)):
            n_adj, b_adj = np.asarray(n_raw) / f_now, np.asarray(b_raw) / f_base
            ratio = float(np.median(n_adj) / np.median(b_adj)) if np.median(b_adj) > 0 else math.inf
            raw = float(np.median(n_raw) / np.median(b_raw)) if np.median(b_raw) > 0 else math.inf
            shown = (f"x{ratio:.2f}" + (f" host-adjusted, x{raw:.2f} raw" if max(f_now.max(), f_base.max()) > 1 else "")
                     + f" (medians of {len(n_raw)} vs {len(b_raw)})")
            metric = f"{label} {kind}"
            b, n = float(np.median(b_raw)), float(np.median(n_raw))   # the table shows the times as measured
            if min(n, b) < tol.min_seconds:
                out.append(Verdict(name, metric, b, n, shown, "not gated",
                                   f"shorter than {tol.min_seconds:g} s"))
            elif None not in (now.get("workers"), base.get("workers")) and now["workers"] != base["workers"]:
                out.append(Verdict(name, metric, b, n, shown, "not gated",
                                   "--workers differ: thread counts differ, timings do not compare"))
            elif kind == "wall time" and busy is not None and busy > 1 + tol.speed_tolerance:
                out.append(Verdict(name, metric, b, n, shown, "not gated",
                                   f"machine busy: x{busy:.2f} the baseline's wall time per CPU second "
                                   f"(CPU time is gated)"))
            else:
                p = stats.rank_sum_p(n_adj, b_adj)
                visible = _visible_slowdown(n_adj, b_adj, tol)
                out.append(Verdict(name, metric, b, n, shown,
                                   "FAIL" if _slower(n_adj, b_adj, tol) else "pass",
                                   f"Mann-Whitney U exact one-sided p={p:.2g} (fails below {tol.rank_alpha:g} with "
                                   f"a median ratio above {1 + tol.speed_tolerance:g}); a slow-down of "
                                   f"x{visible:.2f} would fail{host}", visible))
    return out


def _slower(now, base, tol: Tolerances) -> bool:
    """The rank gate's decision: exact one-sided Mann-Whitney at ``rank_alpha`` AND median ratio > 1 + tolerance."""
    ratio = np.median(now) / np.median(base) if np.median(base) > 0 else math.inf
    return ratio > 1 + tol.speed_tolerance and stats.rank_sum_p(now, base) < tol.rank_alpha


def _visible_slowdown(now, base, tol: Tolerances, largest: float = 100.0) -> float:
    """The smallest factor s for which this run's times, moved to the baseline's median and then x s,
    would fail against the baseline's: what the gate can see today given both sides' spread, whatever
    this run's own shift (bisection; the decision is monotone in s)."""
    now, base = np.asarray(now, dtype=float), np.asarray(base, dtype=float)
    if np.median(now) > 0:
        now = now * (np.median(base) / np.median(now))
    low, high = 1.0, largest
    if not _slower(now * high, base, tol):
        return math.inf
    if _slower(now, base, tol):
        return 1.0
    for _ in range(30):
        mid = math.sqrt(low * high)
        low, high = (low, mid) if _slower(now * mid, base, tol) else (mid, high)
    return high


def smallest_visible_slowdown(verdicts: list[Verdict]) -> str | None:
    """One line: which slow-down of a gated phase this check would catch, over the phases it gated."""
    seen = [v.visible_slowdown for v in verdicts if v.visible_slowdown is not None and v.verdict != "not gated"]
    if not seen:
        return None
    cpu = [v.visible_slowdown for v in verdicts if v.visible_slowdown is not None and v.metric.endswith("CPU time")]
    finite = np.array([s for s in seen if math.isfinite(s)])
    line = (f"speed sensitivity: over {len(seen)} gated phases, this check fails a phase slowed by "
            f"x{np.min(finite):.2f} at best, x{np.median(finite):.2f} at the median, x{np.max(finite):.2f} at worst")
    cpu = [c for c in cpu if math.isfinite(c)]
    if cpu:
        line += f" (CPU time alone: median x{np.median(cpu):.2f}, worst x{np.max(cpu):.2f})"
    blind = len(seen) - len(finite)
    return line + (f"; {blind} phases could not fail at any slow-down" if blind else "")


def _repeated(entry: dict, tol: Tolerances) -> bool:
    samples = entry.get("cpu_samples") or {}
    return bool(samples) and min(len(v) for v in samples.values()) >= tol.min_samples


def _busy_factor(baseline: dict, current: dict, tol: Tolerances) -> float | None:
    """Median over the compared phases of (wall / CPU time now) / (wall / CPU time in the baseline)."""
    factors = []
    for key, base in baseline.get("jobs", {}).items():
        now = current.get("jobs", {}).get(key)
        if not now:
            continue
        for phase, cpu in base.get("cpu_samples", {}).items():
            n_cpu, n_wall = now.get("cpu_samples", {}).get(phase), now.get("samples", {}).get(phase)
            if n_cpu and min(np.median(cpu), np.median(n_cpu)) >= tol.min_seconds:
                factors.append((np.median(n_wall) / np.median(n_cpu)) /
                               (np.median(base["samples"][phase]) / np.median(cpu)))
    return float(np.median(factors)) if factors else None


def _speed_verdicts(name: str, now: dict, base: dict, tol: Tolerances) -> list[Verdict | _Pending]:
    out = []
    s_now, s_base = now.get("sigma_log_reference"), base.get("sigma_log_reference")
    s_base = s_now if s_base is None else s_base   # a baseline without a noise estimate: assume this run's
    limit = lambda sigma: max(3 * sigma, math.log(1 + tol.speed_tolerance))
    disturbed = [f"{which} reference x{math.exp(dev):.2f} the run's median"
                 for which, entry, sigma in (("this run's", now, s_now), ("the baseline's", base, s_base))
                 if (dev := entry.get("reference_log_deviation")) is not None and abs(dev) > limit(sigma or 0)]
    for phase, base_ratio in sorted(base.get("ratios", {}).items()):
        now_ratio = now.get("ratios", {}).get(phase)
        metric = f"{phase[:-2]} time / reference"
        if now_ratio is None:
            out.append(Verdict(name, metric, base_ratio, None, "", "not gated", "phase not timed in this run"))
            continue
        shown = f"x{now_ratio / base_ratio:.2f}" if base_ratio > 0 else ""
        if min(now["seconds"].get(phase, 0), base["seconds"].get(phase, 0)) < tol.min_seconds or base_ratio <= 0:
            out.append(Verdict(name, metric, base_ratio, now_ratio, shown, "not gated",
                               f"shorter than {tol.min_seconds:g} s"))
        elif None not in (now.get("workers"), base.get("workers")) and now["workers"] != base["workers"]:
            out.append(Verdict(name, metric, base_ratio, now_ratio, shown, "not gated",
                               f"run with --workers {now['workers']}, baseline with {base['workers']}: "
                               f"thread counts differ, timings do not compare"))
        elif s_now is None:
            out.append(Verdict(name, metric, base_ratio, now_ratio, shown, "not gated",
                               "fewer than two reference measurements in the run: noise unknown"))
        elif disturbed:
            out.append(Verdict(name, metric, base_ratio, now_ratio, shown, "not gated",
                               "reference disturbed: " + "; ".join(disturbed)))
        else:
            out.append(_Pending(name, metric, base_ratio, now_ratio, math.sqrt(2 * s_now**2 + 2 * s_base**2)))
    return out


def _settle_speed(verdicts: list[Verdict | _Pending], tol: Tolerances) -> list[Verdict]:
    """Fill in the gated phases. Their log-ratio sd is the larger of the reference-based one and the
    robust spread (1.4826 x MAD) of log(now / baseline) over all gated phases of the comparison: most
    phases did not change, so that spread is run-to-run timing noise the references did not see."""
    pending = [v for v in verdicts if isinstance(v, _Pending)]
    logs = np.log([v.now / v.baseline for v in pending])
    spread = float(1.4826 * np.median(np.abs(logs - np.median(logs)))) if len(pending) >= 5 else 0.0
    level = 1 - 0.05 / max(len(pending), 1)   # Bonferroni: 95% for the whole family of gated phases
    settled = []
    for v in verdicts:
        if not isinstance(v, _Pending):
            settled.append(v)
            continue
        sd = max(v.sd_reference, spread)
        interval = stats.ratio_interval(v.now / v.baseline, sd, level)
        settled.append(Verdict(v.method, v.metric, v.baseline, v.now,
                               f"x{interval.estimate:.2f} [{interval.low:.2f}, {interval.high:.2f}]",
                               "FAIL" if interval.low > 1 + tol.speed_tolerance else "pass",
                               f"{100 * level:.2f}% interval; fails if its lower bound exceeds {1 + tol.speed_tolerance:g}; log sd {sd:.3f} "
                               f"(references {v.sd_reference:.3f}, spread over {len(pending)} phases {spread:.3f})"))
    return settled


def _method_key(row_key: str) -> str:
    """The row key without its split and seed: accuracy is tested per method, pooled over them."""
    suite, dataset, profile, _split, _seed, method = row_key.split("|")
    return "|".join((suite, dataset, profile, method))


def _pooled(rows: list[tuple[str, dict]]) -> dict:
    """One row from several (splits x seeds): items renamed by their row, groups kept apart per split."""
    first = rows[0][1]
    merged = {"suite": first["suite"], "value": None,
              **{k: first[k] for k in ("metric", "uniform_nats", "alpha") if first.get(k) is not None}}
    if all(row.get("power") for _, row in rows):
        merged["power"] = [cell for _, row in rows for cell in row["power"]]
    values = [row.get("value") for _, row in rows]
    if None not in values:
        merged["value"] = float(np.mean(values))
    if all(row.get("items") for _, row in rows):
        fields = [f for f in first["items"] if f not in ("item", "group")]
        items = {"item": [], "group": [], **{f: [] for f in fields}}
        for key, row in rows:
            split, seed = key.split("|")[3:5]
            items["item"] += [f"{split}|{seed}|{i}" for i in row["items"]["item"]]
            items["group"] += [f"{split}|{g}" for g in row["items"]["group"]]
            for f in fields:
                items[f] += list(row["items"][f])
        merged["items"] = items
    return merged


def _row_groups(snap: dict) -> dict[tuple[str, str, str], dict[str, set]]:
    """(profile, suite, dataset) -> the splits, seeds and methods (variants folded) of the snapshot's rows."""
    groups: dict[tuple[str, str, str], dict[str, set]] = {}
    for key in snap.get("rows", {}):
        parts = key.split("|")
        group = groups.setdefault((parts[-4], parts[0], "|".join(parts[1:-4])),
                                  {"splits": set(), "seeds": set(), "methods": set()})
        group["splits"].add(int(parts[-3].split()[-1]))
        group["seeds"].add(int(parts[-2].split()[-1]))
        group["methods"].add(parts[-1].split("/")[0])
    return groups


def _holdings(snap: dict) -> str:
    """E.g. 'profile smoke: video on synthetic-actions, splits 1, 2, 3, seed 0, 12 methods'."""
    def numbered(name: str, values: set) -> str:
        return f"{name}{'s' if len(values) > 1 else ''} {', '.join(map(str, sorted(values)))}"

    parts = [f"profile {profile}: {suite} on {dataset}, "
             + (f"{numbered('split', g['splits'])}, " if suite == "video" else "")
             + f"{numbered('seed', g['seeds'])}, {len(g['methods'])} method{'s' if len(g['methods']) > 1 else ''}"
             for (profile, suite, dataset), g in sorted(_row_groups(snap).items())]
    return "; ".join(parts) or "no rows"


def _matching_run(baseline: dict) -> str:
    """The `bench run` command(s) whose rows include every row of the baseline."""
    from benchmark.pipeline.plan import DEFAULT_DATASETS
    from benchmark.registry import methods_of

    workers = {job.get("workers") for job in baseline.get("jobs", {}).values()} - {None}
    groups = _row_groups(baseline)
    by_profile: dict[str, list] = {}
    for (profile, suite, dataset), g in sorted(groups.items()):
        by_profile.setdefault(profile, []).append((suite, dataset, g))
    commands = []
    for profile, runs in by_profile.items():
        if len(runs) == 2 and all(dataset == DEFAULT_DATASETS[suite] for suite, dataset, _ in runs):
            merged = {k: set().union(*(g[k] for _, _, g in runs)) for k in ("seeds", "methods")}
            runs = [("all", None, {**merged, "splits": next(g for s, _, g in runs if s == "video")["splits"]})]
        for suite, dataset, g in runs:
            words = ["bench run", f"--suite {suite}"]
            if dataset is not None and dataset != DEFAULT_DATASETS[suite]:
                words.append(f"--dataset {dataset}")
            if suite != "all" and set(methods_of(suite)) - g["methods"]:
                words.append(f"--methods {','.join(sorted(g['methods']))}")
            words.append(f"--profile {profile}")
            if suite != "generative":
                splits = g["splits"]
                words.append(f"--split {next(iter(splits)) if len(splits) == 1 else 'all'}")
            if max(g["seeds"]) > 0:
                words.append(f"--seeds {max(g['seeds']) + 1}")
            if len(workers) == 1:
                words.append(f"--workers {next(iter(workers))}")
            commands.append("`" + " ".join([*words, "--out DIR"]) + "`")
    return " and ".join(commands)


def compare(baseline: dict, current: dict, tol: Tolerances = Tolerances()) -> list[Verdict]:
    if baseline.get("format") != FORMAT:
        raise ValueError(f"baseline format {baseline.get('format')!r} is not {FORMAT!r}: regenerate it with --update")
    if baseline["rows"] and not set(baseline["rows"]) & set(current["rows"]):
        raise ValueError(f"the run shares no result row with the baseline (the baseline holds "
                         f"{_holdings(baseline)}; the run holds {_holdings(current)}): gate a run made like "
                         f"the baseline's, {_matching_run(baseline)}, or make a baseline of this run's own profile "
                         f"with `bench check --update --baseline FILE --out DIR` and gate later runs against FILE")
    verdicts: list[Verdict | _Pending] = []
    comparable: dict[str, list[str]] = {}   # method -> row keys done in both runs
    for key, base in baseline["rows"].items():
        now = current["rows"].get(key)
        if now is None:
            verdicts.append(Verdict(key, "present", None, None, "", "FAIL", "row of the baseline absent from the run"))
        elif now["status"] != "done" and base["status"] != "done":
            verdicts.append(Verdict(key, "status", None, None, "", "not gated",
                                    f"failed in the baseline too: {now.get('error')}"))
        elif now["status"] != "done":
            verdicts.append(Verdict(key, "status", None, None, "", "FAIL", f"job failed: {now.get('error')}"))
        elif base["status"] != "done":
            verdicts.append(Verdict(key, "status", None, None, "", "not gated",
                                    "failed in the baseline, done now: nothing to compare it with; "
                                    "`bench check --update` writes a baseline that gates it"))
        else:
            comparable.setdefault(_method_key(key), []).append(key)
    for method, keys in comparable.items():
        now = _pooled([(k, current["rows"][k]) for k in keys])
        base = _pooled([(k, baseline["rows"][k]) for k in keys])
        name = f"{method} ({len(keys)} run{'s' if len(keys) > 1 else ''})"
        gate = {"detection power": audit_verdict, "realistic samples": sampler_verdict,
                "test accuracy": video_verdict}.get(
            base.get("metric"), video_verdict if now["suite"] == "video" else density_verdict)
        verdicts.append(gate(name, now, base, tol))
    verdicts += [Verdict(key, "present", None, None, "", "new", "not in the baseline")
                 for key in current["rows"] if key not in baseline["rows"]]
    busy = _busy_factor(baseline, current, tol)
    references = host_speed.baseline_references(baseline)
    for key, base in baseline.get("jobs", {}).items():
        if key in current.get("jobs", {}):
            now = current["jobs"][key]
            if _repeated(base, tol) and _repeated(now, tol):
                verdicts += _rank_verdicts(key, now, base, tol, busy, references)
            else:   # single timings: the reference-workload model below (cannot tell load from slowness)
                verdicts += _speed_verdicts(key, now, base, tol)
    return _settle_speed(verdicts, tol)


def _short_name(key: str) -> str:
    parts = key.split("|")
    if len(parts) == 6:   # a row or job: method, split, seed
        return " ".join([parts[5], *parts[3:5]])
    return parts[-1]


def verdict_table(verdicts: list[Verdict]) -> pd.DataFrame:
    frame = pd.DataFrame([v.__dict__ for v in verdicts]).drop(columns="visible_slowdown", errors="ignore")
    if not frame.empty:
        frame["method"] = frame["method"].map(_short_name)
    return frame


def _malformed(path: Path, what: str) -> ValueError:
    return ValueError(f"{path}: not a bench baseline ({what}); regenerate it with `bench check --update`")


def _check_row(path: Path, key, row) -> None:
    if not isinstance(row, dict):
        raise _malformed(path, f"row {key!r} is not an object")
    if not isinstance(row.get("status"), str) or row.get("suite") not in ("video", "generative"):
        raise _malformed(path, f"row {key!r} lacks a 'status' or a 'suite' of video/generative")
    if not isinstance(key, str) or len(key.split("|")) != 6:
        raise _malformed(path, f"row key {key!r} is not 'suite|dataset|profile|split k|seed s|method'")
    value = row.get("value")
    if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
        raise _malformed(path, f"row {key!r} has a value {value!r} that is not a number")
    items = row.get("items")
    if items is not None:
        if not isinstance(items, dict) or not all(isinstance(v, list) for v in items.values()) \
                or not {"item", "group"} <= set(items) or len({len(v) for v in items.values()}) > 1:
            raise _malformed(path, f"row {key!r} has 'items' that are not equal-length lists with item and group")


def load_baseline(path: Path) -> dict:
    """The baseline JSON, checked for the shape the gate reads; any fault is one line naming the file."""
    if not path.is_file():
        raise FileNotFoundError(f"no baseline at {path}: create one with `bench check --update`")
    try:
        baseline = json.loads(path.read_bytes().decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}:{exc.lineno}:{exc.colno}: not valid JSON ({exc.msg})") from None
    except RecursionError:
        raise ValueError(f"{path}: JSON nested too deeply") from None
    if not isinstance(baseline, dict):
        raise _malformed(path, f"a JSON {type(baseline).__name__}, not an object")
    if baseline.get("format") != FORMAT:
        raise ValueError(f"{path}: baseline format {baseline.get('format')!r} is not {FORMAT!r}: "
                         f"regenerate it with `bench check --update`")
    if not isinstance(baseline.get("rows"), dict):
        raise _malformed(path, "no 'rows' object")
    if not isinstance(baseline.get("jobs", {}), dict):
        raise _malformed(path, "'jobs' is not an object")
    for key, row in baseline["rows"].items():
        _check_row(path, key, row)
    for key, job in baseline.get("jobs", {}).items():
        if not isinstance(job, dict) or not isinstance(job.get("seconds", {}), dict):
            raise _malformed(path, f"job {key!r} is not an object with a 'seconds' object")
    return baseline


class DirtyBaselineError(ValueError):
    """A baseline would record numbers made by uncommitted code."""


def planted_outcome(verdicts: list[Verdict], planted: str) -> tuple[list[str], list[str]]:
    """The speed gate's mutation test: which planted phases (``"method:phase:factor,..."``, as in
    BENCH_PLANT_SLOWDOWN) did not fail on CPU time in some job of that method, and which failures were not
    planted (any failed check other than a planted phase's CPU or wall time)."""
    from benchmark.common.timing import parse_planted

    expected = set(parse_planted(planted))
    if not expected:
        raise ValueError("--expect-planted: no method:phase:factor entry given")
    caught, unexpected = set(), []
    for v in verdicts:
        if v.verdict != "FAIL":
            continue
        method, phase = v.method.split("|")[-1].split(" ")[0], v.metric.split(" ")[0]
        if _is_speed(v) and (method, phase) in expected:
            if v.metric.endswith("CPU time"):
                caught.add((method, phase))
        else:
            unexpected.append(f"{_short_name(v.method)} {v.metric}")
    missed = [f"{m}:{p}" for m, p in sorted(expected - caught)]
    return missed, unexpected


def _planted_verdict(verdicts: list[Verdict], planted: str) -> int:
    missed, unexpected = planted_outcome(verdicts, planted)
    if missed or unexpected:
        print(f"speed gate mutation test FAILED: planted slow-downs ({planted}) not caught on CPU time: "
              f"{', '.join(missed) or 'none'}; failures nothing planted: {', '.join(unexpected) or 'none'}")
        return 1
    print(f"speed gate mutation test: every planted slow-down ({planted}) failed the gate on CPU time, "
          f"nothing else failed")
    return 0


def run_check(baseline_path: Path, out_dirs, update: bool, tol: Tolerances, show_all: bool = False,
              allow_dirty: bool = False, expect_planted: str | None = None) -> int:
    """Gate ``out_dirs`` against the baseline (exit 1 on a regression), or write it (``update``). With
    ``expect_planted`` the exit code instead says whether exactly the planted slow-downs failed."""
    if not update:
        baseline = load_baseline(baseline_path)   # a bad baseline fails before the run is read
    current = snapshot(out_dirs)
    if update:
        dirty = [c for c in current.get("commits", []) if c.endswith("+dirty") or c.startswith("unknown")]
        if dirty and not allow_dirty:
            raise DirtyBaselineError(f"the run was made from uncommitted code ({', '.join(dirty)}): a committed "
                                     f"baseline must come from a clean commit; commit, rerun, then --update "
                                     f"(--allow-dirty writes it anyway, marked)")
        if dirty:
            print(f"warning: baseline made from uncommitted code: {', '.join(dirty)}", file=sys.stderr)
        from benchmark.common.cache import atomic_write_bytes

        if baseline_path.is_dir():
            raise ValueError(f"{baseline_path}: is a directory, not a baseline file")
        atomic_write_bytes(baseline_path, (json.dumps(current, indent=1, sort_keys=True, default=str) + "\n").encode())
        print(f"wrote baseline {baseline_path}: {len(current['rows'])} rows, {len(current['jobs'])} jobs")
        failed = sorted(key.split("|")[-1] for key, row in current["rows"].items() if row["status"] != "done")
        if failed:
            print(f"warning: the baseline holds failed jobs ({', '.join(failed)}): they are not gated until "
                  f"a baseline is written where they succeed", file=sys.stderr)
        return 0
    try:
        verdicts = compare(baseline, current, tol)
    except (KeyError, TypeError, AttributeError, IndexError) as exc:  # a shape load_baseline does not know
        raise _malformed(baseline_path, f"{type(exc).__name__}: {exc}") from None
    except ValueError as exc:
        raise ValueError(f"{baseline_path}: {exc}") from None
    for line in decoding.differences(baseline, current):
        print(line, file=sys.stderr)
    short = [v for v in verdicts if v.verdict == "not gated" and v.note.startswith("shorter than")]
    shown = verdicts if show_all else [v for v in verdicts if v not in short]
    with pd.option_context("display.max_rows", 1000, "display.width", 250, "display.max_colwidth", 100,
                           "display.float_format", "{:.4g}".format):
        print(verdict_table(shown).to_string(index=False))
    if short and not show_all:
        print(f"({len(short)} phases shorter than {tol.min_seconds:g} s not gated and not shown; --all lists them)")
    ungated = [v for v in verdicts if v.verdict == "not gated" and not _is_speed(v)]
    if ungated:
        print(f"\nNOT GATED ({len(ungated)} result rows, a regression there cannot fail this check): "
              + ", ".join(_short_name(v.method) if "|" in v.method else v.method for v in ungated))
    host = host_speed.summary(baseline, current, tol.speed_tolerance)
    if host:
        print(f"\n{host}")
    sensitivity = smallest_visible_slowdown(verdicts)
    if sensitivity:
        print(sensitivity)
    print("\n" + counts_line(verdicts, baseline_path))
    if expect_planted is not None:
        return _planted_verdict(verdicts, expect_planted)
    return 1 if any(v.verdict == "FAIL" for v in verdicts) else 0


def _is_speed(v: Verdict) -> bool:
    return v.metric.endswith(("CPU time", "wall time", "time / reference"))


def counts_line(verdicts: list[Verdict], baseline_path) -> str:
    """Only checks that could fail are counted as checks; what could not is counted apart."""
    failed = [v for v in verdicts if v.verdict == "FAIL"]
    passed = [v for v in verdicts if v.verdict == "pass"]
    ungated = [v for v in verdicts if v.verdict == "not gated"]
    new = [v for v in verdicts if v.verdict == "new"]
    rows = sum(not _is_speed(v) for v in ungated)
    head = (f"{len(failed)} regression(s) in {len(failed) + len(passed)} gated checks" if failed
            else f"no regression in {len(passed)} gated checks")
    return (f"{head} against {baseline_path}: {len(passed)} passed, {len(failed)} failed; not gated (cannot "
            f"fail): {rows} result rows, {len(ungated) - rows} speed phases" + (f"; {len(new)} new rows" if new else ""))
