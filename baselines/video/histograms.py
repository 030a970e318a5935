"""Feature histograms: the hand-crafted floor of Karpathy et al. 2014 (55.3% video hit@1 on Sports-1M).

Per sampled frame, a colour histogram (RGB per channel and hue) and a gradient-orientation histogram on a
whole-frame + 2x2 grid, Hellinger-normalised; a linear classifier (logistic regression) on frames;
video scores = mean of its frames' class probabilities (each frame is a "clip").

Where the settings were chosen (stored with every row as ``settings_chosen_on``, from
``benchmark.pipeline.validation.CHOSEN_ON``): quick on validation actors (the comment at the quick row: ``bench run
--validation``, actors carved from each split's training actors), between the earlier C (found on the test
videos of split 1 before the carve existed) and an alternative; smoke on validation actors too (the comment at
the smoke row).
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, TransformerMixin
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from benchmark.data.video import VideoSet
from benchmark.methods import MethodContext, MethodSpec, Scores
from benchmark.common.progress import progress
from benchmark.common.settings import settings_for


@dataclass(frozen=True)
class HistogramParams:
    frames_per_video: int     # uniformly spaced frames sampled per video
    colour_bins: int
    orientation_bins: int
    C: float                  # inverse L2 regularisation of the logistic regression


PARAMS = {
    # smoke and ci (one row): chosen on validation actors only of the ci profile (90 validation videos of 9 actor groups pooled over the 3 splits of the CI
    # variant of the data; group-bootstrap intervals); rule: the cheapest setting tried whose pooled interval's lower
    # end is at least 25%, so the CI gate sees the row fail. With objects at random rotations no setting left chance (4
    # or 8 frames, 8-32 orientation bins, C 0.1-10: 10.0-16.7%), hence the upright objects of the CI variant (pose=0).
    # Upright: 4 frames, 8 colour and 8 orientation bins, C=1 (the earlier setting) 26.7% [15.6, 40.0]; 8 frames, 16
    # orientation bins, C=0.1 / 1 / 10 34.4 / 28.9 / 28.9%, lower ends 15.6-18.9; 16 frames, 4 colour, 16 orientation
    # bins, C=0.1 38.9% [25.6, 52.2]; 8 frames, 4 colour, 32 orientation bins, C=1 43.3% [26.7, 61.1]: that one (the
    # cheaper of the two that clear 25%); in the validation run of the whole suite (`bench run --validation --suite
    # video --profile ci --split all --workers 1`) 43.3% [26.7, 60.0].
    "smoke": HistogramParams(frames_per_video=8, colour_bins=4, orientation_bins=32, C=1.0),
    # quick: C chosen on validation actors (`bench run --validation --suite video --profile quick --split 1`, 60
    # validation videos of 3 actors; rule (docs/statistics.md): the higher mean validation hit@1 over every
    # row the setting produces wins, a tie goes to the cheaper setting): C=1 16.7% against C=10 15.0% (both near
    # chance, 10%).
    "quick": HistogramParams(frames_per_video=8, colour_bins=16, orientation_bins=8, C=1.0),
    "paper": HistogramParams(frames_per_video=16, colour_bins=32, orientation_bins=9, C=1.0),
}


def _normalised(hist: np.ndarray) -> np.ndarray:
    return np.sqrt(hist / max(hist.sum(), 1e-12))  # Hellinger: L1 then square root


def frame_histogram(frame: np.ndarray, colour_bins: int, orientation_bins: int) -> np.ndarray:
    """One RGB uint8 frame (H, W, 3) -> concatenated colour and gradient-orientation histograms."""
    parts = [_normalised(np.bincount(frame[..., c].ravel().astype(int) * colour_bins // 256, minlength=colour_bins))
             for c in range(3)]
    hue = cv2.cvtColor(frame, cv2.COLOR_RGB2HSV)[..., 0].ravel().astype(int)  # 0..179
    parts.append(_normalised(np.bincount(hue * colour_bins // 180, minlength=colour_bins)))
    grey = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY).astype(np.float32)
    gx = cv2.Sobel(grey, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(grey, cv2.CV_32F, 0, 1, ksize=3)
    magnitude, angle = cv2.cartToPolar(gx, gy)
    bins = np.minimum((angle / (2 * np.pi) * orientation_bins).astype(int), orientation_bins - 1)
    h, w = grey.shape
    cells = [(slice(None), slice(None))] + [
        (slice(i * h // 2, (i + 1) * h // 2), slice(j * w // 2, (j + 1) * w // 2)) for i in range(2) for j in range(2)]
    for rows, cols in cells:
        parts.append(_normalised(np.bincount(bins[rows, cols].ravel(), weights=magnitude[rows, cols].ravel(),
                                             minlength=orientation_bins)))
    return np.concatenate(parts).astype(np.float32)


def sample_indices(n_frames: int, k: int) -> np.ndarray:
    return np.unique(np.linspace(0, n_frames - 1, num=min(k, n_frames)).round().astype(int))


class FrameHistogramExtractor(BaseEstimator, TransformerMixin):
    """Stateless transformer: a list of frame arrays -> (n_frames, n_features)."""

    def __init__(self, colour_bins: int = 16, orientation_bins: int = 8):
        self.colour_bins = colour_bins
        self.orientation_bins = orientation_bins

    def fit(self, frames, y=None):
        return self

    def transform(self, frames) -> np.ndarray:
        return np.stack([frame_histogram(f, self.colour_bins, self.orientation_bins) for f in frames])


def histogram_pipeline(params: HistogramParams, random_state: int) -> Pipeline:
    return make_pipeline(
        FrameHistogramExtractor(params.colour_bins, params.orientation_bins),
        StandardScaler(),
        LogisticRegression(C=params.C, max_iter=2000, random_state=random_state),
    )


class FeatureHistogramMethod(ClassifierMixin, BaseEstimator):
    """Video method: frame-level histogram pipeline, video score = mean frame probability."""

    def __init__(self, params: HistogramParams = PARAMS["quick"], random_state: int = 0):
        self.params = params
        self.random_state = random_state

    def _frames(self, videos: VideoSet, desc: str) -> tuple[list[np.ndarray], np.ndarray]:
        frames, owner = [], []
        for i in progress(range(len(videos)), desc=desc, unit="video"):
            clip = videos.frames(i)
            for t in sample_indices(len(clip), self.params.frames_per_video):
                frames.append(clip[t])
                owner.append(i)
        return frames, np.asarray(owner)

    def fit(self, train: VideoSet) -> "FeatureHistogramMethod":
        frames, owner = self._frames(train, "histograms (train)")
        self.pipeline_ = histogram_pipeline(self.params, self.random_state)
        self.pipeline_.fit(frames, train.labels[owner])
        self.classes_ = np.arange(train.n_classes)
        self.n_train_clips_ = len(frames)
        return self

    def predict_scores(self, test: VideoSet) -> dict[str, Scores]:
        frames, owner = self._frames(test, "histograms (test)")
        proba = np.zeros((len(frames), test.n_classes))
        proba[:, self.pipeline_.classes_] = self.pipeline_.predict_proba(frames)
        clips = [proba[owner == i] for i in range(len(test))]
        self.n_test_clips_ = len(frames)
        return {"": Scores(video=np.stack([c.mean(axis=0) for c in clips]), clips=clips)}

    def costs(self) -> dict:
        model = self.pipeline_[-1]
        return {"params": int(model.coef_.size + model.intercept_.size), "views": self.params.frames_per_video}


def build(ctx: MethodContext) -> FeatureHistogramMethod:
    return FeatureHistogramMethod(settings_for(PARAMS, ctx.profile), random_state=ctx.seed)


HISTOGRAM_METHODS = {
    "feature-histograms": MethodSpec(
        name="feature-histograms", build=build, family="classical", modality="rgb",
        description="colour + gradient-orientation histograms per frame, logistic regression (Karpathy 2014 floor)"),
}
