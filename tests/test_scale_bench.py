"""The scale benchmark's UCF101 projection and its flow timing (``python -m benchmark.scale_bench``)."""
from __future__ import annotations

import json

import pytest

from benchmark.tools import scale_bench
from benchmark.tools.scale_bench import UCF101_FRAMES_PER_VIDEO as F, UCF101_SPLIT1_VIDEOS as N


def _row(method, **kw):
    row = {"multiplier": 16, "method": method, "frames": 20, "videos": 640, "flow": None, "peak_rss_mb": 2048.0,
           "peak_rss_children_mb": 512.0, "cache_bytes_per_video": 2_000_000, "decode_extract_s_per_video": 2.0, "workers": 2,
           "train_clips": 100, "train_s": 50.0}
    return {**row, **kw}


def _cells(table: str, method: str) -> list[str]:
    line = next(line for line in table.splitlines() if line.startswith(f"| {method} |"))
    return [c.strip() for c in line.strip("|").split("|")]


def test_projection_scales_per_frame_costs_to_ucf101_split1():
    table = scale_bench.projection([_row("dt-bow-svm"), _row("dt-bow-svm", multiplier=1, frames=999)],
                                   {"tvl1": 3.0, "farneback": 0.1, "dis": 0.05})
    cells = _cells(table, "dt-bow-svm")   # only the largest set's row is projected
    assert cells[1] == f"{4.0 / 20 * F * N / 3600:,.0f}"                 # CPU-hours
    assert cells[2] == f"{2e6 / 20 * F * N / 1e9:,.0f}"                  # disk GB
    assert cells[3] == "2.0"                                             # the larger of own / pool peak
    assert cells[4] == "-"                                               # no network to train
    assert cells[5] == f"{4.0 / 20 * F * N / 3600 / 16:,.1f}"            # 16 cores


def test_projection_swaps_the_series_flow_for_tvl1_and_uses_gpu_throughput():
    rows = [_row("two-stream", flow="farneback")]
    gpu = {"device": "Some GPU", "methods": {"two-stream": {"train_clips_per_s": 1000.0}}}
    table = scale_bench.projection(rows, {"tvl1": 3.0, "farneback": 0.1, "dis": 0.05}, gpu=gpu)
    cells = _cells(table, "two-stream")
    expected = 4.0 / 20 * F * N + (3.0 - 0.1) * (F - 1) * N
    assert cells[1] == f"{expected / 3600:,.0f}"
    clips = scale_bench.paper_train_clips("two-stream")
    assert clips > 80_000 * 256 * 2          # both streams, and the fold models of the fusion SVM
    assert cells[4] == f"{clips / (100 / 50.0) / 3600:,.0f}"
    assert cells[6] == f"{clips / 1000.0 / 3600:,.1f}"
    assert "train h (Some GPU)" in table.splitlines()[0]


def test_project_without_a_finished_run_is_one_clear_error(tmp_path, capsys):
    assert scale_bench.main(["--out", str(tmp_path), "--project"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no finished scale run" in err[0]


def test_project_reads_the_stored_run(tmp_path, capsys):
    (tmp_path / "results.jsonl").write_text(json.dumps(_row("c3d")) + "\n")
    (tmp_path / "flow.json").write_text(json.dumps({"tvl1": 3.0, "farneback": 0.1, "dis": 0.05}))
    assert scale_bench.main(["--out", str(tmp_path), "--project"]) == 0
    assert _cells(capsys.readouterr().out, "c3d")[4] == f"{20_000 * 30 / 2.0 / 3600:,.0f}"


@pytest.mark.parametrize("figures", [{"methods": {"c3d": {"train_clips_per_s": 47.6}}}, {"device": "GPU"}, []])
def test_project_with_a_gpu_file_lacking_its_fields_is_one_clear_error(tmp_path, capsys, figures):
    (tmp_path / "results.jsonl").write_text(json.dumps(_row("c3d")) + "\n")
    (tmp_path / "flow.json").write_text(json.dumps({"tvl1": 3.0, "farneback": 0.1, "dis": 0.05}))
    (tmp_path / "gpu.json").write_text(json.dumps(figures))
    assert scale_bench.main(["--out", str(tmp_path), "--project", "--gpu-json", str(tmp_path / "gpu.json")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and 'needs a "device" name and a "methods" object' in err[0]


def test_project_with_a_gpu_file(tmp_path, capsys):
    (tmp_path / "results.jsonl").write_text(json.dumps(_row("c3d")) + "\n")
    (tmp_path / "flow.json").write_text(json.dumps({"tvl1": 3.0, "farneback": 0.1, "dis": 0.05}))
    (tmp_path / "gpu.json").write_text(json.dumps({"device": "H200", "methods": {"c3d": {"train_clips_per_s": 50.0}}}))
    assert scale_bench.main(["--out", str(tmp_path), "--project", "--gpu-json", str(tmp_path / "gpu.json")]) == 0
    assert _cells(capsys.readouterr().out, "c3d")[6] == f"{20_000 * 30 / 50.0 / 3600:,.1f}"


@pytest.mark.parametrize("algorithm", ["farneback", "dis"])
def test_flow_timing_is_positive(algorithm):
    assert 0 < scale_bench.time_flow(algorithm, 2, 160, 120, short_side=64) < 5


def _series(method, videos, rss, cache, s_per_video):
    return [_row(method, videos=n, multiplier=n // videos[0], peak_rss_mb=m, peak_rss_children_mb=100.0,
                 cache_bytes_per_video=c, decode_extract_s_per_video=t)
            for n, m, c, t in zip(videos, rss, cache, s_per_video)]


def test_the_marginal_time_per_video_removes_a_fixed_cost():
    # 10 s of start-up plus 0.5 s a video: seconds per whole-set video fall, the cost of one more does not
    videos = [8, 32, 128]
    rows = _series("c3d", videos, [500.0] * 3, [1e6] * 3, [(10 + 0.5 * n) / n for n in videos])
    assert scale_bench.marginal_s_per_video(rows) == pytest.approx([0.5, 0.5])
    assert _cells(scale_bench.goals_table(rows), "c3d")[-3:] == ["+0% met", "+0% met", "+0% met"]


def test_goals_table_says_not_met_beyond_15_percent():
    videos = [8, 32, 128]
    grows = _series("dt-bow-svm", videos, [500.0, 550.0, 580.0], [1e6, 1e6, 1.2e6],
                    [1.0, 1.0, (32 * 1.0 + 96 * 1.2) / 128])
    memory, cache, time = _cells(scale_bench.goals_table(grows), "dt-bow-svm")[-3:]
    assert memory == "+16% NOT met" and cache == "+20% NOT met" and time == "+20% NOT met"
    within = _series("dt-bow-svm", videos, [500.0, 550.0, 570.0], [1e6] * 3, [1.0] * 3)
    assert _cells(scale_bench.goals_table(within), "dt-bow-svm")[-3] == "+14% met"


def test_goals_table_judges_the_job_alone_where_no_pool_was_reaped():
    rows = [{**r, "peak_rss_children_mb": 0.0} for r in _series("c3d", [8, 32, 128], [500.0, 520.0, 600.0],
                                                                   [1e6] * 3, [1.0] * 3)]
    assert _cells(scale_bench.goals_table(rows), "c3d")[-3] == "+20% NOT met"
