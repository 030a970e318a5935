"""Contract tests over every deep density model and classical baseline, plus PixelCNN structure."""
from __future__ import annotations

import itertools
import re
from pathlib import Path

import numpy as np
import pytest
import torch

from baselines.generative.density import DENSITY_BASELINES, DiscretisedDiagonalGMM
from benchmark.common.timing import PhaseTimer
from benchmark.data.images import ImageData
from benchmark.methods import MethodContext
from benchmark.pipeline.generative_suite import run_generative_job
from deep.generative.pixelcnn import GatedPixelCNN, PixelCNN, sample_images
from deep.generative.registry import DENSITY_MODELS
from deep.generative.vae import discretised_logistic_log_prob
import deep.generative.pixelcnn as pixelcnn_module

ALL = {**DENSITY_MODELS, **DENSITY_BASELINES}
KIND = re.compile(r"^(exact|dequantised-bound|-elbo|-iwae-k=\d+)$")


def _tiny(levels: int = 5, n: int = 64, shape=(1, 8, 8), seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    ramp = np.linspace(0, levels - 1, shape[-1])[None, None, :]  # some structure, not pure noise
    x = ramp + rng.normal(0, 1.0, (n, *shape))
    return np.clip(np.round(x), 0, levels - 1).astype(np.uint8)


@pytest.fixture(scope="module")
def ctx():
    return MethodContext(profile="smoke", seed=0, device="cpu", n_classes=0)


@pytest.mark.parametrize("name", sorted(ALL))
def test_density_contract(name, ctx):
    spec = ALL[name]
    assert spec.name == name and spec.modality in ("density", "sampler")
    train, test = _tiny(n=64), _tiny(n=9, seed=1)
    model = spec.build(ctx).fit(train, 5)
    if spec.modality == "sampler":
        with pytest.raises(NotImplementedError):
            model.nll(test)
    else:
        result = model.nll(test)
        assert result.nats.shape == (9,) and np.all(np.isfinite(result.nats)) and np.all(result.nats > 0)
        assert KIND.match(result.kind), result.kind
    samples = model.sample(6, seed=3)
    assert samples.shape == (6, 1, 8, 8) and samples.dtype == np.uint8 and samples.max() < 5
    assert np.array_equal(samples, model.sample(6, seed=3))  # seeded


@pytest.mark.parametrize("name", ["gated-pixelcnn", "pixelcnn", "pixelrnn-row-lstm", "pixelrnn-diagonal-bilstm",
                                  "vae", "pixel-categorical"])
def test_colour_and_binary_inputs(name, ctx):
    spec = ALL[name]
    colour = _tiny(levels=4, n=32, shape=(3, 4, 4))
    model = spec.build(ctx).fit(colour, 4)
    assert model.nll(colour[:3]).nats.shape == (3,)
    assert model.sample(2, 0).shape == (2, 3, 4, 4)
    binary = _tiny(levels=2, n=32)
    model = spec.build(ctx).fit(binary, 2)
    assert np.isfinite(model.nll(binary[:3]).nats).all() and model.sample(2, 0).max() <= 1


def _all_images(colours: int, side: tuple[int, int], levels: int) -> torch.Tensor:
    values = list(itertools.product(range(levels), repeat=colours * side[0] * side[1]))
    return torch.tensor(values).view(-1, colours, *side)


@pytest.mark.parametrize("cls,kw", [(PixelCNN, {"first_kernel": 3}), (GatedPixelCNN, {"kernel": 3})])
@pytest.mark.parametrize("colours,side,levels", [(1, (2, 3), 3), (3, (1, 2), 2)])
def test_pixelcnn_probabilities_sum_to_one(cls, kw, colours, side, levels):
    torch.manual_seed(0)
    net = cls(colours=colours, levels=levels, features=12, layers=2, **kw).double()
    x = _all_images(colours, side, levels)
    logits = net(x)
    log_p = torch.log_softmax(logits, 2).gather(2, x.unsqueeze(2)).flatten(1).sum(1)
    assert torch.logsumexp(log_p, 0).exp().item() == pytest.approx(1.0, abs=1e-9)


def _dependencies(net, colours, side, r, c, ch):
    """Boolean (C, H, W): which inputs reach the logits of (r, c, ch)."""
    original = pixelcnn_module.to_unit
    pixelcnn_module.to_unit = lambda t, levels: t  # feed floats straight in, to take gradients
    try:
        x = torch.randn(1, colours, side, side, dtype=torch.float64, requires_grad=True)
        (grad,) = torch.autograd.grad(net(x)[0, ch, :, r, c].sum(), x)
    finally:
        pixelcnn_module.to_unit = original
    return grad[0].abs() > 0


@pytest.mark.parametrize("cls,kw", [(PixelCNN, {"first_kernel": 3}), (GatedPixelCNN, {"kernel": 3})])
@pytest.mark.parametrize("colours", [1, 3])
def test_pixelcnn_is_causal(cls, kw, colours):
    torch.manual_seed(0)
    side = 5
    net = cls(colours=colours, levels=4, features=12, layers=3, **kw).double()
    order = np.arange(side * side * colours).reshape(side, side, colours).transpose(2, 0, 1)  # raster, RGB
    for r, c, ch in itertools.product(range(side), range(side), range(colours)):
        seen = _dependencies(net, colours, side, r, c, ch).numpy()
        assert not seen[order >= order[ch, r, c]].any(), (r, c, ch)


def test_gated_pixelcnn_has_no_blind_spot_and_plain_one_does():
    torch.manual_seed(0)
    side, r, c = 6, 5, 1
    gated = GatedPixelCNN(colours=1, levels=4, features=8, layers=6, kernel=3).double()
    plain = PixelCNN(colours=1, levels=4, features=8, layers=6, first_kernel=3).double()
    before = np.arange(side * side).reshape(side, side) < r * side + c
    assert _dependencies(gated, 1, side, r, c, 0)[0].numpy()[before].all()
    assert not _dependencies(plain, 1, side, r, c, 0)[0].numpy()[before].all()  # upper-right blind spot


@pytest.mark.parametrize("cls,kw", [(PixelCNN, {"first_kernel": 5}), (GatedPixelCNN, {"kernel": 3})])
@pytest.mark.parametrize("colours", [1, 3])
def test_cached_sampling_matches_full_passes(cls, kw, colours):
    torch.manual_seed(0)
    net = cls(colours=colours, levels=4, features=12, layers=3, **kw)
    cached = sample_images(net, 5, (colours, 7, 6), seed=2, device="cpu", cached=True)
    full = sample_images(net, 5, (colours, 7, 6), seed=2, device="cpu", cached=False)
    assert torch.equal(cached, full)


def test_discretised_distributions_are_normalised():
    levels = 7
    x = torch.arange(levels)[:, None].expand(levels, 4)
    mean, log_scale = torch.tensor([-1.3, 0.0, 0.2, 0.95]), torch.tensor([-3.0, 0.5, -6.0, -1.0])
    total = discretised_logistic_log_prob(x, mean, log_scale, levels).exp().sum(0)
    assert torch.allclose(total, torch.ones(4), atol=1e-5)
    train = _tiny(levels=3, n=40, shape=(1, 1, 3))
    model = DiscretisedDiagonalGMM(n_components=2).fit(train, 3)
    every = np.array(list(itertools.product(range(3), repeat=3)), np.uint8).reshape(-1, 1, 1, 3)
    assert np.exp(-model.nll(every).nats).sum() == pytest.approx(1.0, abs=1e-9)


def test_run_generative_job_rows_and_artefacts(tmp_path):
    data = ImageData(train=_tiny(n=120), valid=_tiny(n=20, seed=2), test=_tiny(n=40, seed=1), levels=5,
                     name="tiny", binarised=None)
    ctx = MethodContext(profile="smoke", seed=0, device="cpu", n_classes=0, artefact_dir=str(tmp_path))
    for name in ("pixel-categorical", "vae", "gan", "wgan-gp", "lsgan"):
        timer = PhaseTimer()
        outcome = run_generative_job(ALL[name], ctx, data, timer)
        main = outcome.rows[0]
        assert main.variant == "" and "nn_mw_z" in main.metrics and "nn_ct" in main.metrics
        assert {"train_s", "sample_s"} <= set(outcome.timings)
        assert all((tmp_path / p).exists() for p in outcome.artefacts) and outcome.artefacts
        assert {"mmd2_test", "mmd2_train_test", "nn_realistic_frac"} <= set(main.metrics)
        if name != "pixel-categorical":   # the latent-variable models: interpolation paths and arithmetic
            assert {"latent_path_novelty", "latent_path_mw_z", "latent_path_jump"} <= set(main.metrics)
            assert {f"{name}-interpolations.png", f"{name}-arithmetic.png"} <= {Path(p).name for p in outcome.artefacts}
            assert "latent_s" in outcome.timings
        if name in ("gan", "wgan-gp", "lsgan"):
            assert main.metrics["nll_nats"] is None and "infer_s" not in outcome.timings
            continue
        m = main.metrics
        assert m["bits_per_dim"] == pytest.approx(m["nll_nats"] / (64 * np.log(2)))
        assert m["gap_nats"] == pytest.approx(m["nll_nats"] - m["train_nll_nats"])
        assert len(main.predictions) == 40 and "nll_nats" in main.predictions[0]
        assert [r.variant for r in outcome.rows] == list(ALL[name].variants)
    vae_rows = run_generative_job(ALL["vae"], ctx, data, PhaseTimer()).rows
    assert vae_rows[1].metrics["kind"] == "-elbo" and vae_rows[0].metrics["kind"].startswith("-iwae-k=")
    assert vae_rows[1].metrics["nll_nats"] >= vae_rows[0].metrics["nll_nats"] - 0.5


def test_gan_losses_are_the_papers():
    """Known values of each loss on fixed critic scores, and the gradient penalty of linear critics, whose
    gradient is their weight everywhere: (||w|| - 1)^2."""
    from deep.generative.gan import LOSSES, gradient_penalty

    real, fake = torch.tensor([2.0, -1.0]), torch.tensor([0.5, 3.0])
    sig = torch.sigmoid
    d, g, norm = LOSSES["non-saturating"]
    assert d(real, fake) == pytest.approx(float(-(sig(real).log().mean() + (1 - sig(fake)).log().mean())), rel=1e-6)
    assert g(fake) == pytest.approx(float(-sig(fake).log().mean()), rel=1e-6) and norm == "batch"
    d, g, norm = LOSSES["wgan-gp"]
    assert float(d(real, fake)) == pytest.approx(1.75 - 0.5) and float(g(fake)) == pytest.approx(-1.75)
    assert norm == "layer"
    d, g, _ = LOSSES["lsgan"]
    assert float(d(real, fake)) == pytest.approx(0.5 * (1 + 4) / 2 + 0.5 * (0.25 + 9) / 2)
    assert float(g(fake)) == pytest.approx(0.5 * (0.25 + 4) / 2)
    gen = torch.Generator().manual_seed(0)
    x, y = torch.randn(6, 1, 2, 2, generator=gen), torch.randn(6, 1, 2, 2, generator=gen)
    for scale, penalty in ((1.0, 0.0), (3.0, 4.0)):   # (||w|| - 1)^2
        critic = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4, 1))
        with torch.no_grad():
            critic[1].weight.copy_(torch.tensor([[scale, 0.0, 0.0, 0.0]]))
        assert float(gradient_penalty(lambda v: critic(v)[:, 0], x, y, gen).detach()) == pytest.approx(penalty, abs=1e-6)
