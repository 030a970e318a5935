"""Executors: where jobs run. The driver alone writes the results store.

``local``: jobs one after another (so timings stay clean), each in a fresh worker process forked from
a server that has the heavy libraries imported already; a job that crashes or is killed fails alone.
``dask``: the same tasks on a Dask cluster (a LocalCluster when no scheduler address is given).
"""
from __future__ import annotations

import ctypes
import multiprocessing as mp
import os
import signal
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Callable, Iterable, Iterator

from benchmark.provenance import now
from benchmark.runner import JobTask, TaskResult, execute

_PRELOAD = ["numpy", "cv2", "sklearn", "torch", "benchmark.runner"]


def _die_with_parent() -> None:
    """Linux: the worker gets SIGKILL when its parent dies, so a killed run leaves no orphans."""
    try:
        ctypes.CDLL("libc.so.6").prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def _driver_gone(driver_pid: int) -> bool:
    try:
        os.kill(driver_pid, 0)
        with open(f"/proc/{driver_pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] == "Z"
    except (ProcessLookupError, FileNotFoundError):
        return True
    except OSError:
        return False


def _exit_when_driver_dies(driver_pid: int, poll_s: float = 0.5) -> None:
    while not _driver_gone(driver_pid):
        time.sleep(poll_s)
    os._exit(70)


def die_with_driver(driver_pid: int) -> None:
    """Pool-worker initializer: exit as soon as the driver process is gone, even after its kill -9.

    PR_SET_PDEATHSIG alone does not do it: a forkserver child's parent is the fork server, and a pool
    worker holds its own call queue's write end, so after the driver's death it would wait for work
    forever (and keep the fork server and resource tracker alive with it).
    """
    _die_with_parent()
    threading.Thread(target=_exit_when_driver_dies, args=(driver_pid,), daemon=True,
                     name="exit-with-driver").start()


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
