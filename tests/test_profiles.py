"""Every profile `bench run` accepts resolves for every registered method and for the data it loads.

A profile that one settings table lacks (the "ci" profile once failed every generative job this way)
must fail here, in seconds, rather than in CI's runs."""
from __future__ import annotations

import pytest

from benchmark.methods import MethodContext
from benchmark.pipeline.config import PROFILES
from benchmark.registry import methods_of


@pytest.mark.parametrize("profile", sorted(PROFILES))
@pytest.mark.parametrize("suite", ["video", "generative"])
def test_every_method_builds_in_every_profile(suite, profile):
    ctx = MethodContext(profile=profile, seed=0, device="cpu", n_classes=10)
    for name, spec in methods_of(suite).items():
        assert spec.build(ctx) is not None, name


@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_the_generative_data_loads_in_every_profile(profile):
    from benchmark.data.images import load_image_dataset

    data = load_image_dataset("digits", profile, seed=0)
    assert len(data.train) > 0 and len(data.test) > 0


def test_an_unknown_profile_names_the_valid_ones():
    from benchmark.data.images import load_image_dataset

    with pytest.raises(ValueError, match="valid: .*ci"):
        load_image_dataset("digits", "nonsense", seed=0)
