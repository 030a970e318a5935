"""`bench run --dry-run` prints the plan with measured per-video costs and runs nothing; a run that would not
fit in the cache disk's free space stops before starting, with one line saying how much it needs."""
from __future__ import annotations

import shutil
from collections import namedtuple
from pathlib import Path

import pytest
from test_cli import bench

from benchmark import run as run_module
from benchmark.cache import Cache
from benchmark.config import RunConfig


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("BENCH_CACHE", str(tmp_path / "cache"))
    return Cache(tmp_path / "cache")


def test_dry_run_prints_every_job_and_runs_nothing(tmp_path, cache):
    out = tmp_path / "out"
    code, stdout, stderr = bench("run", "--profile", "smoke", "--methods", "feature-histograms,two-stream",
                                 "--dry-run", "--out", str(out))
    assert code == 0, stderr
    assert "feature-histograms" in stdout and "two-stream" in stdout and "cache disk needed" in stdout
    assert not (out / "results.sqlite").exists()
    assert not list((cache.root / "frames").rglob("*.npz")) if (cache.root / "frames").exists() else True


def test_estimated_cache_bytes_match_what_the_run_writes(tmp_path, cache):
    config = RunConfig(suite="video", dataset=None, splits=(1,), methods=("two-stream",), profile="smoke", seeds=1,
                       out=tmp_path / "out", device="cpu", executor="local", workers=1)
    [row] = run_module.dry_run(config, sample=2)
    [task] = run_module.plan_tasks(config, cache)
    for videos in (task.data.train, task.data.test):
        for i in range(len(videos)):
            videos.flow(i, "farneback")
    written = sum(p.stat().st_size for kind in ("frames", "flow") for p in (cache.root / kind).rglob("*.npz"))
    assert abs(row["cache_bytes"] - written) < 0.15 * written, (row["cache_bytes"], written)


def test_a_run_that_does_not_fit_stops_before_starting(tmp_path, cache, monkeypatch):
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(run_module.shutil, "disk_usage", lambda path: usage(10**9, 10**9 - 1000, 1000))
    out = tmp_path / "out"
    code, stdout, stderr = bench("run", "--profile", "smoke", "--methods", "feature-histograms", "--out", str(out))
    assert code == 2
    errors = [line for line in stderr.splitlines() if "bench: error" in line]
    assert len(errors) == 1 and "needs about" in errors[0] and "1000 B free" in errors[0], stderr
    assert not (out / "results.sqlite").exists()


def test_deep_jobs_record_their_data_wait_share(tmp_path, cache):
    out = tmp_path / "out"
    code, _, stderr = bench("run", "--profile", "smoke", "--methods", "c3d,two-stream", "--out", str(out),
                            "--device", "cpu", "--workers", "1")
    assert code == 0, stderr
    code, stdout, _ = bench("results", "--out", str(out), "--format", "json")
    import json

    rows = json.loads(stdout)
    assert {r["method"].split("/")[0] for r in rows} == {"c3d", "two-stream"}
    for row in rows:
        assert 0.0 <= row["data_wait_share"] <= 1.0 and row["data_wait_s"] >= 0.0, row
