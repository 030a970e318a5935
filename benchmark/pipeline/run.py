"""The driver of ``bench run``: plan, prepare data, hand tasks to an executor, write the store."""
from __future__ import annotations

import multiprocessing
import os
import shlex
import shutil
import sys
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path

import cv2

from benchmark.common import provenance
from benchmark.common.cache import Cache, stable_hash
from benchmark.common.progress import RunLog, interactive, log, progress
from benchmark.data.datasets import EMBEDDED, DatasetError, DatasetSplit
from benchmark.data.video import FrameSpec, VideoReadError, VideoSet
from benchmark.pipeline import decoding, plan, protocol
from benchmark.pipeline.config import RunConfig, frame_spec_for
from benchmark.pipeline.plan import RunPlan
from benchmark.pipeline.runner import Job, JobTask
from benchmark.pipeline.store import LOCK_NAME, STORE_NAME, Store, exclusive
from benchmark.pipeline.validation import carve, chosen_on


def _decode_one(args: tuple[VideoSet, int]) -> tuple[str | None, int, str]:
    """(error or None, frames decoded, hash of the decoded frames) of one video."""
    videos, i = args
    try:
        frames = videos.frames(i)
        return None, len(frames), decoding.frames_digest(frames)
    except VideoReadError as exc:
        return str(exc), 0, ""
    except (cv2.error, ValueError) as exc:  # a decoder error on a bad file must not stop the run
        return f"{videos.paths[i]}: {type(exc).__name__}: {exc}", 0, ""
    # OSError (disk full, I/O error writing the cache) is not the video's fault: it propagates


def _worker_init(driver_pid: int) -> None:
    from benchmark.common.processes import die_with_driver
    from benchmark.common.threads import pin_threads

    die_with_driver(driver_pid)  # a killed run must not leave decode workers waiting forever
    pin_threads(1)


