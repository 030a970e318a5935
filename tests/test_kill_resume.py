"""kill -9 at random moments of `bench run`, then the same command: it completes, with the results of an
uninterrupted run, and the killed run leaves no process behind.

Kill moments are drawn (seeded, stratified) over the active part of a run: from the moment the run holds its
output directory (dataset generation, decoding, jobs, store writes) to its end, as timed on an uninterrupted
run. Every kill point starts from an empty cache and output directory, so early points hit generation.
"""
from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sessions import session_processes
from store_tables import result_table

COMMAND = ["run", "--profile", "smoke", "--workers", "2"]
def _env(cache: Path) -> dict:
    return {**os.environ, "BENCH_CACHE": str(cache), "OMP_NUM_THREADS": "1"}


def _start(out: Path, cache: Path, extra: list[str], log: Path) -> subprocess.Popen:
    """The run in its own session (to find what it leaves behind), output to a file (pipes could block it)."""
    with open(log, "wb") as handle:
        return subprocess.Popen([sys.executable, "-m", "benchmark.cli", *COMMAND, *extra, "--out", str(out)],
                                env=_env(cache), stdout=handle, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True)


def _holds_lock(out: Path) -> bool:
    lock = out / ".lock"
    return lock.is_file() and lock.read_text().startswith("pid")


def _jobs_done(out: Path) -> int:
    """Jobs the store in ``out`` holds as done (0 before the store exists)."""
    if not (out / "results.sqlite").is_file():
        return 0
    conn = sqlite3.connect(out / "results.sqlite")
    try:
        return conn.execute("SELECT COUNT(*) FROM jobs WHERE status = 'done'").fetchone()[0]
    finally:
        conn.close()


def run_to_end(out: Path, cache: Path, extra: list[str], log: Path) -> tuple[float, float]:
    """An uninterrupted run: (seconds until it held the lock, total seconds)."""
    started = time.monotonic()
    proc = _start(out, cache, extra, log)
    locked = None
    while proc.poll() is None:
        if locked is None and _holds_lock(out):
            locked = time.monotonic() - started
        assert time.monotonic() - started < 600, "the run did not finish in 10 minutes"
        time.sleep(0.02)
    assert proc.returncode == 0, log.read_bytes().decode("utf-8", "replace")[-3000:]
    total = time.monotonic() - started
    return (locked if locked is not None else 0.0), total


def kill_once(out: Path, cache: Path, extra: list[str], delay: float, log_path: Path) -> dict:
    """Start the run, SIGKILL its main process ``delay`` s after it holds the lock; what happened."""
    proc = _start(out, cache, extra, log_path)
    while proc.poll() is None and not _holds_lock(out):
        time.sleep(0.005)
    time.sleep(delay)
    finished_first = proc.poll() is not None
    if not finished_first:
        os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    deadline = time.monotonic() + 10  # pool and Dask workers notice the driver's death within seconds
    while session_processes(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    orphans = session_processes(proc.pid)
    if orphans:
        os.killpg(proc.pid, signal.SIGKILL)
    return {"delay_s": round(delay, 2), "jobs_done": _jobs_done(out), "killed": not finished_first,
            "orphans": len(orphans)}


def kill_and_resume(tmp_path: Path, n_points: int, seed: int, extra: list[str], chained: bool = False) -> list[dict]:
    """n_points seeded kill -9s, each followed by the same command, compared with an uninterrupted run.

    independent (default): each point starts from an empty cache and output directory, and its kill
    time falls in the point's own slice of the run's active time (so early points hit generation and
    decoding). chained: one output directory and the reference's (warm) cache, killed n_points times in
    a row, then run to the end: work piles up across kills, as in real life. Each kill falls at a uniform
    moment in the first half of what is left: the warm run's active time times the share of jobs not yet
    done (without that scaling, later runs end before their kill and the test kills less than it says).
    """
    reference_out = tmp_path / "reference"
    reference_cache = tmp_path / "reference-cache"
    lock_s, total_s = run_to_end(reference_out, reference_cache, extra, tmp_path / "reference.log")
    expected = result_table(reference_out, with_code_version=True)
    assert expected[0] and all(r[3] == "done" for r in expected[0])
    if chained:  # kill moments are drawn over a warm run's length
        lock_s, total_s = run_to_end(tmp_path / "warm", reference_cache, extra, tmp_path / "warm.log")
    active = max(total_s - lock_s, 0.1)
    rng = random.Random(seed)
    log = []
    for point in range(n_points):
        if chained:
            out, cache = tmp_path / "chained", reference_cache
            n_jobs = len({r[:3] for r in expected[0]})
            left = active * (n_jobs - _jobs_done(out)) / n_jobs
            delay = rng.uniform(0.05 * left, 0.5 * left)
        else:
            out, cache = tmp_path / f"killed-{point}", tmp_path / f"cache-{point}"
            window = 0.8 * active  # runs vary in length: the last 20% often ends before the kill
            delay = rng.uniform(point * window / n_points, (point + 1) * window / n_points)
        log.append(kill_once(out, cache, extra, delay, tmp_path / f"killed-{point}.log"))
        if not chained or point == n_points - 1:
            run_to_end(out, cache, extra, tmp_path / f"resumed-{point}.log")  # the same command again
            assert result_table(out, with_code_version=True) == expected, f"kill point {point} ({log[-1]}): results differ"
    print(f"kill points (after the lock, of {active:.1f} s active): {log}")
    return log


def test_kill_9_then_rerun_gives_the_uninterrupted_results(tmp_path):
    log = kill_and_resume(tmp_path, n_points=3, seed=7, extra=["--methods", "feature-histograms"])
    assert sum(p["killed"] for p in log) >= 2, log   # most points must land inside the run
    assert all(p["orphans"] == 0 for p in log), f"a killed run left processes behind: {log}"


@pytest.mark.slow
@pytest.mark.timeout(1800)  # seven smoke-suite runs
def test_kill_9_repeatedly_during_the_whole_smoke_suite(tmp_path):
    log = kill_and_resume(tmp_path, n_points=6, seed=11, extra=[], chained=True)
    assert sum(p["killed"] for p in log) >= 4, log
    assert all(p["orphans"] == 0 for p in log), f"a killed run left processes behind: {log}"


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_kill_9_of_a_dask_run_then_rerun(tmp_path):
    log = kill_and_resume(tmp_path, n_points=2, seed=5, extra=["--methods", "feature-histograms",
                                                               "--executor", "dask"])
    assert sum(p["killed"] for p in log) >= 1, log
    assert all(p["orphans"] == 0 for p in log), f"a killed run left processes behind: {log}"
