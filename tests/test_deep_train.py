"""The training loop: a NaN loss fails clearly; a killed run resumes to the uninterrupted result."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from deep.train import ClipSource, TrainConfig, TrainingDiverged, checkpoint_path, init_weights, train_model
from deep.video import fusion
from test_deep_models import write_videos  # tests/ is on sys.path (pytest rootdir-less test modules)

ARCH = fusion.PROFILES["smoke"]
SPEC = fusion.clip_spec("early-fusion", ARCH)
CONFIG = TrainConfig(steps=6, batch_size=4, lr=1e-2, checkpoint_every=2)


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> ClipSource:
    return ClipSource(write_videos(tmp_path_factory.mktemp("train-videos")), SPEC, colour_augment=True)


def fresh_model() -> torch.nn.Module:
    torch.manual_seed(0)
    return init_weights(fusion.make_net("early-fusion", ARCH, 3))


def test_nan_loss_fails_with_the_reason(source):
    model = fresh_model()
    with torch.no_grad():
        model.classifier[-1].weight.fill_(float("nan"))
    with pytest.raises(TrainingDiverged, match=r"loss became nan at step 1 of 6"):
        train_model(model, source, CONFIG, seed=0)


class Killed(Exception):
    pass


@pytest.mark.parametrize("config", [CONFIG, dataclasses.replace(CONFIG, ema_decay=0.5)], ids=["plain", "ema"])
def test_checkpoint_resume_equals_uninterrupted_run(source, tmp_path, config):
    reference = fresh_model()
    expected = train_model(reference, source, config, seed=0)

    def kill_after_step_4(step: int, loss: float) -> None:
        if step == 4:                       # 5 steps done, last checkpoint after step 4
            raise Killed

    with pytest.raises(Killed):
        train_model(fresh_model(), source, config, seed=0, checkpoint_dir=tmp_path, on_step=kill_after_step_4)
    ckpt = checkpoint_path(tmp_path, fresh_model(), source, config, seed=0)
    assert ckpt.exists()

    resumed_model = fresh_model()
    resumed = train_model(resumed_model, source, config, seed=0, checkpoint_dir=tmp_path)
    assert resumed.resumed_from_step == 4
    assert resumed.losses == expected.losses
    for (name, a), b in zip(reference.state_dict().items(), resumed_model.state_dict().values()):
        assert torch.equal(a, b), name
    assert not ckpt.exists()                # removed once training completed


def test_weight_average_is_the_exponential_average_of_every_step(source):
    """With ``ema_decay`` the trained model holds avg_s = d * avg_(s-1) + (1 - d) * weights_s (avg_1 = weights_1),
    parameters and BN statistics alike; without it, the last step's weights."""
    decay = 0.5
    snapshots: list[dict[str, torch.Tensor]] = []
    raw = fresh_model()
    train_model(raw, source, CONFIG, seed=0,
                on_step=lambda step, loss: snapshots.append({k: v.clone() for k, v in raw.state_dict().items()}))
    averaged = fresh_model()
    train_model(averaged, source, dataclasses.replace(CONFIG, ema_decay=decay), seed=0)
    expected = snapshots[0]
    for weights in snapshots[1:]:
        expected = {k: decay * expected[k] + (1 - decay) * v if v.is_floating_point() else v
                    for k, v in weights.items()}
    floats = [k for k, v in expected.items() if v.is_floating_point()]
    assert any("running_mean" in k for k in floats)
    for k in floats:
        torch.testing.assert_close(averaged.state_dict()[k], expected[k], msg=k)
        assert torch.equal(raw.state_dict()[k], snapshots[-1][k]), k
    assert any(not torch.allclose(averaged.state_dict()[k], snapshots[-1][k]) for k in floats)


def test_different_seed_changes_training(source):
    a = train_model(fresh_model(), source, CONFIG, seed=0)
    b = train_model(fresh_model(), source, CONFIG, seed=1)
    assert a.losses != b.losses
    assert np.isfinite(a.losses).all()


def test_test_clips_are_uniformly_spaced_and_flow_is_quantised_and_centred(tmp_path):
    from baselines.video.dt.optical_flow import FLOW_BOUND
    from deep.train import ClipSpec

    videos = write_videos(tmp_path, n_per_class=1)
    rgb = ClipSource(videos, ClipSpec(frames=4, size=24))
    clips = rgb.test_clips(0, 3)
    frames = videos.frames(0)                                  # (16, 32, 32, 3)
    assert clips.shape == (3, 3, 4, 24, 24)
    starts = [0, 6, 12]                                        # linspace(0, 16 - 4, 3)
    for clip, start in zip(clips, starts):
        expected = (frames[start:start + 4, 4:28, 4:28] / 255.0 - 0.45) / 0.225
        np.testing.assert_allclose(clip.transpose(1, 2, 3, 0), expected, atol=1e-5)

    flow = ClipSource(videos, ClipSpec(frames=10, size=24, modality="flow"))
    clip = flow.test_clips(2, 1)[0]                            # (2, 10, 24, 24): x/y of 10 flow fields
    assert clip.shape == (2, 10, 24, 24)
    np.testing.assert_allclose(clip.mean(axis=(2, 3)), 0.0, atol=1e-4)          # mean flow subtracted
    assert np.abs(clip).max() <= 2 * FLOW_BOUND
    assert flow.video(2).dtype == np.uint8                     # stored quantised, as the usual tools do


def test_a_one_frame_video_is_reported_unscorable_by_the_flow_stream_not_a_failed_job(tmp_path):
    from dataclasses import replace

    from deep.train import ClipSpec, predict_clips, scores_from_clips, train_batch
    from test_deep_models import N_CLASSES

    (tmp_path / "long").mkdir()
    (tmp_path / "short").mkdir()
    long = write_videos(tmp_path / "long", n_per_class=1)
    short = write_videos(tmp_path / "short", n_per_class=1, frames=1)      # one frame: no optical flow
    videos = replace(long, paths=long.paths + short.paths[:1], labels=np.append(long.labels, short.labels[0]),
                     groups=np.arange(len(long.paths) + 1))
    spec = ClipSpec(frames=4, size=24, modality="flow")
    source = ClipSource(videos, spec)
    last = len(videos) - 1
    assert source.unscorable == {last: "too few frames for flow clips"}
    assert last not in set(source.usable.tolist())
    for step in range(5):   # every epoch visits every usable video; the empty one would fail train_clip
        _, labels = train_batch(source, 4, step, seed=0)
        assert len(labels) == 4
    clips = predict_clips(_flow_net(N_CLASSES), source, n_clips=2)
    assert len(clips) == len(videos)
    np.testing.assert_allclose(clips[last], 1.0 / N_CLASSES)
    scores = scores_from_clips(clips, source.unscorable)
    from benchmark.pipeline.metrics import video_metrics, video_predictions

    metrics = video_metrics(scores, videos.labels, N_CLASSES)
    assert metrics["n_unscorable"] == 1 and metrics["n_tied_top"] >= 1
    rows = video_predictions(scores, videos.labels, [p.name for p in videos.paths], videos.groups)
    assert rows[last]["unscorable"] == "too few frames for flow clips" and rows[last]["tied_top"] is True
    assert all("unscorable" not in r for r in rows[:last])


def _flow_net(n_classes: int) -> torch.nn.Module:
    """A tiny net over (B, 2, T, H, W) flow clips."""
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Flatten(), torch.nn.LazyLinear(n_classes))
