"""The ``dask`` executor: the same JobTasks on a Dask distributed cluster.

With no scheduler address it starts a ``LocalCluster`` of single-threaded worker processes on this
machine; with an address (``tcp://host:8786``) it uses the cluster behind it (see docs/dask.md).

- A task carries a config and file paths (``JobTask``), never a live model or tensor; a worker runs
  ``benchmark.pipeline.runner.execute`` and sends back the small ``TaskResult``. Only the driver writes the store.
- Jobs on ``cuda`` ask for one unit of the ``GPU`` worker resource; if no worker has one, they fail
  at once with a clear reason instead of waiting forever.
- A job that fails by itself (``execute`` returns status "failed") is deterministic and is not retried.
  A job whose worker died, was killed or lost its connection is submitted again, at most ``retries``
  times; after that it becomes a failed result that says what happened.
- Every wait is bounded: when no worker is alive (or the scheduler is unreachable) for
  ``no_worker_timeout`` seconds, the jobs still waiting fail with a message that says so; a job that
  runs longer than ``job_timeout`` (if set) is cancelled and fails. Nothing waits forever.
- Results are yielded as jobs complete, in completion order.
"""
from __future__ import annotations

import logging
import os
import sys
import time
import uuid
from collections import deque
from concurrent.futures import CancelledError
from typing import Callable, Iterable, Iterator

from distributed.diagnostics.plugin import WorkerPlugin

from benchmark.common.provenance import now
from benchmark.pipeline.runner import JobTask, TaskResult, execute

DEFAULT_RETRIES = 2
NO_WORKER_TIMEOUT_S = 120.0   # no worker alive this long: the waiting jobs fail
POLL_S = 1.0                  # how often the driver looks at the cluster while it waits


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
                 run_task: Callable[[JobTask], TaskResult] = execute, *,
                 no_worker_timeout: float = NO_WORKER_TIMEOUT_S, job_timeout: float | None = None,
                 poll_s: float = POLL_S):
        """scheduler: a Dask scheduler address, or None for a LocalCluster of ``workers`` processes.

        retries: how many times a job whose worker died (or whose connection was lost) is resubmitted.
        run_task: what a worker runs on a task (``execute``; tests pass a stand-in).
        no_worker_timeout: seconds with no worker alive (or no scheduler) before the waiting jobs fail.
        job_timeout: seconds one attempt of a job may run before it is cancelled and fails (None: no limit).
        """
        import dask
        from distributed import Client, LocalCluster

        self.retries = retries
        self.no_worker_timeout = no_worker_timeout
        self.job_timeout = job_timeout
        self.poll_s = poll_s
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

    def _workers_alive(self) -> int:
        try:
            return len(self.worker_info())
        except Exception:  # scheduler unreachable: as good as no worker
            return 0

    def run(self, tasks: Iterable[JobTask], on_start: Callable[[JobTask], None] | None = None
            ) -> Iterator[tuple[JobTask, TaskResult]]:
        """(task, result) as jobs complete; ``on_start(task)`` is called when a job is first submitted."""
        from distributed import wait

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
        in_flight: dict = {}  # future -> (task, attempt, first started, monotonic submit time)

        def feed() -> list[tuple[JobTask, TaskResult]]:
            failed = []
            slots = self._slots()
            while queue and len(in_flight) < slots:
                task, attempt, started = queue.popleft()
                started = started or now()
                try:
                    future = self._submit(task, attempt)
                except Exception as exc:  # scheduler gone: this job fails, the driver goes on
                    failed.append((task, TaskResult("failed", None, f"cannot submit to Dask: {_describe(exc)}",
                                                    started, now())))
                    continue
                in_flight[future] = (task, attempt, started, time.monotonic())
                if attempt == 0 and on_start is not None:
                    on_start(task)
            return failed

        def give_up(future, reason: str) -> tuple[JobTask, TaskResult]:
            task, _, started, _ = in_flight.pop(future)
            try:
                future.cancel()
                future.release()
            except Exception:  # the scheduler may be gone too; the job has failed either way
                pass
            return task, TaskResult("failed", None, reason, started, now())

        yield from feed()
        no_worker_since: float | None = None
        while in_flight or queue:
            if not in_flight:
                yield from feed()
                if not in_flight and queue:  # nothing could be submitted: never spin
                    time.sleep(self.poll_s)
                continue
            try:
                done, _ = wait(list(in_flight), timeout=self.poll_s, return_when="FIRST_COMPLETED")
            except TimeoutError:  # distributed raises it when nothing finished within the poll
                done = set()
            if not done:
                # Nothing finished: look at the cluster, so that a lost worker or scheduler ends the wait.
                if self._workers_alive():
                    no_worker_since = None
                else:
                    no_worker_since = no_worker_since or time.monotonic()
                    if time.monotonic() - no_worker_since >= self.no_worker_timeout:
                        reason = (f"no Dask worker alive for {self.no_worker_timeout:g} s (they died or never "
                                  f"joined the scheduler); job not run")
                        for future in list(in_flight):
                            yield give_up(future, reason)
                        while queue:
                            task, _, started = queue.popleft()
                            yield task, TaskResult("failed", None, reason, started or now(), now())
                        return
                if self.job_timeout is not None:
                    for future, (_, _, _, submitted) in list(in_flight.items()):
                        if time.monotonic() - submitted > self.job_timeout:
                            yield give_up(future, f"job ran longer than the {self.job_timeout:g} s job timeout "
                                                  f"and was cancelled")
                    yield from feed()
                continue
            for future in done:
                task, attempt, started, _ = in_flight.pop(future)
                try:
                    result = future.result(timeout=60)
                except transient as exc:
                    reason = _describe(exc)
                    if attempt < self.retries:
                        print(f"job {task.job.method} (split {task.job.split}, seed {task.job.seed}): worker lost "
                              f"({reason}); retrying ({attempt + 1} of {self.retries})", file=sys.stderr)
                        queue.appendleft((task, attempt + 1, started))
                        future.release()
                        continue
                    result = TaskResult(
                        "failed", None, f"worker died or lost its connection {attempt + 1} time(s), last: {reason}",
                        started, now())
                except Exception as exc:  # an error outside the job itself (e.g. unpicklable task): deterministic
                    result = TaskResult("failed", None, f"task error on the Dask worker: {_describe(exc)}",
                                        started, now())
                future.release()
                yield task, result
            yield from feed()

    def close(self) -> None:
        try:
            self._client.close(timeout=30)
        finally:
            if self._cluster is not None:
                self._cluster.close(timeout=30)


class DieWithDriver(WorkerPlugin):
    """Worker plugin: each LocalCluster worker process exits with the driver (kill -9 included)."""

    def __init__(self, driver_pid: int):
        self.driver_pid = driver_pid

    def setup(self, worker) -> None:
        from benchmark.common.processes import die_with_driver

        die_with_driver(self.driver_pid)


def _local_resources() -> dict[str, float] | None:
    """Every local worker may use this machine's GPU (GPU jobs then share it), if there is one."""
    try:
        import torch

        return {"GPU": 1} if torch.cuda.is_available() else None
    except ImportError:
        return None
