"""PixelRNN (van den Oord et al. 2016): exact likelihood of discrete images with two-dimensional LSTMs.

The paper (Sec. 3) models p(x) = prod_i p(x_i | x_<i) in raster order, colours R -> G -> B inside a pixel,
with a 7x7 convolution of mask A first, then LSTM layers with residual connections, then 1x1 convolutions
of mask B and a 256-way softmax per pixel and colour. Its two LSTM layers, both here:

- ``RowLSTMLayer``: the image is processed one row at a time, every pixel of a row at once. The gates
  [o, f, i, g] of row i are a 1-D convolution (kernel 3) of the previous row's hidden state
  (state-to-state) plus a 1-D convolution of mask B over the current row's input features
  (input-to-state: left neighbour and centre, the right neighbour excluded). Its context is a triangle
  above the pixel: it misses the far left and right of the rows above.
- ``DiagonalBiLSTMLayer``: the input map is skewed (row i shifted right by i, width W -> W + H - 1) so
  that each column of the skewed map is a diagonal of the image; input-to-state is a 1x1 convolution of
  mask B, state-to-state a 2x1 convolution over the previous skewed column, so the state at (i, j) reads
  the states at (i, j - 1) and (i - 1, j). A second direction runs on the mirrored image; its output is
  shifted down one row before it is added to the first one, so no output sees a current or future pixel.
  Its context is every earlier pixel (no blind spot; one exception, below).

Each LSTM layer maps the residual stream of ``features`` (the paper's 2h) to h = ``hidden`` states and
back with a 1x1 convolution of mask B, added to its input. Colours use PixelCNN's channel groups
(``deep.generative.pixelcnn.channel_groups``): the first convolution, input-to-state and output layers
are masked by colour group; state-to-state needs no mask, since it only reads earlier rows or columns
(``tests/test_pixelrnn.py`` checks causality by gradients, for one and three colours).

Departures from the paper: K = the dataset's levels (17 on digits, 256 on Fashion-MNIST) instead of 256;
Adam with the best epoch chosen on a held-out slice of train (``train_with_holdout``) instead of RMSProp;
the quick rows are much smaller networks (1-2 layers, h = 8-24) than the paper's (up to 12 layers), sized
for time; no skip connections from every layer to
the output; the diagonal BiLSTM holds its states off the image (the skew's padding) at zero.

What "every earlier pixel" means here: the diagonal BiLSTM's logits at (r, c) see every earlier pixel but
one, the last pixel of the row above, (r - 1, W - 1), when c < W - 1 - 3 (beyond the 7x7 first layer's
reach). The mask-A stream carries a pixel's value only from the next position on, and the end of a row has
no next position in its row: the down-shifted right-to-left direction reads row r - 1 of that stream, so
only the first convolution brings (r - 1, W - 1) down to row r. This follows from the paper's layout as
described; ``context_seen`` measures it (1 - 1/770 at the centre of the last row of a 28x28 image, 1.0 on
8x8) and ``tests/test_pixelrnn.py`` pins it.

Sampling caches what a row reads of the rows above (one network pass over them per row) and what a pixel
reads of the pixel to its left, so each pixel and colour costs one LSTM step per layer at one position
(``pixel_logits``; ``tests/test_pixelrnn.py`` checks it against full network passes).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from deep.generative.common import TrainSchedule, to_unit
from deep.generative.pixelcnn import MaskedConv2d, PixelCNNDensity, channel_groups, logits_head


def lstm_cell(gates: torch.Tensor, cell: torch.Tensor, directions: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    """gates (B, D * 4h, ...) in blocks [o, f, i, g] per direction, cell (B, D * h, ...) -> (hidden, cell)."""
    o, f, i, g = gates.unflatten(1, (directions, 4, -1)).unbind(2)     # (B, D, h, ...) each
    cell = torch.sigmoid(f) * cell.unflatten(1, (directions, -1)) + torch.sigmoid(i) * torch.tanh(g)
    return (torch.sigmoid(o) * torch.tanh(cell)).flatten(1, 2), cell.flatten(1, 2)


def skew(x: torch.Tensor) -> torch.Tensor:
    """(B, C, H, W) -> (B, C, H, W + H - 1): row i shifted right by i, zeros elsewhere."""
    b, c, height, width = x.shape
    flat = F.pad(x, (0, height)).flatten(2)       # rows of width W + H: x[i, j] at i (W + H) + j
    return flat[:, :, :height * (width + height - 1)].view(b, c, height, width + height - 1)


def unskew(x: torch.Tensor, width: int) -> torch.Tensor:
    """Inverse of ``skew``: (B, C, H, W + H - 1) -> (B, C, H, W)."""
    b, c, height, _ = x.shape
    flat = F.pad(x.flatten(2), (0, height))        # back to rows of width W + H
    return flat.view(b, c, height, width + height)[..., :width]


def shift_down(x: torch.Tensor) -> torch.Tensor:
    """(B, C, H, W) moved down one row (row 0 becomes zeros, the last row is dropped)."""
    return F.pad(x, (0, 0, 1, 0))[:, :, :-1]


class RowLSTMLayer(nn.Module):
    """Row LSTM, row by row: input-to-state (1 x 3, mask B) + state-to-state (kernel 3 on row i - 1)."""

    def __init__(self, *, features: int, hidden: int, colours: int):
        super().__init__()
        gate_groups = channel_groups(hidden, colours).repeat(4)  # gate block k, channel j -> colour of state j
        self.input_to_state = MaskedConv2d(features, 4 * hidden, (1, 3), colours=colours, mask_type="B",
                                           centre=(0, 1), out_groups=gate_groups)
        self.state_to_state = nn.Conv1d(hidden, 4 * hidden, 3, padding=1)
        self.out = MaskedConv2d(hidden, features, (1, 1), colours=colours, mask_type="B")
        self.hidden = hidden

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        """x: (B, F, H, W) -> (x + output (B, F, H, W), the state (h, c) of the last row, (B, h, W) each)."""
        b, _, height, width = x.shape
        gates_in = self.input_to_state(F.pad(x, (1, 1, 0, 0)))           # (B, 4h, H, W), all rows at once
        h = c = x.new_zeros(b, self.hidden, width)                        # (B, h, W): state of row i - 1
        rows = []
        for gates_row in gates_in.unbind(2):   # unbind, not indexing: one backward for all rows, not one each
            h, c = lstm_cell(gates_row + self.state_to_state(h), c)
            rows.append(h)
        return x + self.out(torch.stack(rows, 2)), (h, c)                # (B, h, H, W) -> (B, F, H, W)

    def step(self, s: torch.Tensor, col: int, above: tuple[torch.Tensor, torch.Tensor], left: torch.Tensor | None):
        """One position (r, col) for the sampler: s (B, F, 1, 1) this layer's input there, ``above`` the state of
        row r - 1, ``left`` this layer's input at (r, col - 1) -> (output (B, F, 1, 1), what (r, col + 1) needs)."""
        h_above, c_above = above
        left = torch.zeros_like(s) if left is None else left
        gates = self.input_to_state(torch.cat([left, s, torch.zeros_like(s)], -1))[:, :, 0, 0]   # (B, 4h)
        h, _ = lstm_cell(gates + self.state_to_state(h_above)[..., col], c_above[..., col])
        return s + self.out(h[..., None, None]), s


