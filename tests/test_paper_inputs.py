"""Paper profile: each method decodes at its paper's input size, nothing is upsampled after decoding, and a
resized flow field has its values rescaled with it. Quick and smoke keep decoding every method alike."""
from __future__ import annotations


import numpy as np
import pytest

from benchmark.common.cache import Cache
from benchmark.data.generate import write_dataset
from benchmark.data.video import FrameSpec, VideoSet, read_video
from benchmark.methods import MethodContext
from benchmark.pipeline.config import PAPER_FRAMES, PROFILES, RunConfig, frame_spec_for
from benchmark.registry import video_methods
from deep.train import ClipSource, ClipSpec, resize_flow


@pytest.fixture(scope="module")
def ucf_sized(tmp_path_factory):
    """A 320x240 set (UCF101's frame size), tiny in count and length."""
    return write_dataset(tmp_path_factory.mktemp("gen") / "set", actors=4, clips=1, width=320, height=240,
                         frames=3, progress=False)


# (height, width) each method's frames have after decoding a 320x240 video in the paper profile
EXPECTED = {"dt-bow-svm": (240, 320), "dt-fv-svm": (240, 320), "idt-bow-svm": (240, 320),
            "c3d": (128, 171), "two-stream": (256, 341), "lrcn": (240, 320), "gru-rcn": (256, 341),
            "single-frame": (178, 237), "early-fusion": (178, 237), "late-fusion": (178, 237),
            "slow-fusion": (178, 237), "feature-histograms": (128, 171), "conv-pooling": (240, 320),
            "late-pooling": (240, 320), "slow-pooling": (240, 320)}


def test_every_method_has_a_paper_size():
    assert set(PAPER_FRAMES) == set(video_methods()) == set(EXPECTED)


@pytest.mark.parametrize("method", sorted(EXPECTED))
def test_paper_decode_size_per_method(ucf_sized, method):
    video = next(ucf_sized.glob("BallDrift/*.avi"))
    for embedded in (True, False):
        frames = read_video(video, frame_spec_for("paper", method, embedded))
        assert frames.shape[1:3] == EXPECTED[method]


DEEP = ["single-frame", "early-fusion", "late-fusion", "slow-fusion", "c3d", "two-stream", "lrcn", "gru-rcn",
        "conv-pooling", "late-pooling", "slow-pooling"]


def _clip_specs(method: str) -> list[ClipSpec]:
    ctx = MethodContext(profile="paper", seed=0, device="cpu", n_classes=101, workers=1, artefact_dir="")
    model = video_methods()[method].build(ctx)
    if hasattr(model, "clip"):
        return [model.clip]
    from deep.video import two_stream

    return [spec for spec, _ in two_stream.stream_specs(two_stream.PROFILES["paper"]).values()]


@pytest.mark.parametrize("method", DEEP)
def test_deep_crops_come_from_frames_decoded_at_their_size(method):
    """The network's short side equals the decoded short side (no resize after decoding) and holds the crop."""
    height, width = EXPECTED[method]
    for clip in _clip_specs(method):
        assert clip.short_side == min(height, width), (method, clip)
        assert clip.size <= min(height, width)
    crops = {"c3d": 112, "two-stream": 224, "lrcn": 227, "gru-rcn": 224, "conv-pooling": 227, "late-pooling": 227,
             "slow-pooling": 227}
    if method in crops:
        assert {c.size for c in _clip_specs(method)} == {crops[method]}


def test_quick_and_smoke_decode_every_method_as_before():
    for profile in ("quick", "smoke"):
        for method in EXPECTED:
            assert frame_spec_for(profile, method, embedded=True) == FrameSpec()
            assert frame_spec_for(profile, method, embedded=False) == PROFILES[profile].real_frames
    # job keys hash this text: it must not change for existing specs
    assert str(FrameSpec(short_side=64, max_frames=64, stride=2)) == \
        "FrameSpec(short_side=64, max_frames=64, stride=2)"


def test_resized_flow_values_scale_with_the_field():
    flow = np.zeros((2, 24, 32, 2), np.float32)
    flow[..., 0], flow[..., 1] = 1.5, -2.0
    big = resize_flow(flow, (64, 72))            # x 2 in width, x 3 in height
    assert big.shape == (2, 72, 64, 2)
    np.testing.assert_allclose(big[..., 0], 3.0, atol=1e-5)
    np.testing.assert_allclose(big[..., 1], -6.0, atol=1e-5)


class _FlowVideos:
    """A stand-in VideoSet holding one constant flow field at 32x24."""

    def __init__(self, dx: float, dy: float):
        self.flow_ = np.zeros((4, 24, 32, 2), np.float16)
        self.flow_[..., 0], self.flow_[..., 1] = dx, dy

    def __len__(self) -> int:
        return 1

    def flow(self, i, algorithm):
        return self.flow_


def test_clip_source_rescales_flow_before_bounding_it():
    """Flow upsampled x2 doubles its displacements; the ±20 bound applies after, at the network's size."""
    from baselines.video.dt.optical_flow import dequantise

    spec = ClipSpec(frames=2, size=40, short_side=48, modality="flow")
    stored = ClipSource(_FlowVideos(3.0, -4.0), spec, preload=True).video(0)
    assert stored.dtype == np.uint8 and stored.shape[1:3] == (48, 64)
    values = dequantise(stored)
    np.testing.assert_allclose(values[..., 0], 6.0, atol=0.1)
    np.testing.assert_allclose(values[..., 1], -8.0, atol=0.1)
    clipped = dequantise(ClipSource(_FlowVideos(12.0, 0.0), spec, preload=True).video(0))
    np.testing.assert_allclose(clipped[..., 0], 20.0, atol=0.1)   # 24 px at 64 wide: bounded to 20


def test_the_run_plan_decodes_each_method_at_its_size(ucf_sized, tmp_path):
    from benchmark.pipeline.plan import plan_run
    from benchmark.pipeline.run import plan_tasks

    config = RunConfig(suite="video", dataset=str(ucf_sized), splits=(1,), methods=("c3d", "dt-bow-svm"),
                       profile="paper", seeds=1, out=tmp_path / "out", device="cpu", executor="local", workers=1)
    tasks = {t.job.method: t for t in plan_tasks(plan_run(config, Cache(tmp_path / "cache")))}
    for method, task in tasks.items():
        assert task.data.train.frame_spec == PAPER_FRAMES[method]
        assert task.data.test.frames(0).shape[1:3] == EXPECTED[method]
