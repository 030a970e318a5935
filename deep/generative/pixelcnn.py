"""PixelCNN (van den Oord et al. 2016): exact likelihood of discrete images in one forward pass.

Two networks, one K-way softmax per pixel and channel (colour channels ordered R -> G -> B
inside a pixel, through channel-group masks at the centre tap):

- ``PixelCNN``: a 7x7 masked convolution of type A (centre excluded), then residual 3x3 masked
  convolutions of type B (centre included). Its receptive field has the known blind spot.
- ``GatedPixelCNN``: gated layers tanh(a) * sigmoid(b) with a vertical stack (rows above, full
  width) feeding a horizontal stack (current row, pixels to the left), so no blind spot.

Sampling is one network pass per pixel (and channel). The gated model caches what does not change
inside a row: the vertical stack, whose output for row i depends only on rows < i, is computed once
per row; each pixel then runs only the horizontal stack, on the pixels of its row that the stack can
reach. The plain model crops the input to the rows its receptive field can see.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from benchmark.methods import NLL
from deep.generative.common import TrainSchedule, as_tensor, context_seen, n_params, to_unit, train_with_holdout


def channel_groups(n: int, colours: int) -> torch.Tensor:
    """Colour group (0..colours-1) of each of n feature channels: contiguous equal blocks."""
    return torch.arange(n) * colours // n


def causal_mask(out_groups: torch.Tensor, in_groups: torch.Tensor, kernel: tuple[int, int],
                centre: tuple[int, int], mask_type: str) -> torch.Tensor:
    """(out, in, kh, kw) mask: taps after the centre in raster order are 0; at the centre, output
    group g sees input groups < g (type A) or <= g (type B)."""
    mask = torch.ones(len(out_groups), len(in_groups), *kernel)
    cy, cx = centre
    mask[:, :, cy + 1:, :] = 0
    mask[:, :, cy, cx + 1:] = 0
    if mask_type == "A":
        allowed = out_groups[:, None] > in_groups[None, :]
    else:
        allowed = out_groups[:, None] >= in_groups[None, :]
    mask[:, :, cy, cx] = allowed.float()
    return mask


class MaskedConv2d(nn.Conv2d):
    def __init__(self, in_ch: int, out_ch: int, kernel: tuple[int, int], *, colours: int, mask_type: str,
                 centre: tuple[int, int] | None = None, out_groups: torch.Tensor | None = None):
        super().__init__(in_ch, out_ch, kernel, padding=0)
        centre = centre if centre is not None else (kernel[0] // 2, kernel[1] // 2)
        out_groups = out_groups if out_groups is not None else channel_groups(out_ch, colours)
        self.register_buffer("mask", causal_mask(out_groups, channel_groups(in_ch, colours), kernel, centre,
                                                 mask_type))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.weight * self.mask, self.bias)


def logits_head(features: int, colours: int, levels: int) -> nn.Sequential:
    out_groups = channel_groups(colours * levels, colours)  # channel c*K + k belongs to colour c
    return nn.Sequential(
        nn.ReLU(), MaskedConv2d(features, features, (1, 1), colours=colours, mask_type="B"),
        nn.ReLU(), MaskedConv2d(features, colours * levels, (1, 1), colours=colours, mask_type="B",
                                out_groups=out_groups))


class PixelCNN(nn.Module):
    """Masked-convolution PixelCNN: type A first layer, then residual type B layers."""

    def __init__(self, *, colours: int, levels: int, features: int = 64, layers: int = 6, first_kernel: int = 7):
        super().__init__()
        self.colours, self.levels = colours, levels
        self.first_kernel = first_kernel
        self.first = MaskedConv2d(colours, features, (first_kernel, first_kernel), colours=colours, mask_type="A")
        self.blocks = nn.ModuleList(
            MaskedConv2d(features, features, (3, 3), colours=colours, mask_type="B") for _ in range(layers))
        self.head = logits_head(features, colours, levels)
        self.rows_seen = first_kernel // 2 + layers  # rows above a pixel that can reach its logits

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (B, C, H, W) levels -> logits (B, C, K, H, W)."""
        p = self.first_kernel // 2
        h = self.first(F.pad(to_unit(x, self.levels).to(self.first.weight.dtype), (p, p, p, p)))
        for block in self.blocks:  # (B, F, H, W) throughout
            h = h + block(F.pad(F.relu(h), (1, 1, 1, 1)))
        logits = self.head(h)
        return logits.view(len(x), self.colours, self.levels, *x.shape[2:])

    @torch.no_grad()
    def pixel_logits(self, x: torch.Tensor, row: int, col: int, state=None):
        """Logits (B, C, K) at (row, col) from the rows the receptive field reaches."""
        top = max(0, row - self.rows_seen)
        return self(x[:, :, top:row + 1])[:, :, :, -1, col], None