class DiagonalBiLSTMLayer(nn.Module):
    """Diagonal BiLSTM: left-to-right on the image and right-to-left on its mirror, column by column over the
    skewed maps; the right-to-left output is shifted down one row before the two are added. Both directions
    step in one loop (their gates side by side, [left 4h | right 4h]; the grouped state-to-state convolution
    keeps them apart). States off the image (the skew's padding) are held at zero, as a zero-padded
    convolution would see them."""

    def __init__(self, *, features: int, hidden: int, colours: int):
        super().__init__()
        gate_groups = channel_groups(hidden, colours).repeat(8)  # 2 directions x 4 gates, channel j -> state j
        self.input_to_state = MaskedConv2d(features, 8 * hidden, (1, 1), colours=colours, mask_type="B",
                                           out_groups=gate_groups)
        # per direction, a 2x1 kernel over rows i - 1 (tap 0: the pixel above) and i (tap 1: the pixel to the
        # left) of the previous skewed column
        self.state_to_state = nn.Conv1d(2 * hidden, 8 * hidden, 2, groups=2)
        self.out = MaskedConv2d(hidden, features, (1, 1), colours=colours, mask_type="B")
        self.hidden = hidden

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        """x: (B, F, H, W) -> (x + output (B, F, H, W), the last row's left-to-right and right-to-left hidden
        states, (B, h, W) each). The state at (i, j) reads (i, j - 1) and (i - 1, j) (of the mirrored image,
        for the right-to-left direction: (i, j + 1) and (i - 1, j))."""
        b, _, height, width = x.shape
        left, right = self.input_to_state(x).chunk(2, dim=1)            # (B, 4h, H, W) each
        gates_in = skew(torch.cat([left, right.flip(-1)], 1))            # (B, 8h, H, W + H - 1)
        on_image = skew(x.new_ones(1, 1, height, width))[0, 0]           # (H, W + H - 1)
        h = c = x.new_zeros(b, 2 * self.hidden, height)                   # (B, 2h, H): previous skewed column
        columns = []
        for gates_column, keep in zip(gates_in.unbind(-1), on_image.unbind(-1)):
            h, c = lstm_cell(gates_column + self.state_to_state(F.pad(h, (1, 0))), c, directions=2)
            h, c = h * keep, c * keep
            columns.append(h)
        left, right = unskew(torch.stack(columns, -1), width).chunk(2, dim=1)   # (B, h, H, W) each
        right = right.flip(-1)
        # right-to-left: (i, j) has seen row i from j rightwards, so it may serve row i + 1 only
        return x + self.out(left + shift_down(right)), (left[:, :, -1], right[:, :, -1])

    def step(self, s: torch.Tensor, col: int, above: tuple[torch.Tensor, torch.Tensor],
             left: tuple[torch.Tensor, torch.Tensor] | None):
        """One position (r, col) for the sampler: s (B, F, 1, 1) this layer's input there, ``above`` the
        left-to-right and right-to-left hidden states of row r - 1, ``left`` the left-to-right (h, c) at
        (r, col - 1) -> (output (B, F, 1, 1), the left-to-right (h, c) at (r, col))."""
        h_above, right_above = above
        h_left, c_left = (torch.zeros_like(h_above[..., 0]),) * 2 if left is None else left
        n = 4 * self.hidden                                               # the left-to-right gates come first
        gates = self.input_to_state(s)[:, :n, 0, 0] + F.conv1d(
            torch.stack([h_above[..., col], h_left], -1), self.state_to_state.weight[:n],
            self.state_to_state.bias[:n])[..., 0]
        h, c = lstm_cell(gates, c_left)
        return s + self.out((h + right_above[..., col])[..., None, None]), (h, c)


