"""Registry of the deep generative models: name -> MethodSpec (the classical ones are in
``baselines.generative.density.DENSITY_BASELINES``)."""
from __future__ import annotations

from benchmark.methods import MethodSpec
from deep.generative.gan import GAN_PARAMS, GANSampler
from deep.generative.pixelcnn import PIXELCNN, PixelCNNDensity
from deep.generative.vae import VAE_PARAMS, VAEDensity

_COMMON = ("deep/generative/common.py",)


def _pixelcnn(name: str, description: str) -> MethodSpec:
    return MethodSpec(
        name=name, family="deep", modality="density", description=description,
        build=lambda ctx: PixelCNNDensity(PIXELCNN[(name, ctx.profile)], seed=ctx.seed, device=ctx.device),
        code_files=("deep/generative/pixelcnn.py", *_COMMON))


def _vae(name: str, description: str) -> MethodSpec:
    return MethodSpec(
        name=name, family="deep", modality="density", description=description,
        build=lambda ctx: VAEDensity(VAE_PARAMS[(name, ctx.profile)], seed=ctx.seed, device=ctx.device),
        code_files=("deep/generative/vae.py", *_COMMON), variants=("", "elbo"))


DENSITY_MODELS: dict[str, MethodSpec] = {
    "pixelcnn": _pixelcnn("pixelcnn", "PixelCNN, masked convs type A then B (exact NLL; has a blind spot)"),
    "gated-pixelcnn": _pixelcnn("gated-pixelcnn", "gated PixelCNN, vertical + horizontal stacks (exact NLL)"),
    "vae": _vae("vae", "VAE, Gaussian encoder, categorical / Bernoulli decoder (-L_k and -ELBO)"),
    "vae-dlogistic": _vae("vae-dlogistic", "VAE with a discretised-logistic decoder (-L_k and -ELBO)"),
    "gan": MethodSpec(
        name="gan", family="deep", modality="sampler",
        description="DCGAN, non-saturating loss (no likelihood; nearest-neighbour checks only)",
        build=lambda ctx: GANSampler(GAN_PARAMS[ctx.profile], seed=ctx.seed, device=ctx.device),
        code_files=("deep/generative/gan.py", *_COMMON)),
}