class GatedLayer(nn.Module):
    """One gated layer: vertical stack (k//2+1) x k above-and-current rows; horizontal 1 x (k//2+1)."""

    def __init__(self, in_ch: int, features: int, *, colours: int, kernel: int, first: bool):
        super().__init__()
        self.kernel, self.first = kernel, first
        gate_groups = channel_groups(features, colours).repeat(2)  # groups of tanh half, then sigmoid half
        self.vertical = nn.Conv2d(in_ch, 2 * features, (kernel // 2 + 1, kernel))
        self.v_to_h = nn.Conv2d(2 * features, 2 * features, 1)
        self.horizontal = MaskedConv2d(in_ch, 2 * features, (1, kernel // 2 + 1), colours=colours,
                                       mask_type="A" if first else "B", centre=(0, kernel // 2),
                                       out_groups=gate_groups)
        self.h_out = MaskedConv2d(features, features, (1, 1), colours=colours, mask_type="B")

    @staticmethod
    def gate(x: torch.Tensor) -> torch.Tensor:
        a, b = x.chunk(2, dim=1)
        return torch.tanh(a) * torch.sigmoid(b)

    def vertical_pre(self, v: torch.Tensor) -> torch.Tensor:
        k = self.kernel
        return self.vertical(F.pad(v, (k // 2, k // 2, k // 2, 0)))  # row i sees rows i-k//2 .. i

    def link(self, v_pre: torch.Tensor) -> torch.Tensor:
        """Vertical features moved one row down: the horizontal stack at row i sees rows < i only."""
        return self.v_to_h(F.pad(v_pre, (0, 0, 1, 0))[:, :, :-1])

    def horizontal_step(self, h: torch.Tensor, link: torch.Tensor) -> torch.Tensor:
        out = self.h_out(self.gate(self.horizontal(F.pad(h, (self.kernel // 2, 0, 0, 0))) + link))
        return out if self.first else out + h

    def forward(self, v: torch.Tensor, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        v_pre = self.vertical_pre(v)
        return self.gate(v_pre), self.horizontal_step(h, self.link(v_pre))


class GatedPixelCNN(nn.Module):
    def __init__(self, *, colours: int, levels: int, features: int = 64, layers: int = 6, kernel: int = 5):
        super().__init__()
        self.colours, self.levels = colours, levels
        self.layers = nn.ModuleList(
            GatedLayer(colours if i == 0 else features, features, colours=colours, kernel=kernel, first=i == 0)
            for i in range(layers))
        self.head = logits_head(features, colours, levels)
        self.rows_seen = layers * (kernel // 2) + 1
        self.cols_seen = layers * (kernel // 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (B, C, H, W) levels -> logits (B, C, K, H, W)."""
        v = h = self._inputs(x)
        for layer in self.layers:
            v, h = layer(v, h)
        return self.head(h).view(len(x), self.colours, self.levels, *x.shape[2:])

    def _inputs(self, x: torch.Tensor) -> torch.Tensor:
        return to_unit(x, self.levels).to(self.head[1].weight.dtype)

    @torch.no_grad()
    def row_links(self, x: torch.Tensor, row: int) -> list[torch.Tensor]:
        """Per layer, the vertical-stack input of the horizontal stack at ``row``: (B, 2F, 1, W)."""
        if row == 0:
            return [layer.v_to_h.bias.view(1, -1, 1, 1).expand(len(x), -1, 1, x.shape[-1])
                    for layer in self.layers]
        top = max(0, row - self.rows_seen)
        v, links = self._inputs(x[:, :, top:row]), []
        for layer in self.layers:
            v_pre = layer.vertical_pre(v)
            links.append(layer.v_to_h(v_pre[:, :, -1:]))
            v = layer.gate(v_pre)
        return links

    @torch.no_grad()
    def pixel_logits(self, x: torch.Tensor, row: int, col: int, state=None):
        """Logits (B, C, K) at (row, col); ``state`` caches the row's vertical links."""
        if state is None or state[0] != row:
            state = (row, self.row_links(x, row))
        left = max(0, col - self.cols_seen)  # the horizontal stack reaches this far to the left
        h = self._inputs(x[:, :, row:row + 1, left:col + 1])
        for layer, link in zip(self.layers, state[1]):
            h = layer.horizontal_step(h, link[..., left:col + 1])
        return self.head(h)[:, :, 0, -1].view(len(x), self.colours, self.levels), state


@torch.no_grad()
def sample_images(net: nn.Module, n: int, shape: tuple[int, int, int], seed: int, device: str,
                  cached: bool = True) -> torch.Tensor:
    """Ancestral sampling in raster order, channel by channel; ``cached=False`` runs the full
    network for every pixel (the reference the cached path must match)."""
    gen = torch.Generator(device=device).manual_seed(seed)
    colours, height, width = shape
    x = torch.zeros(n, *shape, dtype=torch.long, device=device)
    for row in range(height):
        state = None
        for col in range(width):
            for c in range(colours):
                if cached:
                    logits, state = net.pixel_logits(x, row, col, state)
                else:
                    logits = net(x)[:, :, :, row, col]
                probs = torch.softmax(logits[:, c].double(), dim=-1)
                x[:, c, row, col] = torch.multinomial(probs, 1, generator=gen)[:, 0]
    return x


@dataclass(frozen=True)
class PixelCNNParams:
    gated: bool
    features: int
    layers: int
    kernel: int            # first-layer kernel (plain) or stack kernel (gated)
    schedule: TrainSchedule


PIXELCNN = {
    ("pixelcnn", "smoke"): PixelCNNParams(False, 16, 2, 5, TrainSchedule(2, 64, 3e-3)),
    ("pixelcnn", "quick"): PixelCNNParams(False, 48, 4, 5, TrainSchedule(20, 64, 2e-3)),
    ("pixelcnn", "paper"): PixelCNNParams(False, 128, 12, 7, TrainSchedule(100, 64, 1e-3)),
    ("pixelcnn", "quick-large"): PixelCNNParams(False, 16, 3, 5, TrainSchedule(2, 64, 2e-3)),
    ("gated-pixelcnn", "smoke"): PixelCNNParams(True, 16, 2, 3, TrainSchedule(2, 64, 3e-3)),
    ("gated-pixelcnn", "quick"): PixelCNNParams(True, 48, 4, 3, TrainSchedule(20, 64, 2e-3)),
    ("gated-pixelcnn", "paper"): PixelCNNParams(True, 128, 12, 5, TrainSchedule(100, 64, 1e-3)),
    ("gated-pixelcnn", "quick-large"): PixelCNNParams(True, 16, 3, 3, TrainSchedule(2, 64, 2e-3)),
}


class PixelCNNDensity:
    """Density-model wrapper: ``fit`` / exact ``nll`` / ``sample`` on uint8 level images."""

    def __init__(self, params: PixelCNNParams, *, seed: int = 0, device: str = "cpu"):
        self.params, self.seed, self.device = params, seed, device

    def _build(self, colours: int, levels: int) -> nn.Module:
        p = self.params
        if p.gated:
            return GatedPixelCNN(colours=colours, levels=levels, features=p.features, layers=p.layers,
                                 kernel=p.kernel)
        return PixelCNN(colours=colours, levels=levels, features=p.features, layers=p.layers,
                        first_kernel=p.kernel)

    def _nll_tensor(self, x: torch.Tensor) -> torch.Tensor:
        logits = self.net_(x)  # (B, C, K, H, W)
        return F.cross_entropy(logits.transpose(1, 2), x, reduction="none").flatten(1).sum(1)

    def fit(self, train: np.ndarray, levels: int) -> "PixelCNNDensity":
        torch.manual_seed(self.seed)
        self.levels_, self.shape_ = levels, train.shape[1:]
        self.net_ = self._build(train.shape[1], levels).to(self.device)
        self.history_ = train_with_holdout(self.net_, lambda b: self._nll_tensor(b).mean(), as_tensor(train),
                                           self.params.schedule, self.seed, self.device)
        return self

    @torch.no_grad()
    def nll(self, x: np.ndarray) -> NLL:
        data = as_tensor(x)
        nats = torch.cat([self._nll_tensor(b.to(self.device)).cpu() for b in data.split(256)])
        return NLL(nats.double().numpy(), "exact")

    def sample(self, n: int, seed: int) -> np.ndarray:
        x = sample_images(self.net_, n, self.shape_, seed, self.device)
        return x.cpu().numpy().astype(np.uint8)

    def costs(self) -> dict:
        """Parameters, and the share of the causal context the fitted net sees at the centre of the last row
        (``context_seen``: below 1 for the plain PixelCNN's blind spot or a short receptive field)."""
        return {"params": n_params(self.net_), "context_seen": round(context_seen(self.net_, self.shape_), 4)}
