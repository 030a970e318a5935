"""kill -9 of the driver while the dense-trajectory job's extraction pool runs: no process of the run is left.

The extraction pool (spawn) lives two levels below the driver: driver -> job worker (forkserver child, or a
Dask worker) -> extractors. Every one of them must exit within seconds of the driver's death.
"""
from __future__ import annotations

import subprocess
import sys
import time

import pytest

from sessions import cmdline, kill_session, session_processes, survivors_of_kill_9
from test_kill_resume import _env


def _extractors(sid: int) -> list[int]:
    """Processes of the session started by the DT extraction pool (multiprocessing spawn children)."""
    return [p for p in session_processes(sid) if "spawn_main" in cmdline(p) and "resource_tracker" not in cmdline(p)]


@pytest.mark.parametrize("executor", ["local", pytest.param("dask", marks=pytest.mark.slow)])
def test_kill_9_mid_extraction_leaves_no_process(tmp_path, executor):
    command = [sys.executable, "-m", "benchmark.cli", "run", "--profile", "smoke", "--methods", "dt-bow-svm",
               "--workers", "2", "--executor", executor, "--out", str(tmp_path / "out")]
    log = tmp_path / "run.log"
    with open(log, "wb") as handle:
        proc = subprocess.Popen(command, env=_env(tmp_path / "cache"), stdout=handle, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 240
        while not _extractors(proc.pid):
            assert proc.poll() is None, "the run ended before its extraction pool started: " + \
                log.read_bytes().decode("utf-8", "replace")[-2000:]
            assert time.monotonic() < deadline, "no extraction worker appeared within 240 s"
            time.sleep(0.05)
        left = survivors_of_kill_9(proc, within_s=15)
        assert not left, f"processes of the killed run still alive 15 s after its kill -9: {left}"
    finally:
        kill_session(proc)
