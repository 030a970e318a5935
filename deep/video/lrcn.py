"""LRCN (Donahue et al. 2015): a per-frame CNN whose features feed an LSTM; one prediction per time step,
the softmax averaged over the clip's time steps.

Paper size: a CaffeNet frame network C(96,11,4)-P-N-C(256,5,1,g2)-P-N-C(384,3,1)-C(384,3,1,g2)-C(256,3,1,g2)-P-FC4096
(P: 3x3 max pooling stride 2; N: local response normalisation; g2: two filter groups), its fc6 into an LSTM
of 256 units, 16-frame clips at 227x227. No ImageNet pre-training here (nothing is downloaded): the whole
network trains from scratch. The small profiles shrink widths and crop and keep the topology, with batch
normalisation after every convolution instead of LRN and no dropout (their training loss must fall within
~40 s of CPU training), and a 3x3 stride-1 conv1 (a strided stem memorised backgrounds on the 48 px
synthetic videos; see ``deep.video.fusion``). The quick profile resizes frames to 32 px, crops 28 and
takes 8 frames 2 apart (the span of the paper's 16 frames at half the cost): with 16 frames the CPU budget
allowed only 300 steps, which left video hit@1 at 0.41 / 0.28 (seeds 0 / 1) against 0.54 / 0.45 with
8 frames and 600 steps.

Where the settings were chosen (stored with every row as ``settings_chosen_on``, from
``benchmark.pipeline.validation.CHOSEN_ON``): smoke on validation actors only (see the comment at the smoke
row: ``bench run --validation``, actors carved from each split's training actors); quick on validation
actors too (the comment at the quick row), between the earlier setting (found on the test videos of split 1
before the carve existed) and an alternative.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn as nn

from benchmark.methods import MethodContext
from benchmark.common.settings import settings_for
from deep.train import ClipClassifier, ClipSpec, TrainConfig


def _out(n: int, kernel: int, stride: int, padding: int = 0) -> int:
    return (n + 2 * padding - kernel) // stride + 1


def caffenet_convs(*, widths: tuple[int, ...], kernels: tuple[int, ...], strides: tuple[int, ...],
                   groups: tuple[int, ...], size: int,
                   norm: Literal["lrn", "batch"]) -> tuple[list[nn.Module], int, int]:
    """The CaffeNet convolutional layers conv1-pool5 of a (3, size, size) frame: (layers, channels, side) of
    the pool5 maps. Shared with ``deep.video.pooling`` (Ng et al. 2015 pool these maps over time)."""
    layers: list[nn.Module] = []
    c_in, s = 3, size
    for i, (width, k, stride, g) in enumerate(zip(widths, kernels, strides, groups)):
        pad = 0 if i == 0 else k // 2
        layers.append(nn.Conv2d(c_in, width, k, stride, pad, groups=g))
        layers += [nn.BatchNorm2d(width), nn.ReLU(inplace=True)] if norm == "batch" else [nn.ReLU(inplace=True)]
        s = _out(s, k, stride, pad)
        if i in (0, 1, 4):
            layers.append(nn.MaxPool2d(3, 2))
            s = _out(s, 3, 2)
        if norm == "lrn" and i in (0, 1):
            layers.append(nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75))
        c_in = width
    if s < 1:
        raise ValueError(f"crop {size} too small for this network")
    return layers, c_in, s


class LRCN(nn.Module):
    def __init__(self, *, n_classes: int, widths: tuple[int, ...] = (96, 256, 384, 384, 256),
                 kernels: tuple[int, ...] = (11, 5, 3, 3, 3), strides: tuple[int, ...] = (4, 1, 1, 1, 1),
                 groups: tuple[int, ...] = (1, 2, 1, 2, 2), fc: int = 4096, hidden: int = 256, size: int = 227,
                 dropout: float = 0.5, norm: Literal["lrn", "batch"] = "lrn"):
        super().__init__()
        layers, c_in, s = caffenet_convs(widths=widths, kernels=kernels, strides=strides, groups=groups, size=size,
                                         norm=norm)
        self.frame_cnn = nn.Sequential(
            *layers, nn.Flatten(), nn.Linear(c_in * s * s, fc), nn.ReLU(inplace=True), nn.Dropout(dropout),  # fc6
        )
        self.lstm = nn.LSTM(fc, hidden, batch_first=True)
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(hidden, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:   # x: (B, 3, T, H, W) -> (B, T, K)
        b, c, t, h, w = x.shape
        frames = x.transpose(1, 2).reshape(b * t, c, h, w)
        features = self.frame_cnn(frames).view(b, t, -1)   # (B, T, fc)
        states, _ = self.lstm(features)                    # (B, T, hidden)
        return self.classifier(self.dropout(states))       # one prediction per time step


@dataclass(frozen=True)
class LRCNConfig:
    widths: tuple[int, ...]
    kernels: tuple[int, ...]
    strides: tuple[int, ...]
    groups: tuple[int, ...]
    fc: int
    hidden: int
    norm: Literal["lrn", "batch"]
    dropout: float
    clip: ClipSpec
    train: TrainConfig


PROFILES: dict[str, LRCNConfig] = {
    "paper": LRCNConfig(widths=(96, 256, 384, 384, 256), kernels=(11, 5, 3, 3, 3), strides=(4, 1, 1, 1, 1),
                        groups=(1, 2, 1, 2, 2), fc=4096, hidden=256, norm="lrn", dropout=0.5,
                        clip=ClipSpec(frames=16, size=227, short_side=240),
                        train=TrainConfig(steps=30_000, batch_size=24, lr=1e-3, optimizer="sgd", grad_clip=5.0,
                                          test_clips=10, preload=False)),
    # quick: chosen on validation actors (`bench run --validation --suite video --profile quick --split 1`, 60
    # validation videos of 3 actors; rule (docs/statistics.md): the higher mean validation hit@1 over every
    # row the setting produces wins, a tie goes to the cheaper setting): 600 steps 31.7% [16.7, 48.3], 300 steps
    # 31.7% [18.3, 46.7]: a tie, so the cheaper 300 steps. Tried for the seed spread (issue 22; validation actors of
    # the 3 splits, seeds 0-3, `bench run --validation --split all --seeds 4 --methods lrcn` with the TrainConfig
    # varied; seed sd beyond per-video noise, `bench plan coverage`): as above mean 20.8%, seed sd 3.0; a 50-step
    # warm-up 23.2%, 5.1; lr 1e-3 21.2%, 5.9; a weight average at decay 0.99 18.1%, 1.8. On 5 training actors (the
    # carve's) LRCN scores only 18-23% whatever the recipe (chance 10%; 38% on the test actors, with 8 training
    # actors); no variant within 2 points of its mean is steadier, so the row stays as it is.
    "quick": LRCNConfig(widths=(8, 16, 32, 32, 32), kernels=(3, 3, 3, 3, 3), strides=(1, 1, 1, 1, 1),
                        groups=(1, 2, 1, 2, 2), fc=64, hidden=32, norm="batch", dropout=0.0,
                        clip=ClipSpec(frames=8, step=2, size=28, short_side=32),
                        train=TrainConfig(steps=300, batch_size=32, lr=2e-3, grad_clip=5.0, test_clips=3)),
    # smoke: chosen on validation actors only (`bench run --validation --suite video --profile smoke --split all
    # --workers 1`, 90 validation videos of 9 actor groups pooled over the 3 splits). On the 40 px smoke videos
    # no setting tried within the smoke budget left chance: 60 steps of 8 clips at lr 3e-3 on 32 px crops gave
    # 11.1% [4.4, 18.9]; the 6-step setting was kept (cheapest, equally at chance: 10.0% [4.4, 16.7]). The smoke row
    # checks the path runs; the ci row below is what CI gates.
    "smoke": LRCNConfig(widths=(4, 8, 8, 8, 8), kernels=(3, 3, 3, 3, 3), strides=(1, 1, 1, 1, 1),
                        groups=(1, 2, 1, 2, 2), fc=16, hidden=8, norm="batch", dropout=0.0,
                        clip=ClipSpec(frames=16, size=28),
                        train=TrainConfig(steps=6, batch_size=8, lr=2e-3, grad_clip=5.0, test_clips=2)),
    # ci: chosen on validation actors only (90 validation videos of 9 actor groups pooled over the 3 splits; the
    # sweep ran on the still-camera, flat-scene data before objects were made upright; group-bootstrap intervals); rule:
    # the cheapest setting tried whose pooled interval's lower end is at least 25%, so the CI gate sees the row fail. 16
    # clips at lr 3e-3: the earlier tiny arch (widths 4-8, hidden 8, 16 frames) at 150 steps 14.4% [6.7, 23.3]; widths
    # 8-32, hidden 32, 8 frames 2 apart at 28 px: 150 steps 33.3% [22.2, 44.4], 300 steps 57.8% [45.6, 68.9]: 300. On
    # the CI variant as it is (upright objects; `bench run --validation --suite video --profile ci --split all
    # --workers 1`): 73.3% [61.1, 84.4].
    "ci": LRCNConfig(widths=(8, 16, 32, 32, 32), kernels=(3, 3, 3, 3, 3), strides=(1, 1, 1, 1, 1),
                        groups=(1, 2, 1, 2, 2), fc=64, hidden=32, norm="batch", dropout=0.0,
                        clip=ClipSpec(frames=8, step=2, size=28),
                        train=TrainConfig(steps=300, batch_size=16, lr=3e-3, grad_clip=5.0, test_clips=2)),
}


def build(ctx: MethodContext) -> ClipClassifier:
    cfg = settings_for(PROFILES, ctx.profile)

    def make_model(n_classes: int) -> LRCN:
        return LRCN(n_classes=n_classes, widths=cfg.widths, kernels=cfg.kernels, strides=cfg.strides,
                    groups=cfg.groups, fc=cfg.fc, hidden=cfg.hidden, size=cfg.clip.size, norm=cfg.norm,
                    dropout=cfg.dropout)

    return ClipClassifier(make_model=make_model, clip=cfg.clip, train=cfg.train, ctx=ctx)
