"""Streaming classical encoding: the codebook sample is drawn across videos one video at a time, each video is
encoded on its own, and the peak memory of a dense-trajectory job does not grow with the number of videos."""
from __future__ import annotations

import tracemalloc
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from baselines.video.dt import method as dt
from baselines.video.dt.trajectories import n_columns
from baselines.video.encoding import sample_descriptors
from benchmark.data.video import VideoSet

CONFIG = replace(dt.PROFILES["smoke"], n_words=8, max_descriptors=3000, gmm_components=4)
ROWS = 1500   # trajectories per video: 1500 x 436 float32 = 2.6 MB


def _videos(n: int) -> VideoSet:
    labels = np.arange(n) % 4
    return VideoSet(paths=tuple(Path(f"/nonexistent/v{i}.avi") for i in range(n)), labels=labels,
                    groups=np.arange(n), class_names=("a", "b", "c", "d"))


def _fake_rows(videos: VideoSet, i: int, config) -> np.ndarray:
    """Deterministic per-video rows whose distribution depends on the label (so the SVMs learn something)."""
    rng = np.random.default_rng(int(videos.paths[i].stem[1:]))
    rows = rng.random((ROWS, n_columns(config.dt)), dtype=np.float32)
    rows[:, :10] += videos.labels[i]
    return rows


@pytest.fixture
def fake_features(monkeypatch):
    monkeypatch.setattr(dt, "video_features", _fake_rows)
    monkeypatch.setattr(dt, "n_rows", lambda videos, i, config: ROWS)
    monkeypatch.setattr(dt, "extract_all", lambda videos, config, workers=1: None)


@pytest.mark.parametrize("encoding", ["bow", "fisher"])
def test_streaming_fit_equals_fitting_on_all_descriptors_held(fake_features, encoding):
    videos = _videos(6)
    config = replace(CONFIG, encoding=encoding)
    held = [_fake_rows(videos, i, config) for i in range(len(videos))]
    np.testing.assert_array_equal(dt.sample_rows(videos, config, 2000, seed=3),
                                  sample_descriptors(held, 2000, random_state=3))
    model = dt.DenseTrajectoryMethod(config, seed=3).fit(videos)
    reference = model._encoder().fit(held)
    np.testing.assert_allclose(model.encoder_.transform(held), reference.transform(held), rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(model._encode(videos)[0], reference.transform(held), rtol=1e-6, atol=1e-9)


def _peak_mb(n_videos: int) -> float:
    videos = _videos(n_videos)
    tracemalloc.start()
    try:
        model = dt.DenseTrajectoryMethod(CONFIG, seed=0).fit(videos)
        model.predict_scores(videos)
        return tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


def test_peak_memory_does_not_grow_with_the_number_of_videos(fake_features):
    """Held in memory, 8 videos' rows are 21 MB and 32 videos' 84 MB; streamed, both peak alike."""
    small, large = _peak_mb(8), _peak_mb(32)
    print(f"DT fit+predict peak traced memory: 8 videos {small:.1f} MB, 32 videos {large:.1f} MB")
    assert large < 1.15 * small + 1.0, (small, large)


def test_paper_profile_caches_float16_rows_and_samples_256k_for_fisher_vectors():
    paper = dt.PROFILES["paper"]
    assert paper.store_dtype == "float16" and paper.max_descriptors == 100_000
    assert paper.fv_max_descriptors == 256_000
    for profile in ("quick", "smoke"):   # their cached features and numbers stay as they were
        assert dt.PROFILES[profile].store_dtype == "float32" and dt.PROFILES[profile].fv_max_descriptors is None
