"""C3D (Tran et al. 2015): 3-D convolutions over 3x16x112x112 clips.

Eight 3x3x3 convolutions (64, 128, 256, 256, 512, 512, 512, 512), max pooling 1x2x2 after conv1 (keep
time early) then 2x2x2, fc6/fc7 of 4096 with dropout. With 101 classes: 78.4 M parameters and 38.5 G
multiply-adds per 16-frame view. The small profiles keep the topology (3x3x3 convolutions everywhere,
pool1 1x2x2) and shrink widths and crop; they add batch normalisation after each convolution and drop
dropout so that the small nets train from scratch on a CPU within the profile's budget. The quick profile
resizes the 48 px frames to 32 and crops 28 (3-D convolutions at full resolution cost too much on CPU),
and takes 600 steps of 32 clips (100 of 16 left it at chance; 300 of 32 scored lower on validation actors).

Where the settings were chosen (stored with every row as ``settings_chosen_on``, from
``benchmark.pipeline.validation.CHOSEN_ON``): smoke on validation actors only (see the comment at the smoke
row: ``bench run --validation``, actors carved from each split's training actors); quick on validation
actors too (the comment at the quick row), between the earlier setting (found on the test videos of split 1
before the carve existed) and an alternative.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn

from deep.train import ClipClassifier, ClipSpec, TrainConfig
from benchmark.methods import MethodContext
from benchmark.common.settings import settings_for


def _pooled(n: int, kernel: int, stride: int, padding: int = 0) -> int:
    return (n + 2 * padding - kernel) // stride + 1


class C3D(nn.Module):
    def __init__(self, *, n_classes: int, widths: tuple[int, ...] = (64, 128, 256, 256, 512, 512, 512, 512),
                 fc: int = 4096, frames: int = 16, size: int = 112, dropout: float = 0.5, batch_norm: bool = False):
        super().__init__()
        w1, w2, w3a, w3b, w4a, w4b, w5a, w5b = widths

        def conv(c_in: int, c_out: int) -> list[nn.Module]:
            bn = [nn.BatchNorm3d(c_out)] if batch_norm else []
            return [nn.Conv3d(c_in, c_out, kernel_size=3, padding=1), *bn, nn.ReLU(inplace=True)]

        self.features = nn.Sequential(
            *conv(3, w1), nn.MaxPool3d((1, 2, 2), (1, 2, 2)),                       # (w1, T, S/2, S/2)
            *conv(w1, w2), nn.MaxPool3d(2, 2),                                       # (w2, T/2, S/4, S/4)
            *conv(w2, w3a), *conv(w3a, w3b), nn.MaxPool3d(2, 2),                     # (w3, T/4, S/8, S/8)
            *conv(w3b, w4a), *conv(w4a, w4b), nn.MaxPool3d(2, 2),                    # (w4, T/8, S/16, S/16)
            *conv(w4b, w5a), *conv(w5a, w5b), nn.MaxPool3d(2, 2, padding=(0, 1, 1)),  # (w5, T/16, ~S/32, ~S/32)
        )
        t = frames // 16
        s = _pooled(size // 16, 2, 2, 1)
        if t < 1 or s < 1:
            raise ValueError(f"C3D needs at least 16 frames and a 16 px crop; got {frames} frames, {size} px")
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(w5b * t * s * s, fc), nn.ReLU(inplace=True), nn.Dropout(dropout),   # fc6
            nn.Linear(fc, fc), nn.ReLU(inplace=True), nn.Dropout(dropout),                # fc7
            nn.Linear(fc, n_classes),                                                     # fc8
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x: (B, 3, T, H, W)
        return self.classifier(self.features(x))


@dataclass(frozen=True)
class C3DConfig:
    widths: tuple[int, ...]
    fc: int
    batch_norm: bool
    dropout: float
    clip: ClipSpec
    train: TrainConfig


PROFILES: dict[str, C3DConfig] = {
    "paper": C3DConfig(
        widths=(64, 128, 256, 256, 512, 512, 512, 512), fc=4096, batch_norm=False, dropout=0.5,
        clip=ClipSpec(frames=16, size=112, short_side=128),
        train=TrainConfig(steps=20_000, batch_size=30, lr=0.003, optimizer="sgd", weight_decay=5e-4,
                          test_clips=10, preload=False),
    ),
    # quick: chosen on validation actors (`bench run --validation --suite video --profile quick --split all
    # --workers 1`, 180 validation videos of 9 actor groups pooled over the 3 splits; rule, fixed before the runs as
    # at the other quick rows: the higher mean validation hit@1 over every row the setting produces wins, a tie goes
    # to the cheaper setting): 600 steps 50.0% [40.0, 60.0] (splits 1/2/3: 58.3/50.0/41.7) against 300 steps, the
    # earlier setting, 40.0% [31.1, 49.5] (43.3/41.7/35.0): 600 steps, higher on every split, at twice the training
    # cost. Tried for the seed spread (issue 22; split 1's validation actors, seeds 0/1/2, `TrainConfig.ema_decay`):
    # as above 55.0/40.0/35.0 (mean 43.3, sd 10.4); an exponential weight average at decay 0.99 51.7/40.0/38.3
    # (mean 43.3, sd 7.3). Same mean; three seeds cannot tell the spreads apart. Then on the 3 splits' validation
    # actors, seeds 0-3 (`bench run --validation --split all --seeds 4 --methods c3d`, one field varied; seed sd
    # beyond per-video noise, `bench plan coverage`; rule fixed before the runs: a setting replaces the row's only if
    # its mean is at most 2 points below and its seed sd at least 2 points below, the lowest sd among several):
    # without warm-up mean 31.8%, seed sd 13.8; a 100-step linear warm-up 36.9%, 10.3; a weight average at decay
    # 0.99 31.4%, 13.9; dropout 0.5 after fc6 and fc7 13.5%, 4.1 (near chance). So the 100-step warm-up. Same
    # design, 2026-12-08: the row as it is (warm-up) 41.9%, 7.6 (its first measurement read 10.3: the estimate's
    # uncertainty); gradient norm clipped at 1.0 40.1%, 9.8; EMA at decay 0.997 20.0%, 5.7; 900 steps 43.9%, 5.5
    # at x1.5 the training time. 900 steps meets the rule but is not adopted: it would take the quick default past
    # its 7 minutes (+22 s on 412 s, docs/performance.md), and every run above gave seed s the same initial weights
    # on all splits (fixed at f719be1), so 4 seeds were 4 draws, not 12. To be measured again with per-split seeds.
    "quick": C3DConfig(
        widths=(4, 8, 16, 16, 32, 32, 32, 32), fc=64, batch_norm=True, dropout=0.0,
        clip=ClipSpec(frames=16, size=28, short_side=32),
        train=TrainConfig(steps=600, batch_size=32, lr=2e-3, warmup_steps=100, test_clips=3),
    ),
    # smoke: chosen on validation actors only (`bench run --validation --suite video --profile smoke --split all
    # --workers 1`, 90 validation videos of 9 actor groups pooled over the 3 splits). On the 40 px smoke videos
    # no setting tried within the smoke budget left chance: 60 steps of 8 clips at lr 3e-3 gave 14.4% [6.7,
    # 24.4]; the 6-step setting was kept (cheapest, equally at chance: 7.8% [2.2, 15.6]). The smoke row
    # checks the path runs; the ci row below is what CI gates.
    "smoke": C3DConfig(
        widths=(4, 8, 8, 8, 8, 8, 8, 8), fc=16, batch_norm=True, dropout=0.0,
        clip=ClipSpec(frames=16, size=32),
        train=TrainConfig(steps=6, batch_size=8, lr=2e-3, test_clips=2),
    ),
    # ci: chosen on validation actors only (90 validation videos of 9 actor groups pooled over the 3 splits; the
    # sweep ran on the still-camera, flat-scene data before objects were made upright; group-bootstrap intervals); rule:
    # the cheapest setting tried whose pooled interval's lower end is at least 25%, so the CI gate sees the row fail. 16
    # clips at lr 3e-3: 60 steps 26.7% [15.6, 36.7]; 100 steps 44.4% [33.3, 56.7]; 150 steps 54.4% [43.3, 65.6]: 100.
    # (On the full data no setting within the CI budget left chance: 6-60 steps 8-14%, 250 steps of wider nets 25.6%
    # [15.6, 36.7].) On the CI variant as it is (upright objects; `bench run --validation --suite video --profile ci
    # --split all --workers 1`): 64.4% [53.3, 74.4].
    "ci": C3DConfig(
        widths=(4, 8, 8, 8, 8, 8, 8, 8), fc=16, batch_norm=True, dropout=0.0,
        clip=ClipSpec(frames=16, size=32),
        train=TrainConfig(steps=100, batch_size=16, lr=3e-3, test_clips=2),
    ),
}


def build(ctx: MethodContext) -> ClipClassifier:
    cfg = settings_for(PROFILES, ctx.profile)

    def make_model(n_classes: int) -> C3D:
        return C3D(n_classes=n_classes, widths=cfg.widths, fc=cfg.fc, frames=cfg.clip.frames, size=cfg.clip.size,
                   dropout=cfg.dropout, batch_norm=cfg.batch_norm)

    return ClipClassifier(make_model=make_model, clip=cfg.clip, train=cfg.train, ctx=ctx)
