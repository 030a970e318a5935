"""Helpers shared by the deep density models: scaling, seeded batching, a training loop with a
held-out slice of the training set for picking the best epoch (the models never see ``valid`` or
``test``), a stable log-mean-exp, and the receptive-field probe of the autoregressive models
(``context_seen``)."""
from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
from torch import nn


def to_unit(x: torch.Tensor, levels: int) -> torch.Tensor:
    """Levels 0..K-1 mapped to [-1, 1] floats."""
    return x.float() * (2.0 / (levels - 1)) - 1.0


def log_mean_exp(values: torch.Tensor, dim: int) -> torch.Tensor:
    return torch.logsumexp(values, dim=dim) - math.log(values.shape[dim])


def n_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


@dataclass(frozen=True)
class TrainSchedule:
    epochs: int
    batch_size: int
    lr: float
    holdout: float = 0.1      # fraction of train kept aside to choose the best epoch


def train_with_holdout(module: nn.Module, loss_fn: Callable[[torch.Tensor], torch.Tensor], data: torch.Tensor,
                       schedule: TrainSchedule, seed: int, device: str) -> list[tuple[float, float]]:
    """Adam on mean ``loss_fn(batch)``; returns (train, holdout) loss per epoch and keeps the best state."""
    gen = torch.Generator().manual_seed(seed)
    order = torch.randperm(len(data), generator=gen)
    n_hold = int(len(data) * schedule.holdout) if len(data) >= 20 else 0
    hold, fit = data[order[:n_hold]], data[order[n_hold:]]
    optimiser = torch.optim.Adam(module.parameters(), lr=schedule.lr)
    best, best_state, history = math.inf, None, []
    for _ in range(schedule.epochs):
        module.train()
        total = 0.0
        for idx in torch.randperm(len(fit), generator=gen).split(schedule.batch_size):
            loss = loss_fn(fit[idx].to(device))
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            total += float(loss.detach()) * len(idx)
        module.eval()
        with torch.no_grad():
            held = (sum(float(loss_fn(b.to(device))) * len(b) for b in hold.split(512)) / n_hold) if n_hold else 0.0
        history.append((total / len(fit), held))
        if n_hold and held < best:
            best, best_state = held, copy.deepcopy(module.state_dict())
    if best_state is not None:
        module.load_state_dict(best_state)
    module.eval()
    return history


def as_tensor(x: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(x)).long()


def input_dependencies(net: nn.Module, shape: tuple[int, int, int], row: int, col: int,
                       channel: int | None = None, draws: int = 8, seed: int = 0) -> torch.Tensor:
    """Boolean (C, H, W): which input values reach the logits (B, C, K, H, W) of ``net`` at (row, col)
    (of colour ``channel`` only, if given). Read off the gradient of a random projection of those logits
    with respect to real-valued inputs, on a float64 copy of the net and ``draws`` random images, so a
    dependency that one input happens to silence (a dead ReLU) still shows."""
    probe = copy.deepcopy(net).cpu().double().eval()
    gen = torch.Generator().manual_seed(seed)
    x = (torch.rand(draws, *shape, generator=gen, dtype=torch.float64) * (probe.levels - 1)).requires_grad_(True)
    logits = probe(x)[:, :, :, row, col]                                   # (draws, C, K)
    if channel is not None:
        logits = logits[:, channel]
    (grad,) = torch.autograd.grad((logits * torch.randn(logits.shape, generator=gen, dtype=torch.float64)).sum(), x)
    return (grad.abs() > 0).any(0)


def context_seen(net: nn.Module, shape: tuple[int, int, int], pixel: tuple[int, int] | None = None) -> float:
    """Fraction of the pixels before ``pixel`` in raster order (its causal context) whose value reaches the
    logits there; ``pixel`` defaults to the centre of the last row, (H - 1, W // 2), where the context is
    nearly the whole image and a blind spot (PixelCNN's, up and to the right) or a short receptive field shows.
    1.0 means the model can condition on everything it is allowed to."""
    _, height, width = shape
    row, col = pixel if pixel is not None else (height - 1, width // 2)
    seen = input_dependencies(net, shape, row, col).any(0)                 # (H, W)
    before = torch.arange(height * width).view(height, width) < row * width + col
    return float(seen[before].double().mean())
