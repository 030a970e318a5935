"""PixelRNN (Row LSTM, Diagonal BiLSTM): causality by gradients, a planted leak that the check catches, the
receptive fields the paper describes (and PixelCNN's blind spot, measured), normalisation, training."""
from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

import deep.generative.pixelrnn as pixelrnn_module
from deep.generative.common import TrainSchedule, context_seen, input_dependencies
from deep.generative.pixelcnn import PixelCNN, sample_images
from deep.generative.pixelrnn import PixelRNN, PixelRNNDensity, PixelRNNParams, skew, unskew

LAYERS = ("row-lstm", "diagonal-bilstm")


def _net(layer: str, colours: int = 1, layers: int = 2, first_kernel: int = 3, levels: int = 4) -> PixelRNN:
    torch.manual_seed(0)
    return PixelRNN(colours=colours, levels=levels, layer=layer, features=12, hidden=6, layers=layers,
                    first_kernel=first_kernel)


def _causality_violations(net, colours: int, side: int) -> list[tuple[int, int, int]]:
    """(row, col, colour) of every logit that depends on an input at or after it (raster order, R -> G -> B)."""
    order = np.arange(side * side * colours).reshape(side, side, colours).transpose(2, 0, 1)
    found = []
    for r, c, ch in itertools.product(range(side), range(side), range(colours)):
        seen = input_dependencies(net, (colours, side, side), r, c, channel=ch).numpy()
        if seen[order >= order[ch, r, c]].any():
            found.append((r, c, ch))
    return found


def _unseen(net, side: int, r: int, c: int) -> set[tuple[int, int]]:
    """Pixels before (r, c) in raster order whose value does not reach the logits at (r, c)."""
    seen = input_dependencies(net, (1, side, side), r, c)[0].numpy()
    before = np.arange(side * side).reshape(side, side) < r * side + c
    return {(int(i), int(j)) for i, j in zip(*np.nonzero(before & ~seen))}


def test_skew_shifts_row_i_right_by_i_and_unskew_inverts_it():
    x = torch.arange(2 * 3 * 4 * 5, dtype=torch.float32).view(2, 3, 4, 5)
    skewed = skew(x)
    assert skewed.shape == (2, 3, 4, 8)
    for i in range(4):
        assert torch.equal(skewed[:, :, i, i:i + 5], x[:, :, i]) and not skewed[:, :, i, :i].any()
    assert torch.equal(unskew(skewed, 5), x)


@pytest.mark.parametrize("layer", LAYERS)
@pytest.mark.parametrize("colours", [1, 3])
def test_pixelrnn_is_causal(layer, colours):
    assert _causality_violations(_net(layer, colours), colours, side=5) == []


def test_a_planted_leak_fails_the_causality_check(monkeypatch):
    """The check can fail: the right-to-left direction not shifted down, or a row LSTM whose input-to-state
    mask lets in the right neighbour, each make logits depend on their own pixel."""
    row = _net("row-lstm")
    with torch.no_grad():
        row.layers[0].input_to_state.mask[..., 2] = 1.0
    assert _causality_violations(row, 1, side=4)
    monkeypatch.setattr(pixelrnn_module, "shift_down", lambda x: x)
    leaks = _causality_violations(_net("diagonal-bilstm", colours=3), 3, side=4)
    assert (0, 0, 0) in leaks and len(leaks) > 10


@pytest.mark.parametrize("first_kernel", [3, 7])
def test_diagonal_bilstm_sees_every_earlier_pixel_but_the_end_of_the_row_above(first_kernel):
    """Every earlier pixel reaches the logits, at every pixel of a 6x6 image, with one exception that the
    paper's layout implies: the last pixel of the row above, (r - 1, W - 1), when it lies beyond the first
    convolution's reach (c < W - 1 - k // 2). The mask-A stream carries a pixel's value only from the next
    position on, and the end of a row has no next position in its row; the down-shifted right-to-left
    direction reads that row's stream, and the first convolution is the only path down to row r."""
    side, reach = 6, first_kernel // 2
    net = _net("diagonal-bilstm", layers=2, first_kernel=first_kernel)
    for r, c in itertools.product(range(side), range(side)):
        expected = {(r - 1, side - 1)} if r >= 1 and c < side - 1 - reach else set()
        assert _unseen(net, side, r, c) == expected, (r, c)


