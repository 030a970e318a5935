"""Encoders pre-trained without labels, and the classifiers built on them (the label-efficiency study,
``benchmark.studies.label_efficiency``).

One small convolutional encoder for everything, so that only its starting weights differ:
- ``PretrainedEncoder(kind="ae")``: an autoencoder on every training image, no labels; the code is
  deterministic;
- ``PretrainedEncoder(kind="vae")``: a VAE with the same encoder (its code is the posterior mean, a second
  linear layer gives the log-variance) and the same decoder, trained on the ELBO;
- ``EncoderClassifier``: the encoder plus a linear head, every weight trained on the labelled images,
  starting from random weights (``init=None``: from scratch) or from a pre-trained encoder (fine-tuning);
- ``linear_probe``: the frozen pre-trained code, standardised, then multinomial logistic regression.

The decoder is the same for both pre-trainings: a two-layer MLP whose outputs are per-pixel logits of the
intensity (level / (K - 1)), scored with binary cross-entropy against it (the usual Bernoulli likelihood
of MNIST-style intensities); for the VAE plus the analytic KL of the posterior to N(0, I).
"""
from __future__ import annotations

import copy
import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler
from torch import nn


@dataclass(frozen=True)
class EncoderParams:
    channels: int            # first convolution's channels; the second and third have twice as many
    code: int                # size of the code (the VAE's posterior mean)
    pretrain_epochs: int     # passes over every training image, without labels
    finetune_steps: int      # Adam steps on the labelled images (scratch and fine-tuning alike)
    batch_size: int = 64
    lr: float = 1e-3
    weight_decay: float = 1e-4
    probe_c: float = 1.0     # inverse L2 strength of the linear probe (logistic regression, standardised codes)


class Encoder(nn.Module):
    """(B, C, H, W) intensities in [0, 1] -> (B, code)."""

    def __init__(self, *, colours: int, height: int, width: int, channels: int, code: int):
        super().__init__()
        pooled = (min(4, math.ceil(height / 4)), min(4, math.ceil(width / 4)))
        self.trunk = nn.Sequential(
            nn.Conv2d(colours, channels, 3, padding=1), nn.ReLU(),                   # (B, c, H, W)
            nn.Conv2d(channels, 2 * channels, 3, stride=2, padding=1), nn.ReLU(),    # (B, 2c, H/2, W/2)
            nn.Conv2d(2 * channels, 2 * channels, 3, stride=2, padding=1), nn.ReLU(),  # (B, 2c, H/4, W/4)
            nn.AdaptiveAvgPool2d(pooled), nn.Flatten())                             # (B, 2c * pooled)
        self.trunk_size = 2 * channels * pooled[0] * pooled[1]
        self.code = nn.Linear(self.trunk_size, code)
        self.code_size = code

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.code(self.trunk(x))


def intensities(images: np.ndarray, levels: int) -> torch.Tensor:
    """uint8 levels (N, C, H, W) -> float intensities in [0, 1]."""
    return torch.from_numpy(images.astype(np.float32) / max(levels - 1, 1))


def _new_encoder(shape: tuple[int, ...], params: EncoderParams) -> Encoder:
    colours, height, width = shape
    return Encoder(colours=colours, height=height, width=width, channels=params.channels, code=params.code)