LSTM_LAYERS = {"row-lstm": RowLSTMLayer, "diagonal-bilstm": DiagonalBiLSTMLayer}


class PixelRNN(nn.Module):
    """Mask-A first convolution, residual LSTM layers (``layer``: "row-lstm" | "diagonal-bilstm"), mask-B head."""

    def __init__(self, *, colours: int, levels: int, layer: str, features: int = 32, hidden: int = 16,
                 layers: int = 2, first_kernel: int = 7):
        super().__init__()
        self.colours, self.levels, self.first_kernel = colours, levels, first_kernel
        self.first = MaskedConv2d(colours, features, (first_kernel, first_kernel), colours=colours, mask_type="A")
        self.layers = nn.ModuleList(LSTM_LAYERS[layer](features=features, hidden=hidden, colours=colours)
                                    for _ in range(layers))
        self.head = logits_head(features, colours, levels)

    def _padded_inputs(self, x: torch.Tensor) -> torch.Tensor:
        p = self.first_kernel // 2
        return F.pad(to_unit(x, self.levels).to(self.first.weight.dtype), (p, p, p, p))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (B, C, H, W) levels -> logits (B, C, K, H, W)."""
        h = self.first(self._padded_inputs(x))
        for layer in self.layers:  # (B, F, H, W) throughout
            h, _ = layer(h)
        return self.head(h).view(len(x), self.colours, self.levels, *x.shape[2:])

    @torch.no_grad()
    def row_above(self, x: torch.Tensor, row: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """Per layer, what row ``row`` reads of row - 1 (zeros for row 0), from one pass over rows < row."""
        if row == 0:
            zeros = x.new_zeros(len(x), self.layers[0].hidden, x.shape[-1], dtype=self.first.weight.dtype)
            return [(zeros, zeros)] * len(self.layers)
        h, above = self.first(self._padded_inputs(x[:, :, :row])), []
        for layer in self.layers:
            h, last = layer(h)
            above.append(last)
        return above

    @torch.no_grad()
    def pixel_logits(self, x: torch.Tensor, row: int, col: int, state=None):
        """Logits (B, C, K) at (row, col), pixels in raster order. ``state`` caches, per layer, what the row
        reads of the row above (one pass over rows < row, once per row) and what (row, col) reads of
        (row, col - 1); a call costs one LSTM step per layer at one position."""
        if state is None or state["row"] != row:
            state = {"row": row, "above": self.row_above(x, row), "col": col, "left": None, "here": None}
        if col != state["col"]:
            if col != state["col"] + 1:
                raise ValueError(f"pixel_logits: column {col} after {state['col']}; the cache needs raster order")
            state.update(col=col, left=state["here"])
        k = self.first_kernel
        s = self.first(self._padded_inputs(x)[:, :, row:row + k, col:col + k])       # (B, F, 1, 1)
        here = []
        for i, layer in enumerate(self.layers):
            s, carry = layer.step(s, col, state["above"][i], state["left"][i] if state["left"] else None)
            here.append(carry)
        state["here"] = here
        return self.head(s).view(len(x), self.colours, self.levels), state


@dataclass(frozen=True)
class PixelRNNParams:
    layer: str             # "row-lstm" | "diagonal-bilstm"
    features: int          # residual stream (the paper's 2h)
    hidden: int            # LSTM state per direction (the paper's h)
    layers: int
    schedule: TrainSchedule


# Sized for time (the quick suite: about 20 s a job on digits, 8x8, and 30 s on Fashion-MNIST, 28x28, quick-large,
# on 2 CPU cores): the diagonal BiLSTM steps over W + H - 1 skewed columns in both directions, so it gets one
# layer where the row LSTM gets two. Learning rate and batch size: the lowest loss on the held-out slice of the
# training images (train_with_holdout) among two or three candidates each (batch 32 or 64, lr 2e-3 to 8e-3);
# never on the validation or test images. Paper: 12 layers (the paper's deepest) of h = 128 (our reading of its
# CIFAR-10 models; not checked against its tables).
PIXELRNN = {
    ("pixelrnn-row-lstm", "smoke"): PixelRNNParams("row-lstm", 16, 8, 1, TrainSchedule(2, 32, 8e-3)),
    ("pixelrnn-row-lstm", "quick"): PixelRNNParams("row-lstm", 48, 24, 2, TrainSchedule(15, 32, 4e-3)),
    ("pixelrnn-row-lstm", "paper"): PixelRNNParams("row-lstm", 256, 128, 12, TrainSchedule(100, 64, 1e-3)),
    ("pixelrnn-row-lstm", "quick-large"): PixelRNNParams("row-lstm", 16, 8, 2, TrainSchedule(1, 32, 8e-3)),
    ("pixelrnn-diagonal-bilstm", "smoke"): PixelRNNParams("diagonal-bilstm", 16, 8, 1, TrainSchedule(2, 32, 8e-3)),
    ("pixelrnn-diagonal-bilstm", "quick"): PixelRNNParams("diagonal-bilstm", 48, 24, 1,
                                                          TrainSchedule(12, 32, 4e-3)),
    ("pixelrnn-diagonal-bilstm", "paper"): PixelRNNParams("diagonal-bilstm", 256, 128, 12,
                                                          TrainSchedule(100, 64, 1e-3)),
    ("pixelrnn-diagonal-bilstm", "quick-large"): PixelRNNParams("diagonal-bilstm", 16, 8, 1,
                                                                TrainSchedule(1, 32, 8e-3)),
}


class PixelRNNDensity(PixelCNNDensity):
    """PixelCNN's density wrapper (fit / exact nll / sample / costs) around a ``PixelRNN``."""

    def _build(self, colours: int, levels: int) -> nn.Module:
        p = self.params
        return PixelRNN(colours=colours, levels=levels, layer=p.layer, features=p.features, hidden=p.hidden,
                        layers=p.layers)
