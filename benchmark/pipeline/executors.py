"""Executors: where jobs run. The driver alone writes the results store.

``local``: jobs one after another (so timings stay clean), each in a fresh worker process forked from
a server that has the heavy libraries imported already; a job that crashes or is killed fails alone.
``dask``: the same tasks on a Dask cluster (a LocalCluster when no scheduler address is given).
"""
from __future__ import annotations

import multiprocessing as mp
import os
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Callable, Iterable, Iterator

from benchmark.common.processes import die_with_driver
from benchmark.common.provenance import now
from benchmark.pipeline.runner import JobTask, TaskResult, execute

_PRELOAD = ["numpy", "cv2", "sklearn", "torch", "benchmark.pipeline.runner"]


class LocalExecutor:
    name = "local"

    def __init__(self) -> None:
        self._context = mp.get_context("forkserver")
        self._context.set_forkserver_preload(_PRELOAD)

    def run(self, tasks: Iterable[JobTask], on_start: Callable[[JobTask], None] | None = None
            ) -> Iterator[tuple[JobTask, TaskResult]]:
        """Each task's (task, result), in order; ``on_start(task)`` is called as its job starts."""
        for task in tasks:
            if on_start is not None:
                on_start(task)
            started = now()
            with ProcessPoolExecutor(max_workers=1, mp_context=self._context,
                                     initializer=die_with_driver, initargs=(os.getpid(),)) as pool:
                future = pool.submit(execute, task)
                try:
                    result = future.result()
                except BrokenProcessPool:
                    result = TaskResult("failed", None,
                                        "worker process died (killed, out of memory or crashed in native code)",
                                        started, now())
            yield task, result

    def close(self) -> None:
        pass