def decode_chunksize(n_videos: int, workers: int) -> int:
    """Videos per task of the decode pool: up to 8 (fewer round trips), but at least 4 tasks a worker, so
    that a small set is not decoded by one worker while the others wait (8 videos were one task)."""
    return max(1, min(8, n_videos // (4 * workers)))


def decode_all(data: DatasetSplit, workers: int) -> DatasetSplit:
    """Decode every video once into the frame cache (in parallel); report and leave out unreadable ones."""
    items = [(data.train, i) for i in range(len(data.train))] + [(data.test, i) for i in range(len(data.test))]
    desc = f"decoding {data.name} split {data.split}"
    if workers > 1:
        # forkserver, not fork: a fork of a process whose OpenCV / torch thread pools have run can deadlock
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("forkserver"),
                                 initializer=_worker_init, initargs=(os.getpid(),)) as pool:
            decoded = list(progress(pool.map(_decode_one, items, chunksize=decode_chunksize(len(items), workers)),
                                    total=len(items), desc=desc, unit="video"))
    else:
        decoded = [_decode_one(item) for item in progress(items, desc=desc, unit="video")]
    errors = [err for err, _, _ in decoded]
    backend = decoding.backend_of(items[0][0].paths[items[0][1]]) if items else ""
    data = replace(data, decoding=decoding.summarise([(n, h) for err, n, h in decoded if not err], backend))
    bad = [(videos, i, err) for (videos, i), err in zip(items, errors) if err]
    if not bad:
        return data
    print(f"warning: {len(bad)} of {len(items)} videos cannot be decoded and are left out: "
          + "; ".join(err for _, _, err in bad[:3]) + (" ..." if len(bad) > 3 else ""), file=sys.stderr)

    def keep(videos: VideoSet) -> VideoSet:
        drop = {i for v, i, _ in bad if v is videos}
        return videos.subset([i for i in range(len(videos)) if i not in drop])

    unreadable = tuple(str(v.paths[i]) for v, i, _ in bad)
    return replace(data, train=keep(data.train), test=keep(data.test), missing=data.missing + unreadable)


def require_videos(data: DatasetSplit) -> DatasetSplit:
    """A split with no readable train or test video cannot be benchmarked: one clear line, before any job."""
    for part, videos in (("train", data.train), ("test", data.test)):
        if len(videos) == 0:
            raise DatasetError(f"{data.root}: split {data.split} has no readable {part} video (all listed ones "
                               f"are missing or cannot be decoded; see the warnings above)")
        if part == "train" and len(set(videos.labels.tolist())) < 2:
            raise DatasetError(f"{data.root}: split {data.split} has readable train videos of only "
                               f"{len(set(videos.labels.tolist()))} class; a classifier needs at least 2")
    return data


def with_frames(data: DatasetSplit, frames: FrameSpec, compact: bool = False) -> DatasetSplit:
    """The same split decoded at another frame size (compact: in the paper profile's compact caches)."""
    return replace(data, train=replace(data.train, frame_spec=frames, compact=compact),
                   test=replace(data.test, frame_spec=frames, compact=compact))


def _identity(data: DatasetSplit | None, dataset: str) -> str:
    if data is None:
        return dataset
    return stable_hash({"root": str(data.root), "missing": list(data.missing),
                        "spec": str(data.train.frame_spec), "n": [len(data.train), len(data.test)],
                        "frames": data.decoding.get("frames_sha256")})  # other frames: the job runs again


def guard_protocol(run_plan: RunPlan) -> dict[int, dict]:
    """Check every video split before any work (a leaking split stops the run); split -> protocol record."""
    allow = run_plan.config.allow_group_overlap
    return {split: protocol.guard_split(opened, allow) for split, opened in run_plan.splits.items()}


def plan_tasks(run_plan: RunPlan) -> list[JobTask]:
    """The job grid of the plan, each job with its key; a video split is decoded once per distinct frame size."""
    config = run_plan.config
    tasks: list[JobTask] = []
    for suite, specs in run_plan.methods.items():
        dataset = run_plan.datasets[suite]
        splits = config.splits if suite == "video" else (1,)
        for split in splits:
            data = None
            opened = run_plan.splits.get(split) if suite == "video" else None
            decoded: dict[FrameSpec, DatasetSplit] = {}   # one decode per distinct frame size
            for spec in specs:
                if opened is not None:
                    frames = frame_spec_for(config.profile, spec.name, opened.name == EMBEDDED)
                    if frames not in decoded:
                        data = require_videos(decode_all(with_frames(opened, frames, config.profile == "paper"),
                                                         config.workers))
                        decoded[frames] = carve(data) if config.validation else data
                    data = decoded[frames]
                version = plan.code_version(spec)
                for seed in range(config.seeds_of(spec.name)):
                    job = Job(suite, data.name if data else dataset, split, spec.name, config.profile, seed,
                              config.device, "validation" if config.validation else "test")
                    key = plan.job_key(job, _identity(data, dataset), version)
                    tasks.append(JobTask(job, key, version, data, str(config.out / "artefacts" / key),
                                         workers=config.workers, threads=config.workers))
    return tasks


def _data_params(data: DatasetSplit | None) -> dict:
    """What the job saw of its dataset: sizes and every video left out (missing or undecodable)."""
    if data is None:
        return {}
    return {"root": str(data.root), "n_train": len(data.train), "n_test": len(data.test),
            "frame_spec": str(data.train.frame_spec), "excluded_videos": list(data.missing),
            # one DatasetSplit feeds both fit and predict_scores: the split trained on is the split scored on
            "trained_on_split": data.split, "scored_on_split": data.split, **data.decoding}


def _protocol_params(protocols: dict[int, dict], job) -> dict:
    return {"protocol": protocols[job.split]} if job.suite == "video" and job.split in protocols else {}


class DiskSpaceError(OSError):
    """The run's caches would not fit in the free space of the cache's disk."""


def _video_plan(run_plan: RunPlan) -> dict[tuple[str, int], DatasetSplit]:
    """(method, seeds) -> its undecoded split (the first split stands for every split: they hold the same videos)."""
    config = run_plan.config
    if "video" not in run_plan.methods:
        return {}
    opened = run_plan.splits[config.splits[0]]
    return {(spec.name, config.seeds_of(spec.name)):
            with_frames(opened, frame_spec_for(config.profile, spec.name, opened.name == EMBEDDED),
                        config.profile == "paper")
            for spec in run_plan.methods["video"]}


def _needed_bytes(rows: list[dict]) -> int:
    """Cache bytes a run writes: artefacts shared by methods (same frames, same flow) counted once."""
    parts: dict[str, int] = {}
    for row in rows:
        parts.update(row["parts"])
    return sum(parts.values())


def _seeds_text(config: RunConfig) -> str:
    """``3``, or with seeds sized per method ``3 (c3d 4, lrcn 6)``."""
    apart = ", ".join(f"{method} {n}" for method, n in config.method_seeds if n != config.seeds)
    return f"{config.seeds} ({apart})" if apart else str(config.seeds)


def dry_run(config: RunConfig, sample: int = 2) -> list[dict]:
    """The jobs of the resolved plan with measured per-video costs, printed; nothing is run or stored."""
    from benchmark.pipeline.estimate import estimate, human_bytes

    cache = Cache()
    rows = estimate(_video_plan(plan.plan_run(config, cache)), config.profile, cache, sample)
    n_splits = len(config.splits)
    print(f"dry run: {config.suite} suite, {config.profile} profile, split(s) {list(config.splits)}, "
          f"{_seeds_text(config)} seed(s) per split; per-video costs measured on {sample} video(s) of split "
          f"{config.splits[0]}")
    print(f"{'method':20s} {'jobs':>4s} {'videos':>6s}  {'frames decoded as':28s} {'cache/video':>11s} "
          f"{'cache':>10s} {'decode+extract':>14s} {'peak RSS':>9s}")
    for row in rows:
        print(f"{row['method']:20s} {row['seeds'] * n_splits:4d} {row['videos']:6d}  {row['frames']:28s} "
              f"{human_bytes(row['bytes_per_video']):>11s} {human_bytes(row['cache_bytes'] * n_splits):>10s} "
              f"{row['extract_s'] * n_splits / 60:11.1f} min {row['peak_rss_mb']:6.0f} MB")
    need = _needed_bytes(rows) * n_splits
    free = shutil.disk_usage(cache.root if cache.root.exists() else cache.root.parent).free
    print(f"cache disk needed: about {human_bytes(need)} (artefacts shared between methods counted once); "
          f"free on {cache.root}: {human_bytes(free)}. Training and inference time are not estimated; "
          f"peak RSS is that of the per-video work.")
    return rows


def check_disk(run_plan: RunPlan) -> None:
    """Stop before starting when the run's caches would not fit in the cache disk's free space."""
    from benchmark.pipeline.estimate import estimate, human_bytes

    config, cache = run_plan.config, run_plan.cache
    cache.root.mkdir(parents=True, exist_ok=True)
    try:
        rows = estimate(_video_plan(run_plan), config.profile, cache, sample=1)
    except (VideoReadError, cv2.error, ValueError) as exc:   # the decode step names every bad video next
        print(f"warning: cache disk not estimated: the sample video cannot be decoded ({exc})", file=sys.stderr)
        return
    need = _needed_bytes(rows) * len(config.splits)
    free = shutil.disk_usage(cache.root).free
    if need > free:
        raise DiskSpaceError(f"the run needs about {human_bytes(need)} of cache disk but {cache.root} has "
                             f"{human_bytes(free)} free; free space or point BENCH_CACHE elsewhere")


class MissingDependencyError(ValueError):
    """An optional dependency of the command does not import: one line naming the extra to install."""


def require_executor(config: RunConfig) -> None:
    """Stop before anything is created when the executor's optional dependency does not import."""
    if config.executor != "dask":
        return
    try:
        import dask  # noqa: F401
        import distributed  # noqa: F401

        import benchmark.pipeline.dask_executor  # noqa: F401
    except ImportError as exc:
        raise MissingDependencyError(f"--executor dask needs dask and distributed, which do not import here "
                                     f"({exc}); install it with pip install -e '.[dask]'") from None


def make_executor(config: RunConfig):
    if config.executor == "local":
        from benchmark.pipeline.executors import LocalExecutor

        return LocalExecutor()
    if config.executor == "dask":
        require_executor(config)
        from benchmark.pipeline.dask_executor import DaskExecutor

        return DaskExecutor(config.scheduler, config.workers)
    raise ValueError(f"unknown executor {config.executor!r}; valid: local, dask")


def _to_create(out: Path) -> list[Path]:
    """What a run creates in ``out`` before its first job, if absent: lock, store, the folder and its parents."""
    names = (LOCK_NAME, STORE_NAME, f"{STORE_NAME}-wal", f"{STORE_NAME}-shm")
    paths = [out / name for name in names if not (out / name).exists()]
    folder = out.absolute()
    while not folder.exists() and folder != folder.parent:
        paths.append(folder)
        folder = folder.parent
    return paths


def _remove_created(paths: list[Path]) -> None:
    """Remove what a failed start created; a folder only when empty (never anything put there since)."""
    for path in paths:
        try:
            path.rmdir() if path.is_dir() else path.unlink(missing_ok=True)
        except OSError:
            pass


def _record(task: JobTask, protocols: dict[int, dict]) -> dict:
    job = task.job
    return {"job_key": task.key, "suite": job.suite, "dataset": job.dataset, "split": job.split,
            "method": job.method, "profile": job.profile, "seed": job.seed, "device": job.device,
            "code_version": task.code_version,
            "params": {**_data_params(task.data), **_protocol_params(protocols, job),
                       "evaluated_on": job.evaluated_on, "settings_chosen_on": chosen_on(job.method, job.profile)}}


def _run_jobs(config: RunConfig, store: Store, run_id: int, tasks: list[JobTask], executor,
              protocols: dict[int, dict]) -> int:
    """Hand the jobs not done yet to the executor and record each result; the number of failed jobs."""
    todo = [t for t in tasks if store.job_status(t.key) != "done"]
    log(f"{len(tasks) - len(todo)} of {len(tasks)} jobs already done in {config.out} (skipped); "
        f"running {len(todo)}")
    on_terminal = interactive()
    jobs = RunLog(len(todo), enabled=not on_terminal)
    to_run = {t.key for t in todo}
    for task in tasks:
        if task.key not in to_run:
            jobs.skipped(task.job)
    bar = progress(total=len(todo), desc="jobs", unit="job", enabled=on_terminal)
    failed = 0
    for task, result in executor.run(todo, on_start=lambda t: jobs.start(t.key, t.job)):
        store.record(run_id, _record(task, protocols), result.status, result.outcome, result.error,
                     provenance.provenance(task.job.device), result.started, result.finished)
        failed += result.status != "done"
        variants = [row.variant for row in result.outcome.rows] if result.outcome else []
        jobs.finish(task.key, task.job, result.status, variants)
        bar.set_postfix_str(f"{task.job.method}: {result.status}")
        bar.update()
    bar.close()
    store.finish_run(run_id, provenance.now())
    return failed


def _warn_planted() -> None:
    """A run with planted slow-downs (the speed gate's mutation test) says so before it starts."""
    from benchmark.common.timing import PLANT_VARIABLE, planted_slowdowns

    setting = os.environ.get(PLANT_VARIABLE, "")
    if setting:
        planted_slowdowns("", setting)   # a malformed value stops the run here, in one line
        print(f"warning: {PLANT_VARIABLE}={setting}: these phases are slowed on purpose; their rows say "
              f"so (planted_slowdown)", file=sys.stderr)


def run(config: RunConfig, argv: list[str]) -> int:
    """Run every job of the config not already done in the store; return the number of failed jobs.

    A run that stops before its first job leaves no output folder, lock or store behind that it created."""
    require_executor(config)
    _warn_planted()
    created = _to_create(config.out)
    started = provenance.now()
    cache = Cache()
    with exclusive(config.out):
        store = executor = None
        jobs_started = False
        try:
            # an existing store is checked first (a damaged one is named before anything else); a new one is only
            # created once the protocol guard, the disk-space check, the plan and the executor stand
            if (config.out / STORE_NAME).exists():
                store = Store(config.out)
            run_plan = plan.plan_run(config, cache)
            protocols = guard_protocol(run_plan)
            check_disk(run_plan)
            tasks = plan_tasks(run_plan)
            executor = make_executor(config)
            store = store or Store(config.out)
            run_id = store.start_run(shlex.join(["bench", *argv]), config.to_json(),
                                     provenance.provenance(config.device), started)
            jobs_started = True
            return _run_jobs(config, store, run_id, tasks, executor, protocols)
        finally:
            try:
                if executor is not None:
                    executor.close()
            finally:
                if store is not None:
                    store.close()
                if not jobs_started:
                    _remove_created(created)
