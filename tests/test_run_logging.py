"""A run off a terminal speaks in log lines; a run that fails to start leaves nothing behind.

1. `bench run` with its output in a file: one line per job started and finished (method, dataset, split, seed,
   elapsed, status, jobs left, time left), a first line with the jobs to run, and the long phases of the jobs
   (run in worker processes) as rate-limited lines in the same file.
2. A failed start (dask missing, no such dataset, unknown method, a guard failing) prints one `bench: error:`
   line, no traceback, and removes the output folder, lock and store it created.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from tqdm import tqdm

from benchmark.cli import main
from benchmark.common import progress as progress_module
from benchmark.common.progress import job_label, progress

RUN = ["run", "--profile", "smoke", "--methods", "feature-histograms", "--workers", "1", "--device", "cpu"]
HIDE_DASK = "sys.modules['dask'] = None; "   # `import dask` then fails as when it is not installed


def bench_logged(argv: list[str], log: Path, env: dict | None = None, prelude: str = "") -> int:
    """`bench ARGV` in a subprocess, stdout and stderr into one file (not a terminal), as under nohup or CI."""
    code = f"{prelude}from benchmark.cli import main; sys.exit(main(sys.argv[1:]))"
    with open(log, "wb") as handle:
        return subprocess.run([sys.executable, "-c", f"import sys; {code}", *argv], stdout=handle,
                              stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, timeout=600,
                              env={**os.environ, "OMP_NUM_THREADS": "1", **(env or {})}).returncode


def test_a_logged_run_has_a_line_per_job_started_and_finished(tmp_path):
    log = tmp_path / "run.log"
    out = tmp_path / "out"
    assert bench_logged([*RUN, "--seeds", "2", "--out", str(out)], log) == 0, log.read_text()
    lines = log.read_text().splitlines()
    job = "feature-histograms on synthetic-actions split 1 seed"
    expected = [
        re.escape(f"0 of 2 jobs already done in {out} (skipped); running 2"),
        rf"job started: {job} 0; 2 job\(s\) left, time left unknown",
        rf"job done: {job} 0 in \d+\.\ds; 1 job\(s\) left, time left \d+\.\ds",
        rf"job started: {job} 1; 1 job\(s\) left, time left \d+\.\ds",   # an estimate once a job has finished
        rf"job done: {job} 1 in \d+\.\ds; 0 job\(s\) left, time left 0\.0s",
    ]
    found = [next((i for i, line in enumerate(lines) if re.fullmatch(pattern, line)), None) for pattern in expected]
    assert None not in found and found == sorted(found), (found, lines)

    # the same command with a third seed: the done jobs are logged as skipped, and the phases inside the job
    # (its worker process) log lines into the same file once the interval has passed
    assert bench_logged([*RUN, "--seeds", "3", "--out", str(out)], log, env={"BENCH_LOG_INTERVAL_S": "0"}) == 0
    text = log.read_text()
    assert f"2 of 3 jobs already done in {out} (skipped); running 1" in text
    assert f"job skipped (already done): {job} 0\n" in text and f"job skipped (already done): {job} 1\n" in text
    assert re.search(rf"job started: {job} 2; 1 job\(s\) left, time left unknown\n", text)
    assert re.search(r"^  feature-histograms split 1 seed 2: histograms \(train\) \d+/\d+ videos, \d+\.\ds$", text,
                     re.MULTILINE), text[-3000:]
    assert re.search(r"^  decoding synthetic-actions split 1 \d+/\d+ videos, \d+\.\ds$", text, re.MULTILINE)
    assert "Traceback" not in text


def test_phase_lines_are_rate_limited_off_a_terminal(capsys, monkeypatch):
    monkeypatch.setattr(progress_module, "LOG_INTERVAL_S", 0.2)
    start = time.monotonic()
    with job_label("c3d split 1 seed 0"):
        for _ in progress(range(100), desc="training", unit="step"):
            time.sleep(0.01)
    elapsed = time.monotonic() - start
    lines = capsys.readouterr().err.splitlines()
    counts = [int(m.group(1)) for line in lines
              if (m := re.fullmatch(r"  c3d split 1 seed 0: training (\d+)/100 steps, \d+\.\ds", line))]
    assert len(counts) == len(lines) >= 1, lines
    assert len(lines) <= elapsed / 0.2 + 1, (elapsed, lines)   # at most one line per interval
    assert counts == sorted(counts) and counts[-1] <= 100
    with job_label("x"):
        pass
    for _ in progress(range(3), desc="decoding", unit="video"):   # the label ends with its job
        time.sleep(0.25)
    assert capsys.readouterr().err.splitlines()[-1].startswith("  decoding 3/3 videos")


def test_bars_on_a_terminal_lines_off_it(monkeypatch):
    monkeypatch.setattr(progress_module, "interactive", lambda: True)
    bar = progress(range(3), desc="training", unit="step")
    assert isinstance(bar, tqdm)
    bar.close()
    monkeypatch.setattr(progress_module, "interactive", lambda: False)
    assert not isinstance(progress(range(3), desc="training", unit="step"), tqdm)


def _paths(root: Path) -> set[str]:
    """Every file and folder under root but the artefact cache (which a failed start may fill)."""
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.relative_to(root).parts[0] != "cache"}


def test_missing_dask_is_one_line_and_leaves_nothing(tmp_path):
    log = tmp_path / "run.log"
    out = tmp_path / "new" / "out"
    code = bench_logged([*RUN, "--executor", "dask", "--out", str(out)], log, prelude=HIDE_DASK)
    lines = [line for line in log.read_text().splitlines() if line.strip()]
    assert code == 2 and len(lines) == 1, lines
    assert lines[0].startswith("bench: error: --executor dask needs dask")
    assert lines[0].endswith("install it with pip install -e '.[dask]'")
    assert not (tmp_path / "new").exists()


def _no_disk(tmp_path: Path, monkeypatch) -> list[str]:
    from collections import namedtuple

    from benchmark.pipeline import run as run_module

    usage = namedtuple("usage", "total used free")
    monkeypatch.setenv("BENCH_CACHE", str(tmp_path / "cache"))   # empty: the estimate counts every artefact
    monkeypatch.setattr(run_module.shutil, "disk_usage", lambda path: usage(10**9, 10**9 - 1000, 1000))
    return []


def _leaky(tmp_path: Path, monkeypatch) -> list[str]:
    from test_protocol import _dataset

    return ["--dataset", str(_dataset(tmp_path / "leaky", train_groups=(1, 2), test_groups=(2, 3)))]


def _no_executor(tmp_path: Path, monkeypatch) -> list[str]:
    from benchmark.pipeline import run as run_module

    def refuse(config):
        raise OSError("cannot reach the Dask scheduler")
    monkeypatch.setattr(run_module, "make_executor", refuse)   # fails after the plan, just before the store
    return []


FAILED_STARTS = {
    "no such dataset": lambda tmp, mp: ["--dataset", str(tmp / "none")],
    "unknown method": lambda tmp, mp: ["--methods", "no-such-method"],
    "protocol guard": _leaky,
    "disk check": _no_disk,
    "executor": _no_executor,
}


@pytest.mark.parametrize("kind", list(FAILED_STARTS))
def test_a_failed_start_leaves_nothing_it_created(tmp_path, capsys, monkeypatch, kind):
    args = FAILED_STARTS[kind](tmp_path, monkeypatch)
    existing = tmp_path / "existing"          # an output folder that was there keeps what it held, no more
    existing.mkdir()
    (existing / "notes.txt").write_text("mine\n")
    before = _paths(tmp_path)
    for out in (tmp_path / "new" / "out", existing):
        code = main([*RUN, *args, "--out", str(out)])
        captured = capsys.readouterr()
        err = [line for line in captured.err.splitlines() if line.strip() and not line.startswith("warning:")]
        assert code == 2 and len(err) == 1 and err[0].startswith("bench: error: "), err
        assert "Traceback" not in captured.err
        assert _paths(tmp_path) == before, sorted(_paths(tmp_path) ^ before)
    assert (existing / "notes.txt").read_text() == "mine\n"


def test_job_lines_name_a_split_only_for_video_jobs():
    from benchmark.common.progress import RunLog
    from benchmark.pipeline.runner import Job

    video = Job(suite="video", dataset="synthetic-actions", split=2, method="c3d", profile="smoke", seed=1, device="cpu")
    images = Job(suite="generative", dataset="digits", split=1, method="vae", profile="smoke", seed=0, device="cpu")
    assert RunLog._name(video) == "c3d on synthetic-actions split 2 seed 1"
    assert RunLog._name(images) == "vae on digits seed 0"
