"""The driver of ``bench run``: plan, prepare data, hand tasks to an executor, write the store."""
from __future__ import annotations

import multiprocessing
import os
import shlex
import sys
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace

import cv2
from tqdm import tqdm

from benchmark import plan, provenance
from benchmark.cache import Cache, stable_hash
from benchmark.config import RunConfig, frame_spec_for
from benchmark.data.datasets import EMBEDDED, DatasetSplit, open_split
from benchmark.data.video import FrameSpec, VideoReadError, VideoSet
from benchmark.registry import methods_of
from benchmark.runner import Job, JobTask
from benchmark.store import Store, exclusive


def _decode_one(args: tuple[VideoSet, int]) -> str | None:
    videos, i = args
    try:
        videos.frames(i)
        return None
    except VideoReadError as exc:
        return str(exc)
    except (cv2.error, ValueError) as exc:  # a decoder error on a bad file must not stop the run
        return f"{videos.paths[i]}: {type(exc).__name__}: {exc}"
    # OSError (disk full, I/O error writing the cache) is not the video's fault: it propagates


def _worker_init(driver_pid: int) -> None:
    from benchmark.executors import die_with_driver
    from benchmark.threads import pin_threads

    die_with_driver(driver_pid)  # a killed run must not leave decode workers waiting forever
    pin_threads(1)


def decode_all(data: DatasetSplit, workers: int) -> DatasetSplit:
    """Decode every video once into the frame cache (in parallel); report and leave out unreadable ones."""
    items = [(data.train, i) for i in range(len(data.train))] + [(data.test, i) for i in range(len(data.test))]
    desc = f"decoding {data.name} split {data.split}"
    if workers > 1:
        # forkserver, not fork: a fork of a process whose OpenCV / torch thread pools have run can deadlock
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("forkserver"),
                                 initializer=_worker_init, initargs=(os.getpid(),)) as pool:
            errors = list(tqdm(pool.map(_decode_one, items, chunksize=8), total=len(items), desc=desc,
                               unit="video", leave=False))
    else:
        errors = [_decode_one(item) for item in tqdm(items, desc=desc, unit="video", leave=False)]
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


def with_frames(data: DatasetSplit, frames: FrameSpec, compact: bool = False) -> DatasetSplit:
    """The same split decoded at another frame size (compact: in the paper profile's compact caches)."""
    return replace(data, train=replace(data.train, frame_spec=frames, compact=compact),
                   test=replace(data.test, frame_spec=frames, compact=compact))


def _identity(data: DatasetSplit | None, dataset: str) -> str:
    if data is None:
        return dataset
    return stable_hash({"root": str(data.root), "missing": list(data.missing),
                        "spec": str(data.train.frame_spec), "n": [len(data.train), len(data.test)]})


def plan_tasks(config: RunConfig, cache: Cache) -> list[JobTask]:
    tasks: list[JobTask] = []
    for suite in plan.suites_of(config):
        registry = methods_of(suite)
        specs = plan.select_methods(registry, config.methods if config.suite != "all" else ())
        dataset = plan.dataset_of(config, suite)
        splits = config.splits if suite == "video" else (1,)
        for split in splits:
            data = opened = None
            decoded: dict[FrameSpec, DatasetSplit] = {}   # one decode per distinct frame size
            if suite == "video":
                opened = open_split(dataset, split, config.profile, cache, progress=True)
            for spec in specs:
                if opened is not None:
                    frames = frame_spec_for(config.profile, spec.name, opened.name == EMBEDDED)
                    if frames not in decoded:
                        decoded[frames] = decode_all(with_frames(opened, frames, config.profile == "paper"),
                                                     config.workers)
                    data = decoded[frames]
                version = plan.code_version(spec)
                for seed in range(config.seeds):
                    job = Job(suite, data.name if data else dataset, split, spec.name, config.profile, seed,
                              config.device)
                    key = plan.job_key(job, _identity(data, dataset), version)
                    tasks.append(JobTask(job, key, version, data, str(config.out / "artefacts" / key),
                                         workers=config.workers, threads=config.workers))
    return tasks


def _data_params(data: DatasetSplit | None) -> dict:
    """What the job saw of its dataset: sizes and every video left out (missing or undecodable)."""
    if data is None:
        return {}
    return {"root": str(data.root), "n_train": len(data.train), "n_test": len(data.test),
            "frame_spec": str(data.train.frame_spec), "excluded_videos": list(data.missing)}


def make_executor(config: RunConfig):
    if config.executor == "local":
        from benchmark.executors import LocalExecutor

        return LocalExecutor()
    if config.executor == "dask":
        from benchmark.dask_executor import DaskExecutor

        return DaskExecutor(config.scheduler, config.workers)
    raise ValueError(f"unknown executor {config.executor!r}; valid: local, dask")


def run(config: RunConfig, argv: list[str]) -> int:
    """Run every job of the config not already done in the store; return the number of failed jobs."""
    cache = Cache()
    with exclusive(config.out):
        store = Store(config.out)
        try:
            run_id = store.start_run(shlex.join(["bench", *argv]), config.to_json(),
                                     provenance.provenance(config.device), provenance.now())
            tasks = plan_tasks(config, cache)
            todo = [t for t in tasks if store.job_status(t.key) != "done"]
            if len(todo) < len(tasks):
                print(f"{len(tasks) - len(todo)} of {len(tasks)} jobs already done in {config.out}; "
                      f"running {len(todo)}")
            failed = 0
            executor = make_executor(config)
            try:
                bar = tqdm(total=len(todo), desc="jobs", unit="job")
                for task, result in executor.run(todo):
                    job = task.job
                    record = {"job_key": task.key, "suite": job.suite, "dataset": job.dataset,
                              "split": job.split, "method": job.method, "profile": job.profile,
                              "seed": job.seed, "device": job.device, "code_version": task.code_version,
                              "params": _data_params(task.data)}
                    store.record(run_id, record, result.status, result.outcome, result.error,
                                 provenance.provenance(job.device), result.started, result.finished)
                    failed += result.status != "done"
                    bar.set_postfix_str(f"{job.method}: {result.status}")
                    bar.update()
                bar.close()
            finally:
                executor.close()
            store.finish_run(run_id, provenance.now())
            return failed
        finally:
            store.close()
