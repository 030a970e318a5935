"""Run one job in a worker process: build the method, time its phases, compute metrics and costs.

A job gets a config and file paths (never another job's objects) and returns a small ``JobOutcome``.
"""
from __future__ import annotations

import resource
import sys
import traceback
import warnings
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from benchmark.data.datasets import DatasetSplit
from benchmark.methods import MethodContext, Scores, lookup
from benchmark.pipeline.outcome import JobOutcome, RowResult
from benchmark.common.progress import job_label
from benchmark.common.provenance import now
from benchmark.pipeline.reference_workload import measure_references, reference_timings
from benchmark.common.timing import PhaseTimer, planted_slowdowns


@dataclass(frozen=True)
class Job:
    suite: str
    dataset: str
    split: int
    method: str
    profile: str
    seed: int
    device: str
    evaluated_on: str = "test"     # "validation": tuning run on groups carved from the training set


@dataclass(frozen=True)
class JobTask:
    job: Job
    key: str
    code_version: str
    data: DatasetSplit | None      # video jobs: the split's train/test VideoSets (paths, labels, groups)
    artefact_dir: str
    workers: int                   # processes the job may use for per-video extraction
    threads: int                   # torch / OpenCV / BLAS threads in the job's own process


@dataclass
class TaskResult:
    status: str                    # "done" | "failed"
    outcome: JobOutcome | None
    error: str | None
    started: str = ""
    finished: str = ""


def _peak_memory_mb() -> dict:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {"peak_rss_mb": round(own, 1), "peak_rss_children_mb": round(children, 1)}


def _run_video(task: JobTask, method, timer: PhaseTimer) -> JobOutcome:
    data = task.data
    if hasattr(method, "extract"):
        with timer.phase("extract"):
            method.extract(data.train)
            method.extract(data.test)
    with timer.phase("train"):
        method.fit(data.train)
    with timer.phase("infer"):
        scores: dict[str, Scores] = method.predict_scores(data.test)
    from benchmark.pipeline.metrics import video_metrics, video_predictions

    rows = [RowResult(variant, video_metrics(s, data.test.labels, data.test.n_classes, data.pairs),
                      video_predictions(s, data.test.labels, data.test.names, data.test.groups))
            for variant, s in scores.items()]
    timings = timer.as_dict()
    n_train = getattr(method, "n_train_clips_", len(data.train))
    n_test = getattr(method, "n_test_clips_", len(data.test))
    timings["train_clips_per_s"] = n_train / max(timer.seconds["train"], 1e-9)
    timings["infer_clips_per_s"] = n_test / max(timer.seconds["infer"], 1e-9)
    timings["infer_videos_per_s"] = len(data.test) / max(timer.seconds["infer"], 1e-9)
    # deep methods: the share of the training loop spent waiting for input batches (two-stream: both streams)
    trained = [m.train_result_ for m in (method, *getattr(method, "streams", {}).values())
               if hasattr(m, "train_result_")]
    if trained:
        waited, loop = sum(r.data_wait_s for r in trained), sum(r.loop_s for r in trained)
        timings["data_wait_s"] = round(waited, 4)
        timings["data_wait_share"] = round(waited / loop, 4) if loop > 0 else 0.0
        timings["first_batch_s"] = round(sum(r.first_batch_s for r in trained), 4)
    costs = method.costs() if hasattr(method, "costs") else {}
    return JobOutcome(rows, timings, costs)


def _run_generative(task: JobTask, spec, ctx: MethodContext, timer: PhaseTimer) -> JobOutcome:
    from benchmark.data.images import load_image_dataset
    from benchmark.pipeline.generative_suite import run_generative_job

    # The train / valid / test split is fixed (seed 0) for every job, so seeds vary the models, never the data.
    data = load_image_dataset(task.job.dataset, task.job.profile, seed=0)
    return run_generative_job(spec, ctx, data, timer)


def warnings_line(caught: list[warnings.WarningMessage], label: str) -> str | None:
    """Library warnings of one job as one line (counts per category, the first message of each)."""
    if not caught:
        return None
    counts = Counter(w.category.__name__ for w in caught)
    first = {}
    for w in caught:
        first.setdefault(w.category.__name__, " ".join(str(w.message).split())[:120])
    parts = [f"{name} x{n} ({first[name]})" for name, n in counts.most_common()]
    return f"warning: {label}: {len(caught)} library warning(s): " + "; ".join(parts)


def execute(task: JobTask) -> TaskResult:
    """Run one job; any exception becomes a failed result with a one-line reason. Warnings raised by
    libraries during the job (e.g. scikit-learn's ConvergenceWarning) are printed as one line. Off a terminal,
    the job's long phases log lines that name it."""
    job = task.job
    with warnings.catch_warnings(record=True) as caught, job_label(f"{job.method} split {job.split} seed {job.seed}"):
        warnings.simplefilter("always")
        result = _execute(task)
    line = warnings_line(caught, f"job {job.method} (split {job.split}, seed {job.seed})")
    if line:
        print(line, file=sys.stderr)
    return result


def _execute(task: JobTask) -> TaskResult:
    from benchmark.registry import methods_of
    from benchmark.common.threads import pin_threads

    pin_threads(task.threads)
    job = task.job
    started = now()
    try:
        spec = lookup(methods_of(job.suite), job.method, "method")
        n_classes = task.data.train.n_classes if task.data is not None else 0
        Path(task.artefact_dir).mkdir(parents=True, exist_ok=True)
        ctx = MethodContext(profile=job.profile, seed=job.seed, device=job.device, n_classes=n_classes,
                            workers=task.workers, artefact_dir=task.artefact_dir, split=job.split)
        import torch

        torch.manual_seed(job.seed)
        np.random.seed(job.seed)
        references_before = measure_references()
        timer = PhaseTimer(planted_slowdowns(job.method))
        if job.suite == "video":
            outcome = _run_video(task, spec.build(ctx), timer)
        else:
            outcome = _run_generative(task, spec, ctx, timer)
        references_after = measure_references()
        if timer.planted:   # said in the row: these timings were slowed on purpose
            for row in outcome.rows:
                row.metrics["planted_slowdown"] = ", ".join(f"{p} x{f:g}" for p, f in timer.planted.items())
        outcome.timings.update(reference_timings(references_before, references_after))
        outcome.costs.update(_peak_memory_mb())
        if job.device == "cuda":
            outcome.costs["peak_cuda_mb"] = round(torch.cuda.max_memory_allocated() / 2**20, 1)
        return TaskResult("done", outcome, None, started, now())
    except Exception as exc:  # the job fails, the run goes on
        reason = f"{type(exc).__name__}: {exc}".strip().splitlines()[0][:500]
        where = traceback.extract_tb(exc.__traceback__)[-1]
        print(f"job {job.method} (split {job.split}, seed {job.seed}) failed: {reason}", file=sys.stderr)
        return TaskResult("failed", None, f"{reason} [{Path(where.filename).name}:{where.lineno}]", started, now())
