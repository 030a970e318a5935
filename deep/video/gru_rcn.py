"""GRU-RCN (Ballas et al. 2016): convolutional GRUs on feature maps from several levels of a 2-D CNN.

Every matrix product of the GRU is a 2-D convolution, so the hidden state keeps its spatial layout:

    z_t = sigmoid(W_z * x_t + U_z * h_{t-1})          r_t = sigmoid(W_r * x_t + U_r * h_{t-1})
    h~_t = tanh(W * x_t + U * (r_t . h_{t-1}))        h_t = (1 - z_t) . h_{t-1} + z_t . h~_t

Paper size: VGG-16 per frame; GRUs on pool2, pool3, pool4, pool5 and fc7 (fc7 as a 1x1 map) with 64, 128,
256, 256, 512 hidden maps (3x3 kernels, 1x1 on fc7). Each level's last hidden state is average-pooled and
classified; the levels' softmax scores are averaged. No ImageNet pre-training here (nothing is
downloaded): everything trains from scratch. Small profiles: one conv per VGG block, narrow, small crop,
batch normalisation after each CNN convolution and no dropout (their training loss must fall within ~60 s
of CPU training). The quick profile resizes frames to 36 px, crops 32 (five pooling stages need 32 px) and
takes 5 frames 2 apart: with 10 frames the CPU budget allowed only 300 steps, which left video hit@1 at
0.39 / 0.23 (seeds 0 / 1) against 0.49 / 0.43 with 5 frames and 600 steps.

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

from benchmark.methods import MethodContext
from benchmark.common.settings import settings_for
from deep.train import ClipClassifier, ClipSpec, TrainConfig


class ConvGRU(nn.Module):
    """A GRU whose input-to-hidden and hidden-to-hidden products are k x k convolutions."""

    def __init__(self, *, in_channels: int, hidden: int, kernel: int = 3):
        super().__init__()
        self.hidden = hidden
        self.input_gates = nn.Conv2d(in_channels, 3 * hidden, kernel, padding=kernel // 2)      # W_z, W_r, W
        self.hidden_gates = nn.Conv2d(hidden, 2 * hidden, kernel, padding=kernel // 2, bias=False)  # U_z, U_r
        self.hidden_candidate = nn.Conv2d(hidden, hidden, kernel, padding=kernel // 2, bias=False)  # U

    def forward(self, x: torch.Tensor) -> torch.Tensor:   # x: (B, T, C, H, W) -> last hidden (B, hidden, H, W)
        b, t, c, h, w = x.shape
        gx = self.input_gates(x.reshape(b * t, c, h, w)).view(b, t, 3 * self.hidden, h, w)  # all steps at once
        state = x.new_zeros(b, self.hidden, h, w)
        for step in range(t):
            xz, xr, xh = gx[:, step].chunk(3, dim=1)
            hz, hr = self.hidden_gates(state).chunk(2, dim=1)
            z, r = torch.sigmoid(xz + hz), torch.sigmoid(xr + hr)
            candidate = torch.tanh(xh + self.hidden_candidate(r * state))
            state = (1 - z) * state + z * candidate
        return state


class GRURCN(nn.Module):
    def __init__(self, *, n_classes: int, blocks: tuple[tuple[int, ...], ...] = (
                     (64, 64), (128, 128), (256, 256, 256), (512, 512, 512), (512, 512, 512)),
                 fc: int = 4096, hidden: tuple[int, ...] = (64, 128, 256, 256, 512), size: int = 224,
                 dropout: float = 0.5, batch_norm: bool = False):
        super().__init__()
        self.blocks = nn.ModuleList()
        c_in, s = 3, size
        for widths in blocks:                          # VGG block: 3x3 convs then 2x2 max pooling
            layers: list[nn.Module] = []
            for width in widths:
                bn = [nn.BatchNorm2d(width)] if batch_norm else []
                layers += [nn.Conv2d(c_in, width, 3, padding=1), *bn, nn.ReLU(inplace=True)]
                c_in = width
            self.blocks.append(nn.Sequential(*layers, nn.MaxPool2d(2)))
            s //= 2
        if s < 1:
            raise ValueError(f"crop {size} too small for {len(blocks)} pooling stages")
        self.fc = nn.Sequential(nn.Flatten(), nn.Linear(c_in * s * s, fc), nn.ReLU(inplace=True), nn.Dropout(dropout),
                                nn.Linear(fc, fc), nn.ReLU(inplace=True))          # fc6, fc7
        level_channels = [b[-1] for b in blocks[1:]] + [fc]   # pool2 .. pool5, fc7
        self.grus = nn.ModuleList(
            ConvGRU(in_channels=c, hidden=h, kernel=1 if i == len(level_channels) - 1 else 3)
            for i, (c, h) in enumerate(zip(level_channels, hidden))
        )
        self.dropout = nn.Dropout(dropout)
        self.classifiers = nn.ModuleList(nn.Linear(h, n_classes) for h in hidden)

    def forward(self, x: torch.Tensor) -> torch.Tensor:   # x: (B, 3, T, H, W) -> (B, levels, K)
        b, c, t, h, w = x.shape
        maps = []
        y = x.transpose(1, 2).reshape(b * t, c, h, w)
        for i, block in enumerate(self.blocks):
            y = block(y)
            if i >= 1:
                maps.append(y)                                 # pool2 .. pool5: (B*T, C_l, H_l, W_l)
        maps.append(self.fc(y)[:, :, None, None])              # fc7 as a 1x1 map
        logits = []
        for feature, gru, classifier in zip(maps, self.grus, self.classifiers):
            last = gru(feature.view(b, t, *feature.shape[1:]))  # (B, hidden_l, H_l, W_l) at the last step
            logits.append(classifier(self.dropout(last.mean(dim=(2, 3)))))
        return torch.stack(logits, dim=1)


@dataclass(frozen=True)
class GRURCNConfig:
    blocks: tuple[tuple[int, ...], ...]
    fc: int
    hidden: tuple[int, ...]
    batch_norm: bool
    dropout: float
    clip: ClipSpec
    train: TrainConfig


PROFILES: dict[str, GRURCNConfig] = {
    "paper": GRURCNConfig(blocks=((64, 64), (128, 128), (256, 256, 256), (512, 512, 512), (512, 512, 512)),
                          fc=4096, hidden=(64, 128, 256, 256, 512), batch_norm=False, dropout=0.5,
                          clip=ClipSpec(frames=10, size=224, short_side=256),
                          train=TrainConfig(steps=30_000, batch_size=64, lr=1e-3, grad_clip=5.0,
                                            test_clips=10, preload=False)),
    # quick: chosen on validation actors (`bench run --validation --suite video --profile quick --split 1`, 60
    # validation videos of 3 actors; rule (docs/statistics.md): the higher mean validation hit@1 over every
    # row the setting produces wins, a tie goes to the cheaper setting): 600 steps 30.0% against 300 steps 23.3%.
    "quick": GRURCNConfig(blocks=((8,), (16,), (32,), (32,), (32,)), fc=64, hidden=(8, 16, 16, 16, 32),
                          batch_norm=True, dropout=0.0,
                          clip=ClipSpec(frames=5, step=2, size=32, short_side=36),
                          train=TrainConfig(steps=600, batch_size=32, lr=2e-3, grad_clip=5.0, test_clips=3)),
    # smoke: chosen on validation actors only (`bench run --validation --suite video --profile smoke --split all
    # --workers 1`, 90 validation videos of 9 actor groups pooled over the 3 splits). On the 40 px smoke videos
    # no setting tried within the smoke budget left chance: 60 steps of 8 clips at lr 3e-3 gave 12.2% [3.3,
    # 22.2]; the 6-step setting was kept (cheapest, equally at chance: 10.0% [4.4, 16.7]). The smoke row
    # checks the path runs; the ci row below is what CI gates.
    "smoke": GRURCNConfig(blocks=((4,), (8,), (8,), (8,), (8,)), fc=16, hidden=(4, 4, 4, 4, 8),
                          batch_norm=True, dropout=0.0,
                          clip=ClipSpec(frames=10, size=32),
                          train=TrainConfig(steps=6, batch_size=8, lr=2e-3, grad_clip=5.0, test_clips=2)),
    # ci: chosen on validation actors only (90 validation videos of 9 actor groups pooled over the 3 splits; the
    # sweep ran on the still-camera, flat-scene data before objects were made upright; group-bootstrap intervals); rule:
    # the cheapest setting tried whose pooled interval's lower end is at least 25%, so the CI gate sees the row fail (a
    # tie in cost goes to the higher). 16 clips: the earlier tiny arch at 150 steps, 10 frames, lr 3e-3 16.7% [6.7,
    # 27.8]; at 300 steps on 5 frames 2 apart 26.7% [16.7, 37.8] (lr 3e-3), 37.8% [25.6, 48.9] (lr 1e-2); blocks 8-16,
    # hidden 4-16, fc 32, 300 steps at lr 3e-3 48.9% [35.6, 61.1], at the same cost: that one. On the CI variant as it
    # is (upright objects; `bench run --validation --suite video --profile ci --split all --workers 1`): 64.4% [52.2,
    # 74.4].
    "ci": GRURCNConfig(blocks=((8,), (16,), (16,), (16,), (16,)), fc=32, hidden=(4, 8, 8, 8, 16),
                          batch_norm=True, dropout=0.0,
                          clip=ClipSpec(frames=5, step=2, size=32),
                          train=TrainConfig(steps=300, batch_size=16, lr=3e-3, grad_clip=5.0, test_clips=2)),
}


def build(ctx: MethodContext) -> ClipClassifier:
    cfg = settings_for(PROFILES, ctx.profile)

    def make_model(n_classes: int) -> GRURCN:
        return GRURCN(n_classes=n_classes, blocks=cfg.blocks, fc=cfg.fc, hidden=cfg.hidden, size=cfg.clip.size,
                      batch_norm=cfg.batch_norm, dropout=cfg.dropout)

    return ClipClassifier(make_model=make_model, clip=cfg.clip, train=cfg.train, ctx=ctx)
