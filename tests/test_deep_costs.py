"""Parameter and FLOP counts of the paper architectures, and the recurrent-layer FLOP correction."""
from __future__ import annotations

import pytest
import torch
import torch.nn as nn

from benchmark.methods import MethodContext
from deep.flops import flops_per_view, model_costs, rnn_analytic_flops
from deep.video import c3d, fusion
from deep.video.registry import VIDEO_MODELS


def test_c3d_paper_counts_match_the_paper():
    cfg = c3d.PROFILES["paper"]
    assert (cfg.clip.frames, cfg.clip.size) == (16, 112)
    costs = model_costs(lambda n: c3d.C3D(n_classes=n, widths=cfg.widths, fc=cfg.fc), 101, cfg.clip, views=1)
    multiply_adds = costs["flops_per_view"] / 2     # torch's counter: 2 FLOPs per multiply-add
    assert multiply_adds == pytest.approx(38.5e9, rel=0.01)
    assert costs["params"] == pytest.approx(78.4e6, rel=0.01)


def _meta_shapes(net: nn.Module, x: torch.Tensor) -> list[tuple[type, tuple[int, ...]]]:
    shapes = []
    for layer in net.features:
        x = layer(x)
        shapes.append((type(layer), tuple(x.shape[1:])))
    return shapes


def _paper_net(variant: str) -> tuple[nn.Module, torch.Tensor]:
    arch = fusion.PROFILES["paper"]
    spec = fusion.clip_spec(variant, arch)
    with torch.device("meta"):
        net = fusion.make_net(variant, arch, 487)   # Sports-1M
        x = torch.zeros(1, 3, spec.frames, spec.size, spec.size)
    return net, x


def test_karpathy_single_frame_matches_the_paper_spec():
    net, x = _paper_net("single-frame")
    assert x.shape[-1] == 170
    convs = [m for m in net.features if isinstance(m, nn.Conv3d)]
    assert [(c.out_channels, c.kernel_size[1:], c.stride[1:]) for c in convs] == [
        (96, (11, 11), (3, 3)), (256, (5, 5), (1, 1)), (384, (3, 3), (1, 1)), (384, (3, 3), (1, 1)),
        (256, (3, 3), (1, 1))]
    shapes = _meta_shapes(net, x)
    assert shapes[0][1] == (96, 1, 54, 54)                     # (170 - 11) / 3 + 1
    assert sum(t is nn.LocalResponseNorm for t, _ in shapes) == 2
    assert sum(t is nn.MaxPool3d for t, _ in shapes) == 3
    assert shapes[-1][1] == (256, 1, 6, 6)
    fcs = [m for m in net.classifier if isinstance(m, nn.Linear)]
    assert [(f.in_features, f.out_features) for f in fcs] == [(256 * 36, 4096), (4096, 4096), (4096, 487)]


def test_karpathy_fusion_variants_connect_time_as_the_paper_says():
    early, x = _paper_net("early-fusion")
    assert x.shape[2] == 10 and early.features[0].kernel_size[0] == 10
    assert _meta_shapes(early, x)[0][1][1] == 1                      # conv1 consumed all 10 frames

    slow, x = _paper_net("slow-fusion")
    convs = [m for m in slow.features if isinstance(m, nn.Conv3d)]
    assert [c.kernel_size[0] for c in convs[:3]] == [4, 2, 2] and [c.stride[0] for c in convs[:3]] == [2, 2, 2]
    times = [shape[1] for t, shape in _meta_shapes(slow, x) if t is nn.Conv3d]
    assert times[:3] == [4, 2, 1]                                    # conv3 sees all 10 frames

    late, x = _paper_net("late-fusion")
    assert fusion.clip_spec("late-fusion", fusion.PROFILES["paper"]).step == 15 and x.shape[2] == 2
    assert all(m.kernel_size[0] == 1 for m in late.features if isinstance(m, nn.Conv3d))   # shared tower
    assert late.classifier[1].in_features == 2 * 256 * 36                                  # merged at FC1


def test_lstm_flops_are_counted_not_zero():
    lstm = nn.LSTM(32, 64, batch_first=True)
    x = torch.zeros(1, 5, 32)
    expected = 2 * 5 * 4 * 64 * (32 + 64)
    assert rnn_analytic_flops(lstm, batch=1, steps=5) == expected
    assert flops_per_view(nn.Sequential(lstm), x) == expected

    gru = nn.GRU(32, 64, batch_first=True)
    assert flops_per_view(nn.Sequential(gru), x) == pytest.approx(2 * 5 * 3 * 64 * 96, rel=0.01)


@pytest.mark.parametrize("profile", ["paper", "quick"])
def test_every_model_reports_costs(profile):
    n_classes = 101 if profile == "paper" else 10
    for name, spec in VIDEO_MODELS.items():
        costs = spec.build(MethodContext(profile=profile, seed=0, device="cpu", n_classes=n_classes)).costs()
        assert costs["params"] > 0 and costs["flops_per_view"] > 0, name
