"""Video metrics the harness computes from a method's scores."""
from __future__ import annotations

import numpy as np
import pytest

from benchmark.methods import Scores
from benchmark.pipeline.metrics import pair_accuracy, video_metrics


def test_video_metrics_known_values():
    labels = np.array([0, 1, 2, 2])
    video = np.array([[0.8, 0.1, 0.1], [0.6, 0.3, 0.1], [0.1, 0.2, 0.7], [0.5, 0.3, 0.2]])
    clips = [np.array([[0.9, 0.1, 0.0], [0.2, 0.7, 0.1]]), np.array([[0.1, 0.8, 0.1]]),
             np.array([[0, 0, 1.0]]), np.array([[1.0, 0, 0]])]
    m = video_metrics(Scores(video, clips), labels, 3, {"p": (1, 2)})
    assert m["video_hit1"] == 0.5
    assert m["mean_class_acc"] == pytest.approx((1 + 0 + 0.5) / 3)
    assert m["video_hit5"] == 1.0
    assert m["clip_hit1"] == pytest.approx(3 / 5)
    assert m["confusion"] == [[1, 0, 0], [1, 0, 0], [1, 0, 1]]
    assert m["pair_acc_p"] == pytest.approx(2 / 3)


def test_pair_accuracy_is_chance_for_tied_scores():
    labels = np.array([0, 1] * 50)
    assert pair_accuracy(np.full((100, 2), 0.5), labels, 0, 1) == 0.5


def test_bad_scores_are_rejected():
    with pytest.raises(ValueError, match="shape"):
        video_metrics(Scores(np.zeros((2, 3))), np.array([0, 1, 2]), 3)
    with pytest.raises(ValueError, match="NaN"):
        video_metrics(Scores(np.full((1, 2), np.nan)), np.array([0]), 2)
