"""The Dask executor on a real 2-worker LocalCluster: same results as the local executor, bounded retries."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import cloudpickle
import pytest
from store_tables import result_table

pytest.importorskip("distributed")

from benchmark.pipeline.dask_executor import DaskExecutor  # noqa: E402
from benchmark.pipeline.outcome import JobOutcome, RowResult  # noqa: E402
from benchmark.pipeline.runner import Job, JobTask, TaskResult  # noqa: E402

# the stand-in job functions below run on the Dask workers, which cannot import this test module
cloudpickle.register_pickle_by_value(sys.modules[__name__])


def bench(args: list[str], cache: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    env = {**os.environ, "BENCH_CACHE": str(cache), "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "benchmark.cli", *args], env=env, capture_output=True, text=True,
                          errors="replace", timeout=timeout)

def test_dask_run_matches_local_run(tmp_path):
    cache = tmp_path / "cache"
    common = ["run", "--profile", "smoke", "--methods", "feature-histograms", "--workers", "2"]
    started = time.perf_counter()
    local = bench([*common, "--out", str(tmp_path / "local")], cache)
    local_s = time.perf_counter() - started
    assert local.returncode == 0, local.stderr[-2000:]
    started = time.perf_counter()
    dask = bench([*common, "--executor", "dask", "--out", str(tmp_path / "dask")], cache)
    dask_s = time.perf_counter() - started
    assert dask.returncode == 0, dask.stderr[-2000:]
    job = "feature-histograms on synthetic-actions split 1 seed 0"
    assert f"job started: {job};" in dask.stderr and f"job done: {job} in " in dask.stderr   # the log of the driver
    print(f"smoke feature-histograms wall time: local {local_s:.1f} s, dask (2-worker LocalCluster) {dask_s:.1f} s")

    local_rows, local_predictions = result_table(tmp_path / "local")
    dask_rows, dask_predictions = result_table(tmp_path / "dask")
    assert local_rows and all(r[3] == "done" for r in local_rows)
    assert dask_rows == local_rows
    assert len(local_predictions) > 0
    assert dask_predictions == local_predictions


# --- the executor itself, with stand-in job functions ------------------------------------------

def fake_task(name: str, device: str = "cpu") -> JobTask:
    return JobTask(Job("video", "fake", 1, name, "smoke", 0, device), key=f"key-{name}", code_version="v",
                   data=None, artefact_dir="", workers=1, threads=1)


def _attempt(task: JobTask, log_dir: str) -> int:
    """Count this call in a file per task; return the attempt number (1, 2, ...)."""
    path = Path(log_dir) / task.job.method
    with open(path, "a") as handle:
        handle.write("x")
    return path.stat().st_size


def _outcome(name: str) -> JobOutcome:
    return JobOutcome([RowResult("", {"video_hit1": 1.0, "name": name})], {"train_s": 0.0})


def make_run_task(log_dir: str):
    """A stand-in for ``execute`` whose behaviour depends on the job's method name."""

    def run_task(task: JobTask) -> TaskResult:
        name = task.job.method
        attempt = _attempt(task, log_dir)
        if name.startswith("sleep"):
            time.sleep(float(name.split("-")[1]))
        if name == "dies-once" and attempt == 1 or name == "dies-always":
            os.kill(os.getpid(), signal.SIGKILL)
        if name == "job-error":
            return TaskResult("failed", None, "ValueError: bad config [fake.py:1]", "", "")
        if name == "raises":
            raise RuntimeError("boom outside the job")
        return TaskResult("done", _outcome(name), None, "", "")

    return run_task


@pytest.fixture(scope="module")
def log_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("attempts")


@pytest.fixture(scope="module")
def executor(log_dir):
    executor = DaskExecutor(None, workers=2, retries=2, run_task=make_run_task(str(log_dir)), no_worker_timeout=30)
    yield executor
    executor.close()


def attempts(log_dir: Path, name: str) -> int:
    path = log_dir / name
    return path.stat().st_size if path.exists() else 0


def test_local_cluster_has_two_single_threaded_workers(executor):
    workers = executor.worker_info()
    assert len(workers) == 2
    assert all(w["nthreads"] == 1 for w in workers.values())


def test_results_come_as_jobs_complete(executor):
    names = [r[0].job.method for r in executor.run([fake_task("sleep-3"), fake_task("sleep-0")])]
    assert names == ["sleep-0", "sleep-3"]


def test_deterministic_failures_are_not_retried(executor, log_dir):
    results = {t.job.method: r for t, r in executor.run([fake_task("job-error"), fake_task("raises"),
                                                        fake_task("fine")])}
    assert results["job-error"].status == "failed" and "bad config" in results["job-error"].error
    assert results["raises"].status == "failed" and "boom outside the job" in results["raises"].error
    assert results["fine"].status == "done"
    assert attempts(log_dir, "job-error") == 1
    assert attempts(log_dir, "raises") == 1


