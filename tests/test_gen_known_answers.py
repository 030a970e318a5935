"""Known-answer tests of the generative suite (the numbers the suite's credibility rests on)."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from baselines.generative.density import CategoricalMixture, PixelCategorical, UniformDensity
from benchmark.audits.memorisation import nn_check_summary
from benchmark.data.images import load_image_dataset
from deep.generative.common import TrainSchedule
from deep.generative.pixelcnn import PixelCNNDensity, PixelCNNParams
from deep.generative.vae import VAE

# ---------------------------------------------------------------------------------------------
# 1. PixelCNN against a causal Markov random field with a known table p(x_ij | left, above)

LEVELS, SIDE = 3, 6


def _markov_table(seed: int) -> np.ndarray:
    """(4, 4, K) conditional table indexed by (left, above); state 3 marks the image border."""
    rng = np.random.default_rng(seed)
    return rng.dirichlet(np.full(LEVELS, 0.3), size=(LEVELS + 1, LEVELS + 1))


def _sample_markov(table: np.ndarray, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Images (n, 1, SIDE, SIDE) and their exact NLL in nats."""
    rng = np.random.default_rng(seed)
    x = np.zeros((n, SIDE, SIDE), np.int64)
    nll = np.zeros(n)
    cdf = np.cumsum(table, -1)
    for i in range(SIDE):
        for j in range(SIDE):
            left = x[:, i, j - 1] if j else np.full(n, LEVELS)
            above = x[:, i - 1, j] if i else np.full(n, LEVELS)
            x[:, i, j] = np.minimum((rng.random((n, 1)) > cdf[left, above]).sum(1), LEVELS - 1)
            nll -= np.log(table[left, above, x[:, i, j]])
    return x[:, None].astype(np.uint8), nll


@pytest.mark.slow
@pytest.mark.timeout(1200)
@pytest.mark.parametrize("gated", [True, False])
def test_pixelcnn_nll_approaches_the_true_entropy_from_above(gated):
    table = _markov_table(0)
    _, entropy_draws = _sample_markov(table, 200_000, seed=1)
    entropy = entropy_draws.mean()  # H = E[-log p(x)], Monte Carlo on 200k exact draws (se ~0.01 nats)
    train, _ = _sample_markov(table, 3000, seed=2)
    test, test_true = _sample_markov(table, 2000, seed=3)
    params = PixelCNNParams(gated=gated, features=32, layers=3, kernel=3, schedule=TrainSchedule(6, 64, 3e-3))
    model = PixelCNNDensity(params, seed=0).fit(train, LEVELS)
    result = model.nll(test)
    assert result.kind == "exact"
    excess = result.nats - test_true  # per-image log-ratio: its mean estimates KL(p || model) >= 0
    se = excess.std(ddof=1) / math.sqrt(len(excess))
    assert excess.mean() > -3 * se, (excess.mean(), se)
    # close to the entropy: within 2 % (about 0.45 of ~22.7 nats per image)
    assert result.nats.mean() < 1.02 * entropy, (result.nats.mean(), entropy)
    assert abs(test_true.mean() - entropy) < 4 * test_true.std() / math.sqrt(len(test_true))


# ---------------------------------------------------------------------------------------------
# 2. Linear-Gaussian latent model: log p(x) = log N(x; b, W W^T + s^2 I) exactly


def _linear_gaussian_vae(dims: int, latent: int, obs_std: float, seed: int):
    gen = torch.Generator().manual_seed(seed)
    w = torch.linalg.qr(torch.randn(dims, latent, generator=gen))[0] * torch.tensor([2.0, 1.5, 1.0, 0.7])[:latent]
    b = torch.randn(dims, generator=gen)
    vae = VAE(dims=dims, levels=2, latent=latent, hidden=(), likelihood="gaussian", obs_std=obs_std).double()
    with torch.no_grad():
        vae.decoder[0].weight.copy_(w)
        vae.decoder[0].bias.copy_(b)
        # W has orthogonal columns, so the posterior is diagonal: var_j = 1 / (1 + |w_j|^2 / s^2),
        # mean = var * W^T (x - b) / s^2. The encoder is set to a deliberately imperfect q:
        # mean shrunk by 0.5, variance inflated by 3 (heavier than the posterior, as IWAE likes).
        post_var = 1.0 / (1.0 + (w ** 2).sum(0) / obs_std ** 2)
        gain = (0.5 * post_var / obs_std ** 2)[:, None] * w.T
        enc = vae.encoder[0]
        enc.weight.zero_()
        enc.weight[:latent] = gain
        enc.bias[:latent] = -gain @ b
        enc.bias[latent:] = torch.log(3.0 * post_var)
    cov = w @ w.T + obs_std ** 2 * torch.eye(dims, dtype=torch.float64)
    truth = torch.distributions.MultivariateNormal(b.double(), covariance_matrix=cov.double())
    return vae, truth


