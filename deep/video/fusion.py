"""Karpathy et al. 2014: single-frame, early, late and slow fusion of time in one convnet.

Base network C(96,11,3)-N-P-C(256,5,1)-N-P-C(384,3,1)-C(384,3,1)-C(256,3,1)-P-FC4096-FC4096 on 170x170
crops (C(d,f,s): d filters f x f, stride s; N: local response normalisation k=2, n=5, alpha=1e-4,
beta=0.5; P: 2x2 non-overlapping max pooling). Every convolution is a Conv3d whose temporal extent and
stride come from the variant's row, so the four models are one class:

* single-frame: 1 frame, all temporal extents 1.
* early fusion: 10 frames; conv1 spans all T = 10 frames at once.
* late fusion: 2 frames 15 apart through the same (shared) single-frame tower; the two towers' outputs
  are concatenated at the first fully connected layer (the flatten of the 2 time steps).
* slow fusion: 10 frames; conv1 temporal extent 4 stride 2 (4 responses), conv2 and conv3 extent 2
  stride 2, so conv3 sees all 10 frames.

The small profiles (quick, smoke) keep every layer and every temporal extent (the defining trait of each
variant) but shrink widths and crop. On the 48 px synthetic videos (objects ~15 px wide, stripes 4-6 px
apart) the first small version stayed at chance: it memorised each video's background (train 1.0, test
~0.1). What fixed it, measured on split 1 of the quick profile:
* conv1 is 3x3 stride 1 (not 11x11 stride 3, nor 5x5 stride 2): with the strided stem, early fusion stayed
  at 0.15 video hit@1 even after 1000 steps of 32 clips; with the stride-1 stem it reached 0.3-0.6
  (seeds and runs vary that much: 80 test videos of 4 unseen actors);
* enough steps: 600 steps of 32 clips (300 of 16 left even the single-frame net at chance);
* batch normalisation after every convolution instead of the two LRN layers, and no dropout (with
  LRN + dropout the training loss did not fall at all within a CPU budget).
They also let the last pooling layer take the maximum over the whole map, so FC1 sees position-free
features (late fusion still concatenates its two towers' outputs at FC1); its effect on video hit@1 was
within the noise of our runs.

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


class FusionNet(nn.Module):
    def __init__(self, *, n_classes: int, frames: int, t_kernels: tuple[int, ...], t_strides: tuple[int, ...],
                 widths: tuple[int, ...] = (96, 256, 384, 384, 256), kernels: tuple[int, ...] = (11, 5, 3, 3, 3),
                 strides: tuple[int, ...] = (3, 1, 1, 1, 1), fc: int = 4096, size: int = 170, dropout: float = 0.5,
                 norm: Literal["lrn", "batch"] = "lrn", global_pool: bool = False):
        super().__init__()
        paddings = (0,) + tuple(k // 2 for k in kernels[1:])   # conv1 "valid", the rest keep their size
        norm_after, pool_after = (0, 1), (0, 1, 4)
        layers: list[nn.Module] = []
        c_in, t, s = 3, frames, size
        rows = zip(widths, kernels, strides, paddings, t_kernels, t_strides)
        for i, (width, k, stride, pad, kt, st) in enumerate(rows):
            layers.append(nn.Conv3d(c_in, width, (kt, k, k), (st, stride, stride), (0, pad, pad)))
            layers += [nn.BatchNorm3d(width), nn.ReLU(inplace=True)] if norm == "batch" else [nn.ReLU(inplace=True)]
            t, s = _out(t, kt, st), _out(s, k, stride, pad)
            if norm == "lrn" and i in norm_after:
                layers.append(nn.LocalResponseNorm(5, alpha=1e-4, beta=0.5, k=2.0))
            if i in pool_after and global_pool and i == pool_after[-1]:
                layers.append(nn.AdaptiveMaxPool3d((None, 1, 1)))   # last pooling over the whole map
                s = 1
            elif i in pool_after:
                layers.append(nn.MaxPool3d((1, 2, 2)))
                s //= 2
            c_in = width
        if t < 1 or s < 1:
            raise ValueError(f"input {frames}x{size}x{size} too small for this network")
        self.features = nn.Sequential(*layers)   # (B, widths[-1], t, s, s); late fusion: t = 2 towers
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(c_in * t * s * s, fc), nn.ReLU(inplace=True), nn.Dropout(dropout),
            nn.Linear(fc, fc), nn.ReLU(inplace=True), nn.Dropout(dropout),
            nn.Linear(fc, n_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x: (B, 3, T, H, W)
        return self.classifier(self.features(x))


@dataclass(frozen=True)
class Variant:
    frames: int                       # frames per clip
    step: int                         # frames between consecutive clip frames
    t_kernels: tuple[int, ...]        # temporal extent of conv1..conv5
    t_strides: tuple[int, ...] = (1, 1, 1, 1, 1)


VARIANTS: dict[str, Variant] = {
    "single-frame": Variant(frames=1, step=1, t_kernels=(1, 1, 1, 1, 1)),
    "early-fusion": Variant(frames=10, step=1, t_kernels=(10, 1, 1, 1, 1)),
    "late-fusion": Variant(frames=2, step=15, t_kernels=(1, 1, 1, 1, 1)),
    "slow-fusion": Variant(frames=10, step=1, t_kernels=(4, 2, 2, 1, 1), t_strides=(2, 2, 2, 1, 1)),
}


@dataclass(frozen=True)
class Arch:
    widths: tuple[int, ...]
    kernels: tuple[int, ...]
    strides: tuple[int, ...]
    fc: int
    size: int                         # crop side
    short_side: int | None            # frames resized to this before cropping (None: as decoded)
    norm: Literal["lrn", "batch"]
    dropout: float
    train: TrainConfig
    global_pool: bool = False         # the last pooling layer covers the whole feature map


PROFILES: dict[str, Arch] = {
    "paper": Arch(widths=(96, 256, 384, 384, 256), kernels=(11, 5, 3, 3, 3), strides=(3, 1, 1, 1, 1), fc=4096,
                  size=170, short_side=178, norm="lrn", dropout=0.5,
                  train=TrainConfig(steps=50_000, batch_size=32, lr=0.01, optimizer="sgd", weight_decay=5e-4,
                                    test_clips=20, preload=False)),
    # quick: chosen on validation actors (`bench run --validation --suite video --profile quick --split 1`, 60
    # validation videos of 3 actors; rule (docs/statistics.md): the higher mean validation hit@1 over every
    # row the setting produces wins, a tie goes to the cheaper setting). One row for the four models, so their mean:
    # 600 steps 48.8% (single/early/late/slow 46.7/30.0/56.7/61.7) against 300 steps 43.8% (50.0/25.0/43.3/56.7).
    # Tried for early fusion's seed spread (issue 22; validation actors of the 3 splits, seeds 0-3, `bench run
    # --validation --split all --seeds 4 --methods early-fusion` with the row's TrainConfig varied; seed sd is the
    # component beyond per-video noise, `bench plan coverage`): as above mean 33.2%,
    # seed sd 5.4; a 100-step linear warm-up 36.3%, 6.1; lr 1e-3 29.9%, 11.9; a weight average at decay 0.99
    # 33.6%, 6.3; weight decay 5e-4 31.8%, 9.4; 300 steps of 64 clips (same compute) 30.8%, 8.9. None steadier,
    # so the row stays as it is. More data, same recipe (the quick dataset varied): 18 actors with 6 held out per
    # split (8 training actors after the carve, against 5) 43.9%, seed sd 5.5; 4 clips per actor and class (against
    # 2) 49.9%, 10.4. More data lifts the mean 11-17 points but not the steadiness.
    "quick": Arch(widths=(8, 16, 32, 32, 32), kernels=(3, 3, 3, 3, 3), strides=(1, 1, 1, 1, 1), fc=64,
                  size=40, short_side=None, norm="batch", dropout=0.0, global_pool=True,
                  train=TrainConfig(steps=600, batch_size=32, lr=2e-3, test_clips=5)),
    # smoke: chosen on validation actors only (`bench run --validation --suite video --profile smoke --split all
    # --workers 1`, 90 validation videos of 9 actor groups pooled over the 3 splits). On the 40 px smoke videos
    # no setting tried within the smoke budget left chance: 150 steps of 16 clips at lr 3e-3 on 32 px crops gave
    # single/early/late/slow 12.2/10.0/18.9/11.1%; the 6-step setting was kept (cheapest, equally at chance:
    # 10.0/14.4/11.1/10.0%). The smoke row checks the path runs; the ci row below is what CI gates.
    "smoke": Arch(widths=(4, 8, 8, 8, 8), kernels=(3, 3, 3, 3, 3), strides=(1, 1, 1, 1, 1), fc=16,
                  size=28, short_side=None, norm="batch", dropout=0.0, global_pool=True,
                  train=TrainConfig(steps=6, batch_size=8, lr=2e-3, test_clips=2)),
    # ci: chosen on validation actors only (90 validation videos of 9 actor groups pooled over the 3 splits; the
    # sweep ran on the still-camera, flat-scene data before objects were made upright; group-bootstrap intervals); rule:
    # the cheapest setting tried whose pooled interval's lower end is at least 25%, so the CI gate sees the row fail.
    # The quick arch at 32 px crops, 16 clips at lr 3e-3: 150 steps single/early/late/slow 23.3 [13.3, 34.4] / 38.9
    # [24.4, 54.4] / 57.8 [46.7, 68.9] / 70.0 [57.8, 80.0]; single-frame at 300 steps 34.4 [21.1, 47.8], at 600 steps
    # 37.8 [26.7, 48.9]: 600 (one row for the four models). The earlier 6-step tiny arch: every model at chance. On the
    # CI variant as it is (upright objects; `bench run --validation --suite video --profile ci --split all --workers
    # 1`): single/early/late/slow 61.1 [48.9, 73.3] / 92.2 [84.4, 97.8] / 76.7 [64.4, 87.8] / 97.8 [93.3, 100.0].
    "ci": Arch(widths=(8, 16, 32, 32, 32), kernels=(3, 3, 3, 3, 3), strides=(1, 1, 1, 1, 1), fc=64,
                  size=32, short_side=None, norm="batch", dropout=0.0, global_pool=True,
                  train=TrainConfig(steps=600, batch_size=16, lr=3e-3, test_clips=2)),
}


def make_net(variant: str, arch: Arch, n_classes: int) -> FusionNet:
    v = VARIANTS[variant]
    return FusionNet(n_classes=n_classes, frames=v.frames, t_kernels=v.t_kernels, t_strides=v.t_strides,
                     widths=arch.widths, kernels=arch.kernels, strides=arch.strides, fc=arch.fc, size=arch.size,
                     norm=arch.norm, dropout=arch.dropout, global_pool=arch.global_pool)


def clip_spec(variant: str, arch: Arch) -> ClipSpec:
    v = VARIANTS[variant]
    return ClipSpec(frames=v.frames, step=v.step, size=arch.size, short_side=arch.short_side)


def build(variant: str, ctx: MethodContext) -> ClipClassifier:
    arch = settings_for(PROFILES, ctx.profile)
    return ClipClassifier(make_model=lambda n_classes: make_net(variant, arch, n_classes),
                          clip=clip_spec(variant, arch), train=arch.train, ctx=ctx)