def test_a_dead_worker_is_retried_a_bounded_number_of_times(executor, log_dir):
    started = []
    results = {t.job.method: r for t, r in executor.run([fake_task("dies-once"), fake_task("dies-always"),
                                                        fake_task("survivor")],
                                                       on_start=lambda task: started.append(task.job.method))}
    assert sorted(started) == ["dies-always", "dies-once", "survivor"]   # a retry is not a new start
    assert results["dies-once"].status == "done"
    assert attempts(log_dir, "dies-once") == 2
    assert results["dies-always"].status == "failed"
    assert "worker died" in results["dies-always"].error and "3 time(s)" in results["dies-always"].error
    assert attempts(log_dir, "dies-always") == 3          # first try + 2 retries
    assert results["survivor"].status == "done"
    assert attempts(log_dir, "survivor") == 1             # a neighbour's death costs it no retry
    assert results["survivor"].outcome.rows[0].metrics["name"] == "survivor"


def test_gpu_jobs_without_gpu_workers_fail_at_once(executor):
    if any(w.get("resources", {}).get("GPU") for w in executor.worker_info().values()):
        pytest.skip("this machine's workers have a GPU")
    [(task, result)] = list(executor.run([fake_task("needs-gpu", device="cuda")]))
    assert result.status == "failed" and "GPU" in result.error


def test_gpu_jobs_ask_for_the_gpu_resource(log_dir):
    # no real GPU needed: on a cluster without the resource the job must wait for one ("no-worker"),
    # on a worker that advertises GPU=1 it must run
    from distributed import LocalCluster

    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=":0") as plain:
        executor = DaskExecutor(plain.scheduler_address, run_task=make_run_task(str(log_dir)))
        try:
            future = executor._submit(fake_task("gpu-waits", device="cuda"), 0)
            time.sleep(1.0)
            state = executor.client.run_on_scheduler(
                lambda dask_scheduler, key=future.key: (dask_scheduler.tasks[key].state,
                                                        dask_scheduler.tasks[key].resource_restrictions))
            assert state == ("no-worker", {"GPU": 1})
            future.cancel()
        finally:
            executor.close()
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=":0",
                      resources={"GPU": 1}) as gpu:
        executor = DaskExecutor(gpu.scheduler_address, run_task=make_run_task(str(log_dir)))
        try:
            [(task, result)] = list(executor.run([fake_task("gpu-job", device="cuda")]))
            assert result.status == "done"
        finally:
            executor.close()


# --- every wait is bounded ----------------------------------------------------------------------

@pytest.mark.timeout(60)
def test_no_worker_alive_fails_the_waiting_jobs_within_the_bound(log_dir):
    # The case that once hung CI for 46 minutes: jobs in flight, every worker gone, nothing restarting one.
    from distributed import LocalCluster

    with LocalCluster(n_workers=0, processes=False, dashboard_address=":0") as empty:
        executor = DaskExecutor(empty.scheduler_address, run_task=make_run_task(str(log_dir)),
                                no_worker_timeout=2.0, poll_s=0.2)
        try:
            started = time.monotonic()
            results = {t.job.method: r for t, r in executor.run([fake_task("orphan-1"), fake_task("orphan-2")])}
            took = time.monotonic() - started
        finally:
            executor.close()
    assert set(results) == {"orphan-1", "orphan-2"}
    for result in results.values():
        assert result.status == "failed"
        assert "no Dask worker alive for 2 s" in result.error and "\n" not in result.error
    assert 2.0 <= took < 20, took


@pytest.mark.timeout(90)
def test_a_worker_that_leaves_mid_job_and_never_returns_ends_the_run(log_dir):
    from distributed import LocalCluster

    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=":0") as cluster:
        executor = DaskExecutor(cluster.scheduler_address, run_task=make_run_task(str(log_dir)),
                                no_worker_timeout=2.0, poll_s=0.2)
        try:
            def retire_soon():
                time.sleep(1.0)
                cluster.scale(0)   # the only worker goes away while the job runs; none comes back

            import threading

            threading.Thread(target=retire_soon, daemon=True).start()
            started = time.monotonic()
            [(task, result)] = list(executor.run([fake_task("sleep-10")]))
            took = time.monotonic() - started
        finally:
            executor.close()
    assert result.status == "failed"
    assert "no Dask worker alive" in result.error or "worker died" in result.error, result.error
    assert took < 9, took                      # before the 10 s job would have finished


@pytest.mark.timeout(60)
def test_a_job_over_its_time_limit_is_cancelled_and_fails(executor, log_dir):
    executor.job_timeout = 1.0
    try:
        started = time.monotonic()
        [(task, result)] = list(executor.run([fake_task("sleep-20")]))
    finally:
        executor.job_timeout = None
    assert result.status == "failed" and "1 s job timeout" in result.error
    assert time.monotonic() - started < 10