def test_iwae_bound_grows_with_k_towards_the_analytic_log_likelihood():
    torch.manual_seed(0)
    vae, truth = _linear_gaussian_vae(dims=10, latent=4, obs_std=0.5, seed=0)
    x = truth.sample(torch.Size([300]))
    log_px = truth.log_prob(x).mean().item()
    gen = torch.Generator().manual_seed(1)
    elbo = vae.elbo(x, samples=2000, generator=gen).mean().item()
    bounds = {k: vae.iwae_bound(x, k, generator=gen, chunk=512).mean().item() for k in (10, 100, 1000, 5000)}
    bounds[1] = torch.stack([vae.iwae_bound(x, 1, generator=gen) for _ in range(50)]).mean().item()
    assert -elbo >= -bounds[5000]                  # -ELBO >= -L_k
    assert elbo < log_px - 3.0                     # the imperfect encoder leaves a real gap (~5.7 nats)
    assert abs(bounds[1] - elbo) < 0.1             # L_1 is the ELBO (here averaged over 50 draws per image)
    ks = sorted(bounds)
    for a, b in zip(ks, ks[1:]):
        assert bounds[b] > bounds[a] - 0.02, bounds  # L_k grows with k (up to Monte Carlo noise)
    assert bounds[10] > bounds[1] + 1 and bounds[100] > bounds[10] + 0.2
    assert bounds[5000] <= log_px + 0.02
    assert log_px - bounds[5000] < 0.01 * (log_px - elbo), (log_px, bounds, elbo)


# ---------------------------------------------------------------------------------------------
# 3. Memorisation checks: a copycat generator is flagged, a held-out generator is not


@pytest.fixture(scope="module")
def digits():
    return load_image_dataset("digits", "quick", 0)


def test_copycat_is_flagged_and_held_out_generator_is_not(digits):
    rng = np.random.default_rng(0)
    picks = rng.choice(len(digits.train), 500)
    copycat = digits.train[picks].astype(np.int64)
    flips = rng.random(copycat.shape) < 0.03           # tiny noise: ~2 of 64 pixels move one level
    copycat = np.clip(copycat + flips * rng.choice([-1, 1], copycat.shape), 0, 16).astype(np.uint8)
    held_out = np.concatenate([digits.valid, digits.valid[:20]])  # images the model never saw (200)

    copied, _, _ = nn_check_summary(copycat, digits.train, digits.test, digits.levels, n_cells=5, seed=0)
    honest, _, _ = nn_check_summary(held_out, digits.train, digits.test, digits.levels, n_cells=3, seed=0)
    assert copied["nn_memorised_frac"] > 0.9
    assert copied["nn_mw_z"] < -10
    assert copied["nn_ct"] < -5 and copied["nn_ct_cells"] >= 3
    assert honest["nn_memorised_frac"] <= honest["nn_memorised_frac_test_ref"] + 0.05
    assert abs(honest["nn_mw_z"]) < 3
    assert abs(honest["nn_ct"]) < 3 and honest["nn_ct_cells"] >= 1
    assert honest["nn_realistic_frac"] > 0.85          # held-out images: 95% by construction, up to sampling
    assert copied["nn_realistic_frac"] > 0.95           # copies are realistic: memorisation is the checks above


def test_sample_realism_and_diversity_known_answers(digits):
    """The CI gate's figures for a sampler: noise is never realistic, pixel-shuffled digits rarely are,
    and one image repeated has one distinct nearest training image."""
    rng = np.random.default_rng(2)
    honest, _, _ = nn_check_summary(digits.valid, digits.train, digits.test, digits.levels, n_cells=3, seed=0)
    shuffled = np.stack([rng.permutation(x.ravel()).reshape(x.shape) for x in digits.valid])
    scrambled, _, _ = nn_check_summary(shuffled, digits.train, digits.test, digits.levels, n_cells=3, seed=0)
    repeated, _, records = nn_check_summary(np.repeat(digits.valid[:1], 100, axis=0), digits.train, digits.test,
                                            digits.levels, n_cells=3, seed=0)
    assert honest["nn_distinct_frac"] > 0.5 and scrambled["nn_realistic_frac"] < 0.1
    assert repeated["nn_distinct_frac"] == 1 / 100 and len({r["nn_index"] for r in records}) == 1


