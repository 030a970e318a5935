"""Registry of the deep generative models: name -> MethodSpec (the classical ones are in
``baselines.generative.density.DENSITY_BASELINES``)."""
from __future__ import annotations

from benchmark.methods import MethodContext, MethodSpec
from benchmark.common.settings import settings_for

_COMMON = ("deep/generative/common.py",)


# the model modules import torch: each build imports its own, so that listing the methods does not
def _pixelcnn(name: str, description: str) -> MethodSpec:
    def build(ctx: MethodContext):
        from deep.generative.pixelcnn import PIXELCNN, PixelCNNDensity

        return PixelCNNDensity(settings_for(PIXELCNN, ctx.profile, name), seed=ctx.seed, device=ctx.device)

    return MethodSpec(
        name=name, family="deep", modality="density", description=description, build=build,
        code_files=("deep/generative/pixelcnn.py", *_COMMON))


def _pixelrnn(name: str, description: str) -> MethodSpec:
    def build(ctx: MethodContext):
        from deep.generative.pixelrnn import PIXELRNN, PixelRNNDensity

        return PixelRNNDensity(settings_for(PIXELRNN, ctx.profile, name), seed=ctx.seed, device=ctx.device)

    return MethodSpec(
        name=name, family="deep", modality="density", description=description, build=build,
        code_files=("deep/generative/pixelrnn.py", "deep/generative/pixelcnn.py", *_COMMON))


def _vae(name: str, description: str) -> MethodSpec:
    def build(ctx: MethodContext):
        from deep.generative.vae import VAE_PARAMS, VAEDensity

        return VAEDensity(settings_for(VAE_PARAMS, ctx.profile, name), seed=ctx.seed, device=ctx.device)

    return MethodSpec(
        name=name, family="deep", modality="density", description=description, build=build,
        code_files=("deep/generative/vae.py", *_COMMON), variants=("", "elbo"))


def _gan(name: str, description: str) -> MethodSpec:
    def build(ctx: MethodContext):
        from deep.generative.gan import PARAMS_BY_LOSS, GANSampler

        return GANSampler(settings_for(PARAMS_BY_LOSS[name], ctx.profile), seed=ctx.seed, device=ctx.device)

    return MethodSpec(name=name, family="deep", modality="sampler", description=description, build=build,
                      code_files=("deep/generative/gan.py", *_COMMON))


DENSITY_MODELS: dict[str, MethodSpec] = {
    "pixelcnn": _pixelcnn("pixelcnn", "PixelCNN, masked convs type A then B (exact NLL; has a blind spot)"),
    "gated-pixelcnn": _pixelcnn("gated-pixelcnn", "gated PixelCNN, vertical + horizontal stacks (exact NLL)"),
    "pixelrnn-row-lstm": _pixelrnn("pixelrnn-row-lstm", "PixelRNN, Row LSTM layers (exact NLL; triangular context)"),
    "pixelrnn-diagonal-bilstm": _pixelrnn("pixelrnn-diagonal-bilstm",
                                          "PixelRNN, Diagonal BiLSTM layers (exact NLL; whole context)"),
    "vae": _vae("vae", "VAE, Gaussian encoder, categorical / Bernoulli decoder (-L_k and -ELBO)"),
    "vae-dlogistic": _vae("vae-dlogistic", "VAE with a discretised-logistic decoder (-L_k and -ELBO)"),
    "gan": _gan("gan", "DCGAN, non-saturating loss (no likelihood: nearest-neighbour checks and MMD²)"),
    "wgan-gp": _gan("wgan-gp", "DCGAN networks, Wasserstein loss with gradient penalty (no likelihood)"),
    "lsgan": _gan("lsgan", "DCGAN networks, least squares loss (no likelihood)"),
}
