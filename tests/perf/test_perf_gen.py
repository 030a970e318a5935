"""Speed of the generative suite's hot paths (pytest-benchmark; run with ``pytest -m perf tests/perf``).

Images/s figures are stored in ``extra_info``. The k-NN benchmark runs a 1/25-scale version of
10k x 60k at 784 dims by default (2k x 12k); set GEN_PERF_FULL=1 for the full size.
"""
from __future__ import annotations

import os

import numpy as np
import pytest
import torch

from benchmark.audits.memorisation import nearest_neighbours
from deep.generative.pixelcnn import PIXELCNN, PixelCNNDensity, sample_images
from deep.generative.vae import VAE, VAE_PARAMS, VAEDensity

pytestmark = pytest.mark.perf
LEVELS = 17


def _digits_like(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, LEVELS, (n, 1, 8, 8), dtype=np.uint8)


def _pixelcnn(name: str) -> PixelCNNDensity:
    model = PixelCNNDensity(PIXELCNN[(name, "quick")], seed=0)
    model.levels_, model.shape_ = LEVELS, (1, 8, 8)
    model.net_ = model._build(1, LEVELS).eval()  # untrained: speed does not depend on the weights
    return model


@pytest.mark.parametrize("name", ["pixelcnn", "gated-pixelcnn"])
def test_pixelcnn_exact_nll_throughput(benchmark, name):
    model, x = _pixelcnn(name), _digits_like(2000)
    result = benchmark(model.nll, x)
    assert result.nats.shape == (2000,)
    benchmark.extra_info["images_per_s"] = 2000 / benchmark.stats.stats.mean


@pytest.mark.parametrize("name", ["pixelcnn", "gated-pixelcnn"])
@pytest.mark.parametrize("cached", [True, False])
def test_pixelcnn_sampling_throughput(benchmark, name, cached):
    net = _pixelcnn(name).net_
    n = 200
    out = benchmark.pedantic(sample_images, args=(net, n, (1, 8, 8), 0, "cpu", cached), rounds=2, iterations=1)
    assert out.shape == (n, 1, 8, 8)
    benchmark.extra_info["images_per_s"] = n / benchmark.stats.stats.mean


def test_iwae_k5000(benchmark):
    model = VAEDensity(VAE_PARAMS[("vae", "quick")], seed=0)
    x = _digits_like(100)
    model.levels_, model.shape_ = LEVELS, (1, 8, 8)
    model.net_ = VAE(dims=64, levels=LEVELS, latent=16, hidden=(256, 256), likelihood="categorical").eval()
    nats = benchmark.pedantic(model.iwae_nll, args=(x, 5000), rounds=1, iterations=1)
    assert np.isfinite(nats).all()
    benchmark.extra_info["images_per_s"] = 100 / benchmark.stats.stats.mean
    benchmark.extra_info["importance_samples_per_s"] = 100 * 5000 / benchmark.stats.stats.mean


def test_exact_knn_784_dims(benchmark):
    full = os.environ.get("GEN_PERF_FULL") == "1"
    n_query, n_ref = (10_000, 60_000) if full else (2_000, 12_000)
    rng = np.random.default_rng(0)
    refs = rng.random((n_ref, 784), dtype=np.float32)
    queries = rng.random((n_query, 784), dtype=np.float32)
    dist, idx = benchmark.pedantic(nearest_neighbours, args=(queries, refs, 2), rounds=1, iterations=1)
    assert dist.shape == (n_query, 2) and np.all(dist[:, 0] <= dist[:, 1])
    check = slice(0, 20)  # spot-check exactness against a brute-force float64 computation
    brute = np.sqrt(((queries[check, None, :].astype(np.float64) - refs[None]) ** 2).sum(-1))
    np.testing.assert_allclose(dist[check], np.sort(brute, 1)[:, :2], rtol=1e-9)
    benchmark.extra_info.update(n_query=n_query, n_ref=n_ref, threads=torch.get_num_threads(),
                                queries_per_s=n_query / benchmark.stats.stats.mean)
