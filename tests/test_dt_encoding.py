"""Bag of words, Fisher vectors, the multi-channel χ² SVM, the DT method's contract and the text format."""
from __future__ import annotations

import argparse
import io

import cv2
import numpy as np
import pytest
from sklearn.base import clone
from sklearn.pipeline import Pipeline

from baselines.video.chi2_svm import MultiChannelChi2SVM, chi2_distances
from baselines.video.dt.cli import register_features_command
from baselines.video.dt.format import read_dt, to_text, write_dt
from baselines.video.dt.method import DT_METHODS, VARIANTS
from baselines.video.encoding import BagOfWords, FisherVector, MultiChannel, sample_descriptors
from benchmark.common.cache import Cache
from benchmark.data.video import VideoSet
from benchmark.methods import MethodContext


def clustered_videos(n_videos: int, centres: np.ndarray, labels: np.ndarray, seed: int = 0):
    """Per-video descriptors: video of class c draws mostly from the centres of class c."""
    rng = np.random.default_rng(seed)
    videos = []
    for label in labels:
        own = centres[label::2]
        picks = rng.integers(0, len(own), size=rng.integers(30, 60))
        videos.append((own[picks] + 0.05 * rng.standard_normal((len(picks), centres.shape[1]))).astype(np.float32))
    return videos


@pytest.fixture
def toy():
    rng = np.random.default_rng(1)
    centres = rng.standard_normal((8, 6)) * 3
    labels = np.array([0, 1] * 10)
    return centres, labels, clustered_videos(20, centres, labels)


def test_sample_descriptors_is_seeded_and_bounded(toy):
    _, _, videos = toy
    a = sample_descriptors(videos, 50, random_state=0)
    b = sample_descriptors(videos, 50, random_state=0)
    assert a.shape == (50, 6)
    np.testing.assert_array_equal(a, b)
    everything = np.concatenate(videos)
    assert all((row == everything).all(axis=1).any() for row in a)


def test_bag_of_words_finds_the_clusters_and_counts_hard_assignments(toy):
    centres, _, videos = toy
    bow = BagOfWords(n_words=8, max_descriptors=10_000, n_init=4, random_state=0).fit(videos)
    # every true centre has a codeword within the noise level
    d = np.linalg.norm(bow.codebook_[:, None] - centres[None], axis=2)
    assert d.min(axis=0).max() < 0.2
    hist = bow.transform(videos)
    np.testing.assert_allclose(hist.sum(axis=1), 1.0)
    brute = np.argmin(((videos[0][:, None] - bow.codebook_[None]) ** 2).sum(-1), axis=1)
    np.testing.assert_array_equal(bow.words(videos[0]), brute)
    np.testing.assert_allclose(hist[0], np.bincount(brute, minlength=8) / len(brute))
    assert bow.transform([np.zeros((0, 6), np.float32)]).sum() == 0  # a video without trajectories


def test_fisher_vector_shape_and_normalisation(toy):
    _, _, videos = toy
    fv = FisherVector(n_components=4, random_state=0).fit(videos)
    out = fv.transform(videos)
    assert out.shape == (20, 2 * 4 * 3)  # PCA halves the 6 dimensions
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, rtol=1e-6)
    assert np.isfinite(out).all()
    assert fv.transform([np.zeros((0, 6), np.float32)]).sum() == 0


def test_fisher_vector_matches_the_direct_formula(toy):
    _, _, videos = toy
    fv = FisherVector(n_components=3, random_state=0).fit(videos)
    x = videos[0]
    z = fv.pca_.transform(x)
    g = fv.gmm_.predict_proba(z)
    w, mu, sd = fv.gmm_.weights_, fv.gmm_.means_, np.sqrt(fv.gmm_.covariances_)
    u = (z[:, None] - mu[None]) / sd[None]
    gm = (g[..., None] * u).sum(0) / (len(x) * np.sqrt(w)[:, None])
    gs = (g[..., None] * (u ** 2 - 1)).sum(0) / (len(x) * np.sqrt(2 * w)[:, None])
    v = np.concatenate([gm.ravel(), gs.ravel()])
    v = np.sign(v) * np.sqrt(np.abs(v))
    # float32 encoding vs this float64 formula: the signed square root magnifies ~1e-7 differences near 0
    np.testing.assert_allclose(fv.transform([x])[0], v / np.linalg.norm(v), atol=2e-5)