def test_row_lstm_sees_a_triangle_above_the_pixel():
    """Row r - d is seen up to column c + d and no further right (the state-to-state kernel 3 widens the
    context by one column per row); to the left the context holds at least the cone |c' - c| <= d, and on
    the current row the first convolution's reach plus one pixel per layer (each input-to-state sees the
    left neighbour)."""
    side, layers = 8, 3
    net = _net("row-lstm", layers=layers)
    rows, cols = np.indices((side, side))
    for r, c in itertools.product(range(side), range(side)):
        seen = input_dependencies(net, (1, side, side), r, c)[0].numpy()
        cone = (((rows < r) & (abs(cols - c) <= r - rows))
                | ((rows == r) & (cols < c) & (cols >= c - 1 - layers)))
        beyond = ((rows < r) & (cols > c + r - rows)) | (rows > r) | ((rows == r) & (cols >= c))
        assert seen[cone].all() and not seen[beyond].any(), (r, c)
    assert _unseen(net, side, side - 1, side // 2)   # the triangle is not the whole context


def test_blind_spot_measured_pixelcnn_against_diagonal_bilstm():
    """At the centre of the last row of an 8x8 image: a PixelCNN of six 3x3 layers (receptive field tall
    enough for the whole image) misses the three pixels of its blind spot, up and to the right; the diagonal
    BiLSTM (7x7 first layer, as every profile's rows) misses none; a row LSTM of three layers after
    a 3x3 first layer misses the same three pixels, right of its triangle (after a 7x7 first layer its
    triangle covers this small image)."""
    side, r, c = 8, 7, 4
    torch.manual_seed(0)
    plain = PixelCNN(colours=1, levels=4, features=12, layers=6, first_kernel=3)
    diagonal = _net("diagonal-bilstm", first_kernel=7)
    row = _net("row-lstm", layers=3, first_kernel=3)
    assert _unseen(plain, side, r, c) == {(5, 7), (6, 6), (6, 7)}
    assert _unseen(diagonal, side, r, c) == set()
    assert _unseen(row, side, r, c) == {(5, 7), (6, 6), (6, 7)}
    context = r * side + c
    assert context_seen(plain, (1, side, side)) == pytest.approx(1 - 3 / context)
    assert context_seen(diagonal, (1, side, side)) == 1.0
    assert context_seen(row, (1, side, side)) == pytest.approx(1 - 3 / context)
    assert context_seen(_net("row-lstm", first_kernel=7), (1, side, side)) == 1.0


def _all_images(colours: int, side: tuple[int, int], levels: int) -> torch.Tensor:
    values = list(itertools.product(range(levels), repeat=colours * side[0] * side[1]))
    return torch.tensor(values).view(-1, colours, *side)


@pytest.mark.parametrize("layer", LAYERS)
@pytest.mark.parametrize("colours,side,levels", [(1, (2, 3), 3), (3, (1, 2), 2), (1, (3, 2), 2)])
def test_pixelrnn_probabilities_sum_to_one(layer, colours, side, levels):
    net = _net(layer, colours, levels=levels).double()
    x = _all_images(colours, side, levels)
    log_p = torch.log_softmax(net(x), 2).gather(2, x.unsqueeze(2)).flatten(1).sum(1)
    assert torch.logsumexp(log_p, 0).exp().item() == pytest.approx(1.0, abs=1e-9)


@pytest.mark.parametrize("layer", LAYERS)
@pytest.mark.parametrize("colours,first_kernel", [(1, 3), (3, 3), (1, 7)])
def test_cached_pixel_logits_match_full_passes(layer, colours, first_kernel):
    """The sampler's cache (row above, pixel to the left) gives the full network's logits at every pixel,
    and cached sampling draws the same images as full passes."""
    net = _net(layer, colours, layers=2, first_kernel=first_kernel).double()
    x = torch.randint(0, 4, (3, colours, 5, 6))
    full, state = net(x), None
    for r, c in itertools.product(range(5), range(6)):
        logits, state = net.pixel_logits(x, r, c, state)
        torch.testing.assert_close(logits, full[:, :, :, r, c], rtol=0, atol=1e-10)
    cached = sample_images(net, 4, (colours, 5, 4), seed=2, device="cpu", cached=True)
    assert torch.equal(cached, sample_images(net, 4, (colours, 5, 4), seed=2, device="cpu", cached=False))


@pytest.mark.parametrize("layer", LAYERS)
def test_a_few_training_epochs_reduce_the_nll(layer):
    rng = np.random.default_rng(0)
    ramp = np.linspace(0, 4, 6)[None, None, :]
    data = np.clip(np.round(ramp + rng.normal(0, 0.7, (96, 1, 6, 6))), 0, 4).astype(np.uint8)
    model = PixelRNNDensity(PixelRNNParams(layer, 16, 8, 1, TrainSchedule(4, 16, 5e-3)), seed=0)
    torch.manual_seed(0)
    model.net_ = model._build(1, 5).eval()    # the net fit() starts from (same seed)
    before = model.nll(data).nats.mean()
    after = model.fit(data, 5).nll(data).nats.mean()
    assert after < 0.85 * before, (before, after)
    assert model.costs()["params"] > 0 and 0 < model.costs()["context_seen"] <= 1
