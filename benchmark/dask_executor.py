"""The ``dask`` executor: the same JobTasks on a Dask distributed cluster.

With no scheduler address it starts a ``LocalCluster`` of single-threaded worker processes on this
machine; with an address (``tcp://host:8786``) it uses the cluster behind it (see docs/dask.md).

- A task carries a config and file paths (``JobTask``), never a live model or tensor; a worker runs
  ``benchmark.runner.execute`` and sends back the small ``TaskResult``. Only the driver writes the store.
- Jobs on ``cuda`` ask for one unit of the ``GPU`` worker resource; if no worker has one, they fail
  at once with a clear reason instead of waiting forever.
- A job that fails by itself (``execute`` returns status "failed") is deterministic and is not retried.
  A job whose worker died, was killed or lost its connection is submitted again, at most ``retries``
  times; after that it becomes a failed result that says what happened.
- Results are yielded as jobs complete, in completion order.
"""
from __future__ import annotations

import logging
import os
import sys
import uuid
from collections import deque
from concurrent.futures import CancelledError
from typing import Callable, Iterable, Iterator

from distributed.diagnostics.plugin import WorkerPlugin

from benchmark.provenance import now
from benchmark.runner import JobTask, TaskResult, execute

DEFAULT_RETRIES = 2


def _transient_errors() -> tuple[type[BaseException], ...]:
    """Exceptions that say 'the worker or the connection went away', not 'the job is wrong'."""
    from distributed.comm.core import CommClosedError
    from distributed.scheduler import KilledWorker

    return KilledWorker, CommClosedError, CancelledError, ConnectionError, TimeoutError


def _describe(exc: BaseException) -> str:
    from distributed.scheduler import KilledWorker

    if isinstance(exc, KilledWorker):
        return f"KilledWorker: worker {exc.last_worker.address} died while running it"
    text = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class DaskExecutor:
    name = "dask"

    def __init__(self, scheduler: str | None = None, workers: int = 1, retries: int = DEFAULT_RETRIES,
                 run_task: Callable[[JobTask], TaskResult] = execute):
        """scheduler: a Dask scheduler address, or None for a LocalCluster of ``workers`` processes.

        retries: how many times a job whose worker died (or whose connection was lost) is resubmitted.
        run_task: what a worker runs on a task (``execute``; tests pass a stand-in).
        """
        import dask
        from distributed import Client, LocalCluster

        self.retries = retries
        self._run_task = run_task
        self._cluster = None
        if scheduler is None:
            # jobs may start their own process pools for per-video extraction (read by each Nanny
            # whenever it (re)starts its worker process, so it is set for this driver process)
            dask.config.set({"distributed.worker.daemon": False})
            self._cluster = LocalCluster(
                n_workers=max(1, workers), threads_per_worker=1, processes=True,
                dashboard_address=None, silence_logs=logging.ERROR, resources=_local_resources(),
                # our own bounded retry loop counts worker deaths; the scheduler must not retry on top
                scheduler_kwargs={"allowed_failures": 0})
            self._client = Client(self._cluster)
            # worker processes (and any a restarted worker gets) exit when this driver dies, even by kill -9
            self._client.register_plugin(DieWithDriver(os.getpid()), name="die-with-driver")
        else:
            self._client = Client(scheduler, timeout="30s")

    @property
    def client(self):
        return self._client

    def worker_info(self) -> dict:
        """The scheduler's view of every worker (address -> info with nthreads, resources)."""
        try:
            info = self._client.scheduler_info(n_workers=-1)
        except TypeError:  # distributed before 2025 lists every worker without being asked
            info = self._client.scheduler_info()
        return info.get("workers", {})

    def gpu_available(self) -> bool:
        """Whether any worker of the cluster offers the GPU resource."""
        workers = self.worker_info()
        return any(info.get("resources", {}).get("GPU", 0) >= 1 for info in workers.values())

    def _submit(self, task: JobTask, attempt: int):
        resources = {"GPU": 1} if task.job.device == "cuda" else None
        job = task.job
        key = f"{job.method}-s{job.split}-seed{job.seed}-{task.key[:8]}-try{attempt}-{uuid.uuid4().hex[:6]}"
        return self._client.submit(self._run_task, task, key=key, pure=False, resources=resources, retries=0)

    def _slots(self) -> int:
        """Jobs to keep in flight: one per worker thread, so a dying worker holds only the job it runs."""
        try:
            workers = self.worker_info()
        except Exception:  # scheduler unreachable: submit one job, whose failure then says why
            return 1
        return max(1, sum(info.get("nthreads", 1) for info in workers.values()))

    def run(self, tasks: Iterable[JobTask]) -> Iterator[tuple[JobTask, TaskResult]]:
        from distributed import as_completed

        transient = _transient_errors()
        queue: deque[tuple[JobTask, int, str]] = deque()   # (task, attempt, first started)
        gpu = None
        for task in tasks:
            if task.job.device == "cuda":
                gpu = self.gpu_available() if gpu is None else gpu
            if task.job.device == "cuda" and not gpu:
                yield task, TaskResult(
                    "failed", None, "job needs a GPU but no Dask worker offers the 'GPU' resource "
                    "(start GPU workers with `dask worker ... --resources GPU=1`)", now(), now())
                continue
            queue.append((task, 0, ""))
        in_flight = as_completed()
        info: dict = {}  # future key -> (task, attempt, first started)

        def feed() -> list[tuple[JobTask, TaskResult]]:
            failed = []
            slots = self._slots()
            while queue and in_flight.count() < slots:
                task, attempt, started = queue.popleft()
                started = started or now()
                try:
                    future = self._submit(task, attempt)
                except Exception as exc:  # scheduler gone: this job fails, the driver goes on
                    failed.append((task, TaskResult("failed", None, f"cannot submit to Dask: {_describe(exc)}",
                                                    started, now())))
                    continue
                info[future.key] = (task, attempt, started)
                in_flight.add(future)
            return failed

        yield from feed()
        while in_flight.count() or queue:
            if not in_flight.count():
                yield from feed()
                continue
            future = next(in_flight)
            task, attempt, started = info.pop(future.key)
            try:
                result = future.result()
            except transient as exc:
                reason = _describe(exc)
                if attempt < self.retries:
                    print(f"job {task.job.method} (split {task.job.split}, seed {task.job.seed}): worker lost "
                          f"({reason}); retrying ({attempt + 1} of {self.retries})", file=sys.stderr)
                    queue.appendleft((task, attempt + 1, started))
                    future.release()
                    yield from feed()
                    continue
                result = TaskResult(
                    "failed", None, f"worker died or lost its connection {attempt + 1} time(s), last: {reason}",
                    started, now())
            except Exception as exc:  # an error outside the job itself (e.g. unpicklable task): deterministic
                result = TaskResult("failed", None, f"task error on the Dask worker: {_describe(exc)}", started, now())
            future.release()
            yield from feed()
            yield task, result

    def close(self) -> None:
        try:
            self._client.close()
        finally:
            if self._cluster is not None:
                self._cluster.close()


class DieWithDriver(WorkerPlugin):
    """Worker plugin: each LocalCluster worker process exits with the driver (kill -9 included)."""

    def __init__(self, driver_pid: int):
        self.driver_pid = driver_pid

    def setup(self, worker) -> None:
        from benchmark.executors import die_with_driver

        die_with_driver(self.driver_pid)


def _local_resources() -> dict[str, float] | None:
    """Every local worker may use this machine's GPU (GPU jobs then share it), if there is one."""
    try:
        import torch

        return {"GPU": 1} if torch.cuda.is_available() else None
    except ImportError:
        return None