def test_chi2_kernel_is_the_multi_channel_formula():
    rng = np.random.default_rng(0)
    X = rng.random((12, 7))
    y = np.arange(12) % 3
    svm = MultiChannelChi2SVM(blocks=(3, 4), C=10).fit(X, y)
    d1 = chi2_distances(X[:, :3], X[:, :3])
    d2 = chi2_distances(X[:, 3:], X[:, 3:])
    manual = np.exp(-(d1 / d1.mean() + d2 / d2.mean()))
    np.testing.assert_allclose(svm._kernel(X), manual, rtol=1e-10)
    x, z = X[0], X[1]
    assert np.isclose(d1[0, 1], (((x - z) ** 2) / (x + z))[:3].sum())
    assert chi2_distances(np.zeros((1, 3)), np.zeros((1, 3)))[0, 0] == 0  # 0/0 counts as 0


def test_chi2_svm_rejects_bad_input():
    with pytest.raises(ValueError, match="non-negative"):
        MultiChannelChi2SVM().fit(-np.ones((4, 3)), np.array([0, 1, 0, 1]))
    with pytest.raises(ValueError, match="blocks"):
        MultiChannelChi2SVM(blocks=(2, 2)).fit(np.ones((4, 3)), np.array([0, 1, 0, 1]))


def test_bow_chi2_pipeline_classifies_and_clones(toy):
    centres, labels, videos = toy
    test_labels = np.array([1, 0] * 5)
    test_videos = clustered_videos(10, centres, test_labels, seed=5)
    pipe = Pipeline([
        ("encode", MultiChannel(BagOfWords(n_words=8, n_init=2, random_state=0), channels=((0, 3), (3, 6)))),
        ("svm", MultiChannelChi2SVM(blocks=(8, 8), C=100)),
    ])
    pipe.fit(videos, labels)
    assert (pipe.predict(test_videos) == test_labels).mean() == 1.0
    assert pipe.named_steps["encode"].blocks_ == (8, 8)
    again = clone(pipe)
    assert again.get_params()["svm__C"] == 100 and not hasattr(again.named_steps["svm"], "svm_")


def test_fisher_linear_pipeline_classifies(toy):
    from sklearn.svm import LinearSVC

    centres, labels, videos = toy
    test_labels = np.array([1, 0] * 5)
    pipe = Pipeline([("encode", MultiChannel(FisherVector(n_components=4, random_state=0), channels=((0, 6),))),
                     ("svm", LinearSVC(random_state=0))])
    pipe.fit(videos, labels)
    assert (pipe.predict(clustered_videos(10, centres, test_labels, seed=5)) == test_labels).mean() == 1.0


# --- the text format -----------------------------------------------------------------------


def test_text_format_round_trip_and_layout():
    rng = np.random.default_rng(0)
    rows = rng.random((5, 436)).astype(np.float32)
    rows[:, 0] = np.arange(15, 20)
    text = to_text(rows)
    first = text.splitlines()[0].split("\t")
    assert len(first) == 437 and first[-1] == ""  # every value followed by a tab, as the C++
    assert first[0] == "15" and len(first[1].split(".")[1]) == 6 and len(first[40].split(".")[1]) == 7
    back = read_dt(io.StringIO(text))
    assert back.shape == (5, 436)
    np.testing.assert_allclose(back[:, :40], rows[:, :40], atol=5e-7)
    np.testing.assert_allclose(back[:, 40:], rows[:, 40:], atol=5e-8)
    buffer = io.StringIO()
    assert write_dt(iter([rows[:2], rows[2:]]), buffer) == 5 and buffer.getvalue() == text


# --- the method contract, the registry and the CLI on tiny real video files ------------------


def write_avi(path, frames: np.ndarray) -> None:
    height, width = frames.shape[1:3]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 25, (width, height))
    for frame in frames:
        writer.write(cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR))
    writer.release()


def moving_texture(direction: int, seed: int, n_frames: int = 18, size: int = 48) -> np.ndarray:
    """A textured square moving left or right (3 px/frame) over a background panning down (1 px/frame)."""
    rng = np.random.default_rng(seed)

    def tex(h, w):
        t = cv2.GaussianBlur(rng.random((h, w)).astype(np.float32), (0, 0), 1.5)
        return ((t - t.min()) / (t.max() - t.min()) * 255).astype(np.uint8)

    background, square = tex(size + n_frames, size), tex(20, 20)
    frames = []
    for t in range(n_frames):
        frame = background[n_frames - t:n_frames - t + size].copy()
        x = 2 + 3 * t if direction > 0 else size - 22 - 3 * t
        x = int(np.clip(x, 0, size - 20))
        frame[14:34, x:x + 20] = square
        frames.append(frame)
    return np.stack(frames)