class PretrainedEncoder:
    """An encoder trained without labels: ``kind`` "ae" (autoencoder) or "vae"."""

    def __init__(self, kind: str, params: EncoderParams, *, seed: int = 0, device: str = "cpu"):
        self.kind, self.params, self.seed, self.device = kind, params, seed, device

    def fit(self, images: np.ndarray, levels: int) -> "PretrainedEncoder":
        if self.kind not in ("ae", "vae"):
            raise ValueError(f"unknown pre-training {self.kind!r}; valid: ae, vae")
        torch.manual_seed(self.seed)
        p = self.params
        x = intensities(images, levels)
        encoder = _new_encoder(x.shape[1:], p).to(self.device)
        decoder = nn.Sequential(nn.Linear(p.code, 256), nn.ReLU(), nn.Linear(256, x[0].numel())).to(self.device)
        log_var = nn.Linear(encoder.trunk_size, p.code).to(self.device) if self.kind == "vae" else None
        modules = [encoder, decoder] + ([log_var] if log_var is not None else [])
        optimiser = torch.optim.Adam([w for m in modules for w in m.parameters()], lr=p.lr)
        gen = torch.Generator().manual_seed(self.seed)
        self.history_ = []
        for _ in range(p.pretrain_epochs):
            total = 0.0
            for idx in torch.randperm(len(x), generator=gen).split(p.batch_size):
                batch = x[idx].to(self.device)
                hidden = encoder.trunk(batch)
                mean = encoder.code(hidden)
                z, kl = mean, torch.zeros(len(batch), device=self.device)
                if log_var is not None:
                    lv = log_var(hidden)
                    z = mean + (0.5 * lv).exp() * torch.randn(mean.shape, generator=gen).to(self.device)
                    kl = 0.5 * (mean ** 2 + lv.exp() - 1 - lv).sum(-1)
                rec = F.binary_cross_entropy_with_logits(decoder(z), batch.flatten(1), reduction="none").sum(-1)
                loss = (rec + kl).mean()
                optimiser.zero_grad(set_to_none=True)
                loss.backward()
                optimiser.step()
                total += float(loss.detach()) * len(idx)
            self.history_.append(total / len(x))
        self.levels_, self.encoder_ = levels, encoder.eval()
        return self

    @torch.no_grad()
    def transform(self, images: np.ndarray) -> np.ndarray:
        """(N, code) codes (the VAE's posterior means)."""
        x = intensities(images, self.levels_)
        return torch.cat([self.encoder_(b.to(self.device)).cpu() for b in x.split(512)]).numpy()


def linear_probe(encoder: PretrainedEncoder, params: EncoderParams) -> Pipeline:
    """Frozen code -> standardised -> logistic regression; fit it on (images, labels)."""
    return make_pipeline(FunctionTransformer(encoder.transform), StandardScaler(),
                         LogisticRegression(C=params.probe_c, max_iter=2000))


class EncoderClassifier:
    """Encoder + linear head, every weight trained on the labelled images (cross-entropy, AdamW).

    ``init``: None trains from random weights; a fitted ``PretrainedEncoder`` starts from a copy of its
    encoder (fine-tuning; the pre-trained encoder itself is left unchanged)."""

    def __init__(self, params: EncoderParams, init: PretrainedEncoder | None = None, *, seed: int = 0,
                 device: str = "cpu"):
        self.params, self.init, self.seed, self.device = params, init, seed, device

    def fit(self, images: np.ndarray, labels: np.ndarray, levels: int) -> "EncoderClassifier":
        torch.manual_seed(self.seed)
        p = self.params
        x, y = intensities(images, levels), torch.as_tensor(labels, dtype=torch.long)
        encoder = copy.deepcopy(self.init.encoder_) if self.init is not None else _new_encoder(x.shape[1:], p)
        self.classes_ = np.unique(labels)
        if not np.array_equal(self.classes_, np.arange(len(self.classes_))):
            raise ValueError(f"labels must be 0..n-1 with every class present, got {self.classes_.tolist()}")
        self.net_ = nn.Sequential(encoder, nn.Linear(encoder.code_size, len(self.classes_))).to(self.device)
        optimiser = torch.optim.AdamW(self.net_.parameters(), lr=p.lr, weight_decay=p.weight_decay)
        gen = torch.Generator().manual_seed(self.seed)
        order = torch.empty(0, dtype=torch.long)
        self.net_.train()
        for _ in range(p.finetune_steps):
            if len(order) < min(p.batch_size, len(x)):   # epochs of seeded permutations, cut into batches
                order = torch.cat([order, torch.randperm(len(x), generator=gen)])
            idx, order = order[:p.batch_size], order[p.batch_size:]
            loss = F.cross_entropy(self.net_(x[idx].to(self.device)), y[idx].to(self.device))
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
        self.levels_ = levels
        self.net_.eval()
        return self

    @torch.no_grad()
    def predict(self, images: np.ndarray) -> np.ndarray:
        x = intensities(images, self.levels_)
        return torch.cat([self.net_(b.to(self.device)).argmax(1).cpu() for b in x.split(512)]).numpy()
