"""Executors: where jobs run. The driver alone writes the results store.

``local``: jobs one after another (so timings stay clean), each in a fresh worker process forked from
a server that has the heavy libraries imported already; a job that crashes or is killed fails alone.
``dask``: the same tasks on a Dask cluster (a LocalCluster when no scheduler address is given).
"""
from __future__ import annotations

import ctypes
import multiprocessing as mp
import signal
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Iterable, Iterator

from benchmark.provenance import now
from benchmark.runner import JobTask, TaskResult, execute

_PRELOAD = ["numpy", "cv2", "sklearn", "torch", "benchmark.runner"]


def _die_with_parent() -> None:
    """Linux: the worker gets SIGKILL when its parent dies, so a killed run leaves no orphans."""
    try:
        ctypes.CDLL("libc.so.6").prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:
        pass


class LocalExecutor:
    name = "local"

    def __init__(self) -> None:
        self._context = mp.get_context("forkserver")
        self._context.set_forkserver_preload(_PRELOAD)

    def run(self, tasks: Iterable[JobTask]) -> Iterator[tuple[JobTask, TaskResult]]:
        for task in tasks:
            started = now()
            with ProcessPoolExecutor(max_workers=1, mp_context=self._context,
                                     initializer=_die_with_parent) as pool:
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
