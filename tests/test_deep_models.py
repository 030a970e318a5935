"""Contract tests over every deep video model in the registry, on tiny videos written to tmp_path."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from benchmark.common.cache import Cache
from benchmark.data.video import VideoSet
from benchmark.methods import MethodContext
from deep.train import ClipClassifier, clip_loss, init_weights
from deep.video.registry import VIDEO_MODELS

N_CLASSES = 3


def write_videos(root: Path, n_per_class: int = 2, size: int = 32, frames: int = 16) -> VideoSet:
    """Moving squares: class c moves the square in direction c (right, down, left), over noise."""
    rng = np.random.default_rng(0)
    paths, labels = [], []
    for c in range(N_CLASSES):
        for k in range(n_per_class):
            path = root / f"c{c}_{k}.avi"
            writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 25, (size, size))
            background = rng.integers(0, 120, (size, size, 3), dtype=np.uint8)
            for t in range(frames):
                frame = background.copy()
                dx, dy = [(1, 0), (0, 1), (-1, 0)][c]
                x, y = size // 2 - 4 + dx * (t - frames // 2) // 2, size // 2 - 4 + dy * (t - frames // 2) // 2
                frame[max(0, y):y + 8, max(0, x):x + 8] = (40 + 60 * c, 220, 90)
                writer.write(frame)
            writer.release()
            paths.append(path)
            labels.append(c)
    return VideoSet(paths=tuple(paths), labels=np.array(labels), groups=np.arange(len(paths)),
                    class_names=tuple(f"class{c}" for c in range(N_CLASSES)), cache=Cache(root / "cache"))


@pytest.fixture(scope="module")
def videos(tmp_path_factory) -> VideoSet:
    return write_videos(tmp_path_factory.mktemp("deep-videos"))


def context(seed: int = 0, tmp: Path | None = None, split: int | None = None) -> MethodContext:
    return MethodContext(profile="smoke", seed=seed, device="cpu", n_classes=N_CLASSES,
                         artefact_dir=str(tmp) if tmp else None, split=split)


def networks(method) -> list[ClipClassifier]:
    """The single-network classifiers inside a method (two-stream has two)."""
    return list(method.streams.values()) if hasattr(method, "streams") else [method]


@pytest.mark.parametrize("name", sorted(VIDEO_MODELS))
def test_fit_predict_contract(name, videos, tmp_path):
    spec = VIDEO_MODELS[name]
    method = spec.build(context(tmp=tmp_path))
    method.extract(videos)
    assert method.fit(videos) is method
    rows = method.predict_scores(videos)
    assert tuple(rows) == spec.variants
    for scores in rows.values():
        assert scores.video.shape == (len(videos), N_CLASSES)
        np.testing.assert_allclose(scores.video.sum(axis=1), 1.0, rtol=1e-6)
        assert len(scores.clips) == len(videos)
        for clip_scores, video_score in zip(scores.clips, scores.video):
            assert clip_scores.ndim == 2 and clip_scores.shape[1] == N_CLASSES and len(clip_scores) >= 1
            np.testing.assert_allclose(clip_scores.mean(axis=0), video_score, rtol=1e-6)
    if "fusion-avg" in rows:
        np.testing.assert_allclose(rows["fusion-avg"].video, (rows["spatial"].video + rows["temporal"].video) / 2)
    assert method.n_train_clips_ > 0 and method.n_test_clips_ >= len(videos)
    costs = method.costs()
    assert costs["params"] > 0 and costs["flops_per_view"] > 0 and costs["views"] >= 1
    assert "multiply-add" in costs["flops_convention"]


@pytest.mark.parametrize("name", sorted(VIDEO_MODELS))
def test_network_output_shape_and_a_few_steps_reduce_loss(name):
    for net_spec in networks(VIDEO_MODELS[name].build(context())):
        torch.manual_seed(0)
        model = init_weights(net_spec.make_model(N_CLASSES))
        clip = net_spec.clip
        x = torch.randn(4, clip.channels, clip.frames, clip.size, clip.size)
        y = torch.tensor([0, 1, 2, 1])
        logits = model(x)
        assert logits.shape[0] == 4 and logits.shape[-1] == N_CLASSES and logits.dim() in (2, 3)
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
        model.train()
        losses = []
        for _ in range(15):
            loss = clip_loss(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        assert losses[-1] < 0.5 * losses[0], f"{name}/{net_spec.variant}: {losses}"


@pytest.mark.parametrize("name", ["single-frame", "two-stream", "lrcn", "gru-rcn", "conv-pooling"])
def test_same_seed_same_scores(name, videos):
    def run(seed: int) -> dict:
        method = VIDEO_MODELS[name].build(context(seed))
        return method.fit(videos).predict_scores(videos)

    first, again, other = run(0), run(0), run(1)
    for variant in first:
        np.testing.assert_array_equal(first[variant].video, again[variant].video)
    assert any(not np.array_equal(first[v].video, other[v].video) for v in first)


def test_a_seed_starts_each_split_from_its_own_weights(videos, monkeypatch):
    """Seed s on split 1 and on split 2 must not share initial weights (else a bad seed is bad on every split
    and the report's intervals, which redraw seeds per split, are too narrow); (split, seed) reproduces them."""
    import deep.train

    def initial_weights(split, seed):
        captured = {}

        def no_training(model, *args, **kwargs):
            captured["w"] = torch.cat([p.detach().flatten() for p in model.parameters()])
            raise RuntimeError("stop before training")

        monkeypatch.setattr(deep.train, "train_model", no_training)
        with pytest.raises(RuntimeError, match="stop before training"):
            VIDEO_MODELS["c3d"].build(context(seed, split=split)).fit(videos)
        return captured["w"]

    first = initial_weights(1, 0)
    assert torch.equal(first, initial_weights(1, 0))
    assert not torch.equal(first, initial_weights(2, 0))
    assert not torch.equal(first, initial_weights(1, 1))
    assert not torch.equal(initial_weights(2, 0), initial_weights(1, 1))


def test_split_seeds_differ_per_split_and_seed_and_runs_pass_the_split():
    seeds = {MethodContext(profile="quick", seed=s, device="cpu", n_classes=2, split=k).split_seed
             for s in range(6) for k in (1, 2, 3)}
    assert len(seeds) == 18
    assert MethodContext(profile="quick", seed=4, device="cpu", n_classes=2).split_seed == 4   # no splits
    source = (Path(__file__).parents[1] / "benchmark/pipeline/runner.py").read_text()
    assert "split=job.split" in source
