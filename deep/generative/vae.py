"""Variational autoencoder (Kingma & Welling 2014) with the importance-weighted bound of Burda et al. 2016.

Gaussian encoder q(z|x) = N(mu(x), diag sigma^2(x)), reparameterised samples z = mu + sigma * eps,
prior N(0, I). The decoder likelihood matches the data:

- ``bernoulli`` for binary images (K = 2),
- ``categorical``: a K-way softmax per pixel for grey levels,
- ``dlogistic``: a discretised logistic per pixel (bins of width 2/(K-1) on [-1, 1], open outer bins),
- ``gaussian``: N(x; decoder(z), obs_std^2) for continuous data (the linear-Gaussian known-answer test).

The ELBO uses the analytic KL; L_k = E log (1/k) sum_i p(x, z_i) / q(z_i|x) is computed with a
log-sum-exp over chunks of samples, so k = 5000 fits in memory.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from benchmark.methods import NLL
from deep.generative.common import TrainSchedule, as_tensor, n_params, to_unit, train_with_holdout

LOG_2PI = math.log(2 * math.pi)
_OUTPUTS_PER_DIM = {"bernoulli": 1, "categorical": None, "dlogistic": 2, "gaussian": 1}


def mlp(sizes: list[int]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def gaussian_log_prob(x: torch.Tensor, mean: torch.Tensor, log_var: torch.Tensor) -> torch.Tensor:
    return -0.5 * (LOG_2PI + log_var + (x - mean) ** 2 / log_var.exp()).sum(-1)


def discretised_logistic_log_prob(x: torch.Tensor, mean: torch.Tensor, log_scale: torch.Tensor,
                                  levels: int) -> torch.Tensor:
    """log P(level x) per pixel; x (..., D) levels, mean/log_scale (..., D) on the [-1, 1] scale."""
    centre, half = to_unit(x, levels), 1.0 / (levels - 1)
    inv_s = torch.exp(-log_scale.clamp(min=-7.0))
    plus, minus = (centre + half - mean) * inv_s, (centre - half - mean) * inv_s
    upper_tail = minus > 0  # compute sigma(plus) - sigma(minus) as sigma(-minus) - sigma(-plus) there
    log_a = torch.where(upper_tail, F.logsigmoid(-minus), F.logsigmoid(plus))
    log_b = torch.where(upper_tail, F.logsigmoid(-plus), F.logsigmoid(minus))
    interior = log_a + torch.log(-torch.expm1((log_b - log_a).clamp(max=-1e-30)))
    return torch.where(x == 0, F.logsigmoid(plus), torch.where(x == levels - 1, F.logsigmoid(-minus), interior))


class VAE(nn.Module):
    def __init__(self, *, dims: int, levels: int, latent: int, hidden: tuple[int, ...], likelihood: str,
                 obs_std: float = 1.0):
        super().__init__()
        if likelihood not in _OUTPUTS_PER_DIM:
            raise ValueError(f"unknown likelihood {likelihood!r}; valid: {', '.join(_OUTPUTS_PER_DIM)}")
        self.dims, self.levels, self.latent, self.likelihood, self.obs_std = dims, levels, latent, likelihood, obs_std
        self.out_per_dim = _OUTPUTS_PER_DIM[likelihood] or levels
        self.encoder = mlp([dims, *hidden, 2 * latent])
        self.decoder = mlp([latent, *reversed(hidden), dims * self.out_per_dim])

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x (B, D) -> mean, log-variance (B, Z)."""
        inputs = x if self.likelihood == "gaussian" else to_unit(x, self.levels)
        mean, log_var = self.encoder(inputs.to(self.encoder[0].weight.dtype)).chunk(2, dim=-1)
        return mean, log_var

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """z (..., Z) -> decoder outputs (..., D, outputs per dim)."""
        return self.decoder(z).unflatten(-1, (self.dims, self.out_per_dim))

    def log_likelihood(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """log p(x|z): x (B, D), z (S, B, Z) -> (S, B)."""
        out = self.decode(z)
        xs = x.expand(*z.shape[:-1], self.dims)
        if self.likelihood == "bernoulli":
            logit = out[..., 0]
            return -F.binary_cross_entropy_with_logits(logit, xs.float(), reduction="none").sum(-1)
        if self.likelihood == "categorical":
            return torch.log_softmax(out, -1).gather(-1, xs.long().unsqueeze(-1))[..., 0].sum(-1)
        if self.likelihood == "dlogistic":
            return discretised_logistic_log_prob(xs, out[..., 0], out[..., 1], self.levels).sum(-1)
        log_var = torch.full_like(out[..., 0], 2 * math.log(self.obs_std))
        return gaussian_log_prob(xs.to(out.dtype), out[..., 0], log_var)

    def elbo(self, x: torch.Tensor, samples: int = 1, generator: torch.Generator | None = None) -> torch.Tensor:
        """(B,) ELBO: E_q log p(x|z) by ``samples`` reparameterised draws, minus the analytic KL."""
        mean, log_var = self.encode(x)
        eps = torch.randn(samples, *mean.shape, generator=generator, device=mean.device, dtype=mean.dtype)
        z = mean + (0.5 * log_var).exp() * eps
        kl = 0.5 * (mean ** 2 + log_var.exp() - 1 - log_var).sum(-1)
        return self.log_likelihood(x, z).mean(0) - kl

    @torch.no_grad()
    def iwae_bound(self, x: torch.Tensor, k: int, generator: torch.Generator | None = None,
                   chunk: int = 1024) -> torch.Tensor:
        """(B,) L_k with k importance samples from q, in chunks of ``chunk`` samples."""
        mean, log_var = self.encode(x)
        std = (0.5 * log_var).exp()
        total = torch.full((len(x),), -math.inf, dtype=mean.dtype, device=x.device)
        for start in range(0, k, chunk):
            eps = torch.randn(min(chunk, k - start), *mean.shape, generator=generator, device=mean.device,
                              dtype=mean.dtype)
            z = mean + std * eps
            log_w = (self.log_likelihood(x, z) - 0.5 * (LOG_2PI + z ** 2).sum(-1)
                     - gaussian_log_prob(z, mean, log_var))
            total = torch.logaddexp(total, torch.logsumexp(log_w, dim=0))
        return total - math.log(k)

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """(n, D) levels drawn from p(x|z), z ~ N(0, I)."""
        z = torch.randn(n, self.latent, generator=generator, device=self.decoder[0].weight.device)
        out = self.decode(z)
        if self.likelihood == "bernoulli":
            return torch.bernoulli(torch.sigmoid(out[..., 0]), generator=generator).long()
        if self.likelihood == "categorical":
            probs = torch.softmax(out.double(), -1).flatten(0, 1)
            return torch.multinomial(probs, 1, generator=generator).view(n, self.dims)
        if self.likelihood == "dlogistic":
            u = torch.rand(out.shape[:-1], generator=generator, device=out.device).clamp(1e-6, 1 - 1e-6)
            y = out[..., 0] + out[..., 1].clamp(min=-7).exp() * (u.log() - (-u).log1p())
            return ((y + 1) * (self.levels - 1) / 2).round().clamp(0, self.levels - 1).long()
        return out[..., 0] + self.obs_std * torch.randn(out.shape[:-1], generator=generator, device=out.device)


@dataclass(frozen=True)
class VAEParams:
    likelihood: str          # "auto" (bernoulli for K=2, else categorical) | "dlogistic"
    latent: int
    hidden: tuple[int, ...]
    iwae_k: int              # importance samples of the reported bound -L_k
    schedule: TrainSchedule


VAE_PARAMS = {
    ("vae", "smoke"): VAEParams("auto", 4, (64,), 50, TrainSchedule(3, 64, 2e-3)),
    ("vae", "quick"): VAEParams("auto", 16, (256, 256), 500, TrainSchedule(100, 64, 1e-3)),
    ("vae", "paper"): VAEParams("auto", 50, (500, 500), 5000, TrainSchedule(500, 100, 1e-3)),
    ("vae", "quick-large"): VAEParams("auto", 16, (64,), 10, TrainSchedule(3, 64, 1e-3)),
    ("vae-dlogistic", "smoke"): VAEParams("dlogistic", 4, (64,), 50, TrainSchedule(3, 64, 2e-3)),
    ("vae-dlogistic", "quick"): VAEParams("dlogistic", 16, (256, 256), 500, TrainSchedule(100, 64, 1e-3)),
    ("vae-dlogistic", "paper"): VAEParams("dlogistic", 50, (500, 500), 5000, TrainSchedule(500, 100, 1e-3)),
    ("vae-dlogistic", "quick-large"): VAEParams("dlogistic", 16, (256, 256), 100, TrainSchedule(20, 64, 1e-3)),
}


class VAEDensity:
    """Density-model wrapper: ``nll`` is -L_k (k = ``iwae_k``); ``bounds`` adds the -ELBO."""

    elbo_samples = 10
    eval_floats = 2 ** 23  # decoder outputs held at once while computing L_k

    def __init__(self, params: VAEParams, *, seed: int = 0, device: str = "cpu"):
        self.params, self.seed, self.device = params, seed, device

    def fit(self, train: np.ndarray, levels: int) -> "VAEDensity":
        torch.manual_seed(self.seed)
        p = self.params
        likelihood = ("bernoulli" if levels == 2 else "categorical") if p.likelihood == "auto" else p.likelihood
        self.levels_, self.shape_ = levels, train.shape[1:]
        self.net_ = VAE(dims=int(np.prod(self.shape_)), levels=levels, latent=p.latent, hidden=p.hidden,
                        likelihood=likelihood).to(self.device)
        self.history_ = train_with_holdout(self.net_, lambda b: -self.net_.elbo(b).mean(),
                                           as_tensor(train).flatten(1), p.schedule, self.seed, self.device)
        return self

    def _batches(self, x: np.ndarray, batch: int):
        return [b.to(self.device) for b in as_tensor(x).flatten(1).split(batch)]

    def _generator(self, offset: int) -> torch.Generator:
        return torch.Generator(device=self.device).manual_seed(self.seed * 1000 + offset)

    @torch.no_grad()
    def iwae_nll(self, x: np.ndarray, k: int) -> np.ndarray:
        per_sample = self.net_.dims * self.net_.out_per_dim  # decoder outputs per (sample, image)
        batch = max(1, min(64, self.eval_floats // (per_sample * min(k, 256))))
        chunk = max(1, self.eval_floats // (per_sample * batch))
        gen = self._generator(1)
        return -torch.cat([self.net_.iwae_bound(b, k, gen, chunk).cpu()
                           for b in self._batches(x, batch)]).double().numpy()

    @torch.no_grad()
    def elbo_nll(self, x: np.ndarray) -> np.ndarray:
        gen = self._generator(2)
        return -torch.cat([self.net_.elbo(b, self.elbo_samples, gen).cpu()
                           for b in self._batches(x, 256)]).double().numpy()

    def nll(self, x: np.ndarray) -> NLL:
        return NLL(self.iwae_nll(x, self.params.iwae_k), f"-iwae-k={self.params.iwae_k}")

    def bounds(self, x: np.ndarray) -> dict[str, np.ndarray]:
        """Extra rows for the table: the -ELBO (estimated with ``elbo_samples`` draws)."""
        return {"-elbo": self.elbo_nll(x)}

    @property
    def latent_size_(self) -> int:
        return self.net_.latent

    @torch.no_grad()
    def encode_latent(self, x: np.ndarray) -> np.ndarray:
        """(n, Z) encoder means of images (n, C, H, W)."""
        return self.net_.encode(as_tensor(x).flatten(1).to(self.device))[0].cpu().numpy()

    @torch.no_grad()
    def decode_latent(self, codes: np.ndarray) -> np.ndarray:
        """The decoder's most likely levels (n, C, H, W) at latent codes (n, Z)."""
        out = self.net_.decode(torch.as_tensor(codes, dtype=torch.float32, device=self.device))
        if self.net_.likelihood == "bernoulli":
            levels = (out[..., 0] > 0).long()
        elif self.net_.likelihood == "categorical":
            levels = out.argmax(-1)
        else:
            levels = ((out[..., 0] + 1) * (self.levels_ - 1) / 2).round().clamp(0, self.levels_ - 1).long()
        return levels.view(len(codes), *self.shape_).cpu().numpy().astype(np.uint8)

    def reconstruct(self, x: np.ndarray) -> np.ndarray:
        """Decoder's most likely levels at the encoder mean (for the reconstruction figure)."""
        return self.decode_latent(self.encode_latent(x))

    def sample(self, n: int, seed: int) -> np.ndarray:
        gen = torch.Generator(device=self.device).manual_seed(seed)
        return self.net_.sample(n, gen).view(n, *self.shape_).cpu().numpy().astype(np.uint8)

    def costs(self) -> dict:
        return {"params": n_params(self.net_)}
