"""`bench run --dry-run` prints the plan with measured per-video costs and runs nothing; a run that would not
fit in the cache disk's free space stops before starting, with one line saying how much it needs."""
from __future__ import annotations

import shutil
from collections import namedtuple
from pathlib import Path

import pytest
from test_cli import bench

from benchmark.common.cache import Cache
from benchmark.methods import MethodContext
from benchmark.pipeline import run as run_module
from benchmark.pipeline.config import RunConfig
from benchmark.pipeline.plan import plan_run
from benchmark.registry import methods_of


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
    # only the measured sample is decoded (into the real cache, where the run will find it): 2 videos per frame size
    decoded = list((cache.root / "frames").rglob("*.npz")) if (cache.root / "frames").exists() else []
    assert len(decoded) <= 2 * 2, decoded


def test_estimated_cache_bytes_match_what_the_run_writes(tmp_path, cache):
    config = RunConfig(suite="video", dataset=None, splits=(1,), methods=("two-stream",), profile="smoke", seeds=1,
                       out=tmp_path / "out", device="cpu", executor="local", workers=1)
    [row] = run_module.dry_run(config, sample=2)

    def on_disk() -> int:
        return sum(p.stat().st_size for kind in ("frames", "flow") for p in (cache.root / kind).rglob("*.npz"))

    measured = on_disk()                  # the sample the estimate measured, already in the run's cache
    assert measured > 0
    [task] = run_module.plan_tasks(plan_run(config, cache))
    for videos in (task.data.train, task.data.test):
        for i in range(len(videos)):
            videos.flow(i, "farneback")
    written = on_disk() - measured
    assert abs(row["cache_bytes"] - written) < 0.15 * written, (row["cache_bytes"], written)


@pytest.mark.parametrize("compact", [False, True], ids=["plain", "compact-caches"])
def test_the_disk_estimate_decodes_and_extracts_no_video_the_run_decodes_again(tmp_path, cache, monkeypatch, compact):
    from collections import Counter

    import benchmark.data.video as video_module
    from baselines.video.dt import method as dt_method

    decoded, extracted = Counter(), Counter()
    read_video, compute = video_module.read_video, dt_method._compute_features

    def counting_read(path, spec):
        decoded[(str(path), repr(spec))] += 1
        return read_video(path, spec)

    def counting_compute(videos, i, config):
        extracted[str(videos.paths[i])] += 1
        return compute(videos, i, config)

    monkeypatch.setattr(video_module, "read_video", counting_read)
    monkeypatch.setattr(dt_method, "_compute_features", counting_compute)
    if compact:   # the paper profile's caches (chunked frames and flow), on the smoke profile's small videos
        with_frames = run_module.with_frames
        monkeypatch.setattr(run_module, "with_frames", lambda data, frames, compact=False: with_frames(data, frames, True))
    methods, profile = ("dt-bow-svm", "c3d"), "smoke"
    config = RunConfig(suite="video", dataset=None, splits=(1,), methods=methods, profile=profile,
                       seeds=1, out=tmp_path / "out", device="cpu", executor="local", workers=1)
    run_module.check_disk(plan_run(config, cache))
    assert sum(decoded.values()) == len(methods)               # one sample video per method (frame size) measured
    assert sum(extracted.values()) == ("dt-bow-svm" in methods)
    sampled = dict(extracted)
    tasks = run_module.plan_tasks(plan_run(config, cache))     # decodes every video of every frame size
    assert sum(decoded.values()) > len(methods) and max(decoded.values()) == 1, \
        [k for k, n in decoded.items() if n > 1]
    if not sampled:
        return
    dt = next(t for t in tasks if t.job.method == "dt-bow-svm")
    ctx = MethodContext(profile=profile, seed=0, device="cpu", n_classes=dt.data.train.n_classes)
    dt_config = methods_of("video")["dt-bow-svm"].build(ctx).config
    [(path, _)] = sampled.items()
    videos = dt.data.train if path in map(str, dt.data.train.paths) else dt.data.test
    dt_method.video_features(videos, [str(p) for p in videos.paths].index(path), dt_config)  # as the job would
    assert extracted == sampled, "the job extracted the video the estimate had extracted again"


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
        assert row["first_batch_s"] > 0.0, row     # the input pipeline's start, stored apart from the waits
