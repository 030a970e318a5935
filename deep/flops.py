"""Parameters and FLOPs per view of a video network, counted by ``torch.utils.flop_counter``.

Convention (``FLOPS_CONVENTION``): torch's counter, i.e. 2 FLOPs per multiply-add of convolutions and
matrix products; element-wise ops, pooling, normalisation and biases are not counted. Recurrent layers
are counted, not zero: on CPU ``nn.LSTM`` runs as one fused kernel the counter does not see (it reports
0), while ``nn.GRU`` and cells decompose into counted matrix products. ``flops_per_view`` therefore
re-counts every ``nn.RNNBase`` module on the inputs it saw and adds the analytic count of its matrix
products where the counter reported less. Models are built on the ``meta`` device, so even the paper
sizes cost no memory and no arithmetic.
"""
from __future__ import annotations

from typing import Callable

import torch
import torch.nn as nn
from torch.utils.flop_counter import FlopCounterMode

FLOPS_CONVENTION = "2 FLOPs per multiply-add (torch.utils.flop_counter; conv/matmul only; recurrent matmuls included)"

_GATES = {"LSTM": 4, "GRU": 3, "RNN_TANH": 1, "RNN_RELU": 1}


def count_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def rnn_analytic_flops(rnn: nn.RNNBase, batch: int, steps: int) -> int:
    """2 x multiply-adds of the input and hidden matrix products of every layer and direction."""
    gates = _GATES[rnn.mode]
    directions = 2 if rnn.bidirectional else 1
    hidden_out = rnn.proj_size or rnn.hidden_size
    total = 0
    for layer in range(rnn.num_layers):
        inputs = rnn.input_size if layer == 0 else hidden_out * directions
        per_step = gates * rnn.hidden_size * (inputs + hidden_out)
        if rnn.proj_size:
            per_step += rnn.proj_size * rnn.hidden_size
        total += 2 * batch * steps * per_step * directions
    return total


def _rnn_shape(rnn: nn.RNNBase, x: torch.Tensor) -> tuple[int, int]:
    if x.dim() == 2:
        return 1, x.shape[0]
    return (x.shape[0], x.shape[1]) if rnn.batch_first else (x.shape[1], x.shape[0])


def flops_per_view(model: nn.Module, example: torch.Tensor) -> int:
    """FLOPs of one forward pass on ``example`` (batch 1), recurrent layers included."""
    seen: list[tuple[nn.RNNBase, torch.Tensor]] = []
    hooks = [m.register_forward_pre_hook(lambda mod, args: seen.append((mod, args[0])))
             for m in model.modules() if isinstance(m, nn.RNNBase)]
    try:
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            model(example)
    finally:
        for hook in hooks:
            hook.remove()
    total = counter.get_total_flops()
    for rnn, x in seen:
        with torch.no_grad(), FlopCounterMode(display=False) as alone:
            rnn(x)
        batch, steps = _rnn_shape(rnn, x)
        total += max(0, rnn_analytic_flops(rnn, batch, steps) - alone.get_total_flops())
    return int(total)


def model_costs(make_model: Callable[[int], nn.Module], n_classes: int, clip, *, views: int) -> dict:
    """params, flops_per_view, views and the convention, for ``make_model(n_classes)`` on one clip."""
    with torch.device("meta"):
        model = make_model(n_classes)
        example = torch.zeros(1, clip.channels, clip.frames, clip.size, clip.size)
    model.eval()
    return {
        "params": count_params(model),
        "flops_per_view": flops_per_view(model, example),
        "views": views,
        "flops_convention": FLOPS_CONVENTION,
    }


def train_step_flops(model: nn.Module, x: torch.Tensor, loss_fn: Callable[[torch.Tensor], torch.Tensor]) -> int:
    """FLOPs of one forward + backward pass, as counted; recurrent layers the counter misses are added
    at 3x their forward count (backward ~ 2x forward)."""
    seen: list[tuple[nn.RNNBase, torch.Tensor]] = []
    hooks = [m.register_forward_pre_hook(lambda mod, args: seen.append((mod, args[0])))
             for m in model.modules() if isinstance(m, nn.RNNBase)]
    try:
        with FlopCounterMode(display=False) as counter:
            loss_fn(model(x)).backward()
    finally:
        for hook in hooks:
            hook.remove()
    model.zero_grad(set_to_none=True)
    total = counter.get_total_flops()
    for rnn, inputs in seen:
        with torch.no_grad(), FlopCounterMode(display=False) as alone:
            rnn(inputs.detach())
        batch, steps = _rnn_shape(rnn, inputs)
        total += 3 * max(0, rnn_analytic_flops(rnn, batch, steps) - alone.get_total_flops())
    return int(total)