def test_mmd_is_the_unbiased_estimator():
    """Against the formula written out pair by pair (a biased estimator keeps the i == j terms)."""
    from benchmark.audits.memorisation import mmd2

    rng = np.random.default_rng(3)
    a, b, width = rng.normal(size=(5, 3)), rng.normal(size=(4, 3)) + 0.5, 1.3
    k = lambda x, y: np.exp(-np.sum((x - y) ** 2) / (2 * width ** 2))
    within = lambda x: sum(k(x[i], x[j]) for i in range(len(x)) for j in range(len(x)) if i != j) / (len(x) * (len(x) - 1))
    expected = within(a) + within(b) - 2 * np.mean([[k(x, y) for y in b] for x in a])
    assert mmd2(a, b, width) == pytest.approx(expected, rel=1e-12)


def test_mmd_ranks_samplers_as_their_distance_from_the_data(digits):
    """Held-out images score about what training images score; blurred digits more; noise and one image
    repeated far more."""
    def mmd(images):
        return nn_check_summary(images, digits.train, digits.test, digits.levels, n_cells=3, seed=0)[0]

    held_out = mmd(digits.valid)
    blurred = np.stack([np.round((x + np.roll(x, 1, -1) + np.roll(x, -1, -1)) / 3) for x in digits.valid.astype(float)])
    noise = np.random.default_rng(1).integers(0, 17, digits.valid.shape, dtype=np.uint8)
    assert abs(held_out["mmd2_test"] - held_out["mmd2_train_test"]) < 0.005
    assert held_out["mmd2_test"] < mmd(blurred.astype(np.uint8))["mmd2_test"] < mmd(noise)["mmd2_test"]
    assert mmd(np.repeat(digits.valid[:1], 100, axis=0))["mmd2_test"] > 0.2


def test_noise_generator_reads_as_underfitting(digits):
    noise = np.random.default_rng(1).integers(0, 17, (300, 1, 8, 8), dtype=np.uint8)
    metrics, _, _ = nn_check_summary(noise, digits.train, digits.test, digits.levels, n_cells=3, seed=0)
    assert metrics["nn_memorised_frac"] == 0 and metrics["nn_mw_z"] > 10 and metrics["nn_ct"] > 5
    assert metrics["nn_realistic_frac"] == 0


# ---------------------------------------------------------------------------------------------
# 4. Classical baselines against closed forms


def test_pixel_categorical_matches_its_closed_form():
    rng = np.random.default_rng(0)
    train = rng.integers(0, 4, (50, 1, 3, 2), dtype=np.uint8)
    test = rng.integers(0, 4, (7, 1, 3, 2), dtype=np.uint8)
    alpha = 0.5
    model = PixelCategorical(alpha=alpha).fit(train, 4)
    flat_train, flat_test = train.reshape(50, -1), test.reshape(7, -1)
    expected = np.zeros(7)
    for n in range(7):
        for d in range(6):
            count = np.sum(flat_train[:, d] == flat_test[n, d])
            expected[n] -= np.log((count + alpha) / (50 + 4 * alpha))
    result = model.nll(test)
    assert result.kind == "exact"
    np.testing.assert_allclose(result.nats, expected, rtol=1e-12)


def test_one_component_mixture_is_the_pixel_categorical_and_uniform_is_d_log_k():
    rng = np.random.default_rng(1)
    train = rng.integers(0, 5, (80, 1, 4, 4), dtype=np.uint8)
    test = rng.integers(0, 5, (9, 1, 4, 4), dtype=np.uint8)
    single = CategoricalMixture(n_components=1, alpha=1.0).fit(train, 5).nll(test).nats
    np.testing.assert_allclose(single, PixelCategorical(alpha=1.0).fit(train, 5).nll(test).nats, rtol=1e-9)
    np.testing.assert_allclose(UniformDensity().fit(train, 5).nll(test).nats, 16 * np.log(5))
