"""The quick profile sized per image size: 28x28 images read the "quick-large" settings of every method."""
from __future__ import annotations

from pathlib import Path

import pytest

from benchmark.data.images import FASHION_MNIST_DIR, load_image_dataset
from benchmark.methods import MethodContext
from benchmark.pipeline.generative_suite import SUITE, sized_profile
from benchmark.registry import density_methods


def test_quick_on_large_images_reads_the_large_settings():
    assert sized_profile("quick", 64) == "quick" and sized_profile("quick", 784) == "quick-large"
    assert sized_profile("smoke", 784) == "smoke" and sized_profile("paper", 784) == "paper"
    assert SUITE["quick-large"].n_samples < SUITE["quick"].n_samples


@pytest.mark.parametrize("name", sorted(density_methods()))
def test_every_generative_method_has_quick_large_settings(name):
    ctx = MethodContext(profile="quick-large", seed=0, device="cpu", n_classes=0)
    assert density_methods()[name].build(ctx) is not None


@pytest.mark.skipif(not Path(FASHION_MNIST_DIR).is_dir(), reason="dataset-fashion-mnist is not installed")
def test_fashion_mnist_quick_split_sizes():
    data = load_image_dataset("fashion-mnist", "quick", 0)
    assert (len(data.train), len(data.valid), len(data.test)) == (4000, 1000, 1000)
    assert sized_profile("quick", data.dims) == "quick-large"
