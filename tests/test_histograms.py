"""The feature-histogram floor: a scikit-learn pipeline that does learn what histograms can see."""
from __future__ import annotations

import numpy as np
from sklearn.base import clone

from baselines.video.histograms import PARAMS, FeatureHistogramMethod, frame_histogram, histogram_pipeline
from benchmark.common.cache import Cache
from benchmark.data.synthetic import write_avi
from benchmark.data.video import VideoSet


def _colour_videos(tmp_path, n_per_class=6, seed=0):
    """Two classes that differ only in colour: histograms must separate them."""
    rng = np.random.default_rng(seed)
    paths, labels = [], []
    for label, channel in enumerate((0, 2)):
        for k in range(n_per_class):
            frames = rng.integers(0, 60, size=(6, 24, 24, 3), dtype=np.uint8)
            frames[..., channel] += 150
            path = tmp_path / f"c{label}_{k}.avi"
            write_avi(path, frames, fps=25)
            paths.append(path)
            labels.append(label)
    return VideoSet(tuple(paths), np.array(labels), np.arange(len(paths)), ("red", "blue"), cache=Cache(tmp_path / "c"))


def test_histogram_method_separates_colour_classes(tmp_path):
    videos = _colour_videos(tmp_path)
    train = videos.subset([0, 1, 2, 3, 6, 7, 8, 9])
    test = videos.subset([4, 5, 10, 11])
    method = FeatureHistogramMethod(PARAMS["smoke"], random_state=0)
    assert method.fit(train) is method
    scores = method.predict_scores(test)[""]
    assert np.array_equal(scores.video.argmax(axis=1), test.labels)
    assert np.allclose(scores.video.sum(axis=1), 1)
    assert len(scores.clips) == len(test) and method.n_test_clips_ == sum(len(c) for c in scores.clips)


def test_frame_histogram_is_normalised_per_block():
    frame = np.random.default_rng(1).integers(0, 255, (16, 16, 3), dtype=np.uint8)
    h = frame_histogram(frame, colour_bins=8, orientation_bins=8)
    blocks = h.reshape(-1, 8)  # 4 colour blocks + 5 orientation cells, each Hellinger-normalised
    assert np.allclose((blocks ** 2).sum(axis=1), 1, atol=1e-5)


def test_pipeline_is_a_clonable_estimator():
    pipeline = histogram_pipeline(PARAMS["smoke"], random_state=3)
    assert clone(pipeline).get_params()["logisticregression__random_state"] == 3