@pytest.fixture(scope="module")
def tiny_videos(tmp_path_factory):
    root = tmp_path_factory.mktemp("dt-videos")
    paths, labels = [], []
    for i in range(8):
        label = i % 2
        path = root / f"v{i}.avi"
        write_avi(path, moving_texture(+1 if label else -1, seed=i))
        paths.append(path)
        labels.append(label)
    videos = VideoSet(paths=tuple(paths), labels=np.array(labels), groups=np.arange(8) // 2,
                      class_names=("left", "right"), cache=Cache(root / "cache"))
    return videos.subset(range(6)), videos.subset([6, 7])


@pytest.mark.parametrize("name", sorted(DT_METHODS))
def test_registry_methods_fit_and_score(name, tiny_videos):
    train, test = tiny_videos
    spec = DT_METHODS[name]
    assert spec.name == name and spec.family == "classical" and set(spec.variants) == set(VARIANTS)
    ctx = MethodContext(profile="smoke", seed=0, device="cpu", n_classes=2, workers=1)
    method = spec.build(ctx)
    method.extract(train)
    assert method.fit(train) is method
    scores = method.predict_scores(test)
    assert set(scores) == set(spec.variants)
    for variant, s in scores.items():
        assert s.video.shape == (2, 2)
        np.testing.assert_allclose(s.video.sum(axis=1), 1.0)
    assert method.n_train_clips_ == 6 and method.n_test_clips_ == 2


def test_extraction_in_worker_processes_matches_and_is_cached(tiny_videos):
    from baselines.video.dt.method import config_for, extract_all, video_features

    train, _ = tiny_videos
    config = config_for("smoke")
    fresh = VideoSet(paths=train.paths, labels=train.labels, groups=train.groups,
                     class_names=train.class_names, cache=Cache(train.cache.root.parent / "cache-workers"))
    extract_all(fresh, config, workers=2)
    for i in range(len(train)):
        np.testing.assert_array_equal(video_features(fresh, i, config), video_features(train, i, config))


def test_features_cli_writes_the_text_format(tmp_path, tiny_videos):
    parser = argparse.ArgumentParser()
    register_features_command(parser.add_subparsers())
    video = tiny_videos[0].paths[0]
    out = tmp_path / "out.txt"
    args = parser.parse_args(["features", "dt", str(video), "-o", str(out), "--flow", "dis"])
    assert args.func(args) == 0
    rows = read_dt(out)
    assert rows.shape[1] == 436 and len(rows) > 0
    missing = parser.parse_args(["features", "dt", str(tmp_path / "nope.avi")])
    assert missing.func(missing) == 2


def test_fisher_vectors_on_too_few_descriptors_say_so():
    from baselines.video.encoding import FisherVector

    few = [np.random.default_rng(0).random((7, 96)).astype(np.float32) for _ in range(6)]   # 42 < 48 dims
    with pytest.raises(ValueError, match=r"give 42 descriptors, fewer than the 48 PCA dimensions"):
        FisherVector(n_components=4, random_state=0).fit(few)


def test_a_video_without_trajectories_is_reported_not_scored_by_the_svm_bias(tmp_path, tiny_videos):
    from benchmark.pipeline.metrics import video_metrics, video_predictions

    train, test = tiny_videos
    flat = tmp_path / "flat.avi"
    write_avi(flat, np.full((20, 48, 64), 128, np.uint8))           # nothing to track
    mixed = VideoSet(paths=(test.paths[0], flat), labels=np.array([test.labels[0], 1]), groups=np.array([0, 1]),
                     class_names=test.class_names, cache=test.cache)
    method = DT_METHODS["dt-bow-svm"].build(MethodContext(profile="smoke", seed=0, device="cpu", n_classes=2))
    method.fit(train)
    for variant, scores in method.predict_scores(mixed).items():
        assert scores.unscorable == {1: "no trajectories"}, variant
        np.testing.assert_allclose(scores.video[1], [0.5, 0.5])
        metrics = video_metrics(scores, mixed.labels, 2)
        assert metrics["n_unscorable"] == 1 and metrics["n_tied_top"] >= 1
        rows = video_predictions(scores, mixed.labels, ["a", "flat"], mixed.groups)
        assert rows[1]["unscorable"] == "no trajectories" and rows[1]["tied_top"]
