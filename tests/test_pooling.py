"""Ng et al. 2015 feature pooling (deep.video.pooling): what each variant's pooling over time does to the order of
frames, and the paper-sized networks' shapes."""
from __future__ import annotations

import pytest
import torch

from deep.train import init_weights
from deep.video import pooling

SMOKE = pooling.PROFILES["smoke"]    # 8 frames; local windows of 4 frames, stride 2: frames 0-3, 2-5, 4-7


def _net(variant: str) -> pooling.PoolingNet:
    torch.manual_seed(0)
    return init_weights(pooling.make_net(variant, SMOKE, 5)).eval()


def _clips() -> torch.Tensor:
    torch.manual_seed(1)
    return torch.randn(3, 3, SMOKE.clip.frames, SMOKE.clip.size, SMOKE.clip.size)   # (B, 3, T, H, W)


def order_free(variant: str, order: list[int]) -> bool:
    """Whether the network's output is unchanged when the clip's frames are put in ``order``."""
    net, x = _net(variant), _clips()
    with torch.no_grad():
        before, after = net(x), net(x[:, :, order])
    assert before.abs().max() > 1e-3                     # a network that outputs constants would be order-free
    return torch.allclose(before, after, rtol=1e-5, atol=1e-6)


REVERSED = [7, 6, 5, 4, 3, 2, 1, 0]
ACROSS_WINDOWS = [7, 1, 2, 3, 4, 5, 6, 0]      # frames 0 and 7 swapped: they share no window
WITHIN_A_WINDOW = [1, 0, 2, 3, 4, 5, 6, 7]     # frames 0 and 1 swapped: both only in the first window


def test_conv_and_late_pooling_ignore_the_order_of_frames():
    for variant in ("conv-pooling", "late-pooling"):     # one max over all frames
        for order in (REVERSED, ACROSS_WINDOWS, WITHIN_A_WINDOW):
            assert order_free(variant, order), (variant, order)


def test_local_windows_see_the_order_of_frames_across_windows():
    assert not order_free("slow-pooling", ACROSS_WINDOWS)
    assert not order_free("local-pooling", ACROSS_WINDOWS)
    # within one window the max is still order-free: the check above does fail on an order-free change
    assert order_free("slow-pooling", WITHIN_A_WINDOW)


def test_a_temporal_convolution_breaks_order_invariance():
    """The order-free check can fail: a time-domain convolution before the max weights frames by position."""
    assert not order_free("time-conv-pooling", WITHIN_A_WINDOW)
    assert not order_free("time-conv-pooling", REVERSED)


def test_paper_networks_pool_as_the_paper_says():
    cfg = pooling.PROFILES["paper"]
    assert (cfg.clip.frames, cfg.clip.step, cfg.clip.size) == (30, 25, 227)    # 30 frames at 1 fps (25 fps video)
    with torch.device("meta"):
        x = torch.zeros(1, 3, 30, 227, 227)
        nets = {v: pooling.make_net(v, cfg, 101) for v in pooling.VARIANTS}
        maps = nets["conv-pooling"].frame_cnn(x[:, :, 0])
        outputs = {v: net(x) for v, net in nets.items()}
    assert tuple(maps.shape[1:]) == (256, 6, 6)                     # pool5 of CaffeNet at 227 px
    assert {v: n.n_windows for v, n in nets.items()} == {
        "conv-pooling": 1, "late-pooling": 30, "slow-pooling": 5, "local-pooling": 5, "time-conv-pooling": 5}
    assert all(tuple(o.shape) == (1, 101) for o in outputs.values())
    conv, late, slow = nets["conv-pooling"], nets["late-pooling"], nets["slow-pooling"]
    assert len(conv.per_window) == 0 and conv.after[0].in_features == 256 * 36       # max, then FC6, FC7
    assert late.per_window[0].in_features == 256 * 36 and len(late.after) == 0       # FC6, FC7, then max
    assert [m.in_features for m in slow.per_window if isinstance(m, torch.nn.Linear)] == [256 * 36]
    assert [m.in_features for m in slow.after if isinstance(m, torch.nn.Linear)] == [4096]
    assert nets["local-pooling"].classifier.in_features == 5 * 4096                 # windows concatenated
    temporal = nets["time-conv-pooling"].temporal[0]
    assert (temporal.out_channels, temporal.kernel_size, temporal.stride) == (256, (10, 3, 3), (5, 1, 1))


@pytest.mark.parametrize("window, stride", [(9, 5), (0, 1)])
def test_windows_must_fit_the_clip(window, stride):
    with pytest.raises(ValueError, match="window"):
        pooling.PoolingNet(n_classes=2, frames=8, window=window, window_stride=stride, fc_per_window=0,
                           merge="max", fc_after=1, widths=(4, 8, 8, 8, 8), kernels=(3, 3, 3, 3, 3),
                           strides=(1, 1, 1, 1, 1), fc=8, size=28, norm="batch", dropout=0.0)
