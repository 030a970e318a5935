"""The two-stream fusion SVM is fitted on out-of-fold scores: no training video is scored by a stream
that trained on its actor."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from benchmark.data.video import VideoSet
from benchmark.methods import MethodContext
from deep.video import two_stream


class FakeStream:
    log: list = []

    def __init__(self, *, make_model, clip, train, ctx, variant=""):
        self.make_model, self.clip, self.train, self.ctx, self.variant = make_model, clip, train, ctx, variant

    def fit(self, videos):
        self.trained_on_ = set(videos.names)
        self.n_train_clips_ = len(videos)
        return self

    def predict_clips(self, videos):
        FakeStream.log.append((self.variant, set(self.trained_on_), set(videos.names)))
        rng = np.random.default_rng(len(videos))
        return [rng.dirichlet(np.ones(self.ctx.n_classes), self.train.test_clips) for _ in range(len(videos))]


def test_svm_scores_are_out_of_fold(monkeypatch):
    monkeypatch.setattr(two_stream, "ClipClassifier", FakeStream)
    FakeStream.log = []
    n = 48
    videos = VideoSet(paths=tuple(Path(f"v{i}.avi") for i in range(n)), labels=np.arange(n) % 4,
                      groups=np.arange(n) // 8, class_names=("a", "b", "c", "d"))
    ctx = MethodContext(profile="smoke", seed=0, device="cpu", n_classes=4)
    method = two_stream.TwoStream(arch=two_stream.PROFILES["smoke"], ctx=ctx).fit(videos)
    scored = [(variant, trained, seen) for variant, trained, seen in FakeStream.log]
    assert scored and all(not (trained & seen) for _, trained, seen in scored)   # never its own videos
    assert set().union(*(seen for variant, _, seen in scored if variant.startswith("spatial"))) == set(videos.names)
    groups = {f"v{i}.avi": i // 8 for i in range(n)}
    for _, trained, seen in scored:   # and never another video of an actor it trained on
        assert not {groups[v] for v in trained} & {groups[v] for v in seen}
    assert hasattr(method, "svm_")
