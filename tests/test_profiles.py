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


def _settings(method) -> dict:
    """What a built method was configured with: its dataclass and plain fields (not the context it was built in)."""
    from dataclasses import is_dataclass

    return {k: v for k, v in vars(method).items()
            if k != "ctx" and (is_dataclass(v) or isinstance(v, (int, float, str, tuple, bool, type(None))))}


def test_the_confirm_profile_trains_every_video_method_as_quick_does():
    """The confirmation design's profile differs from quick only in its test videos: same settings rows."""
    for name, spec in methods_of("video").items():
        confirm, quick, smoke = (_settings(spec.build(MethodContext(profile=p, seed=0, device="cpu", n_classes=10)))
                                 for p in ("confirm", "quick", "smoke"))
        assert confirm and confirm == quick, name
        assert confirm != smoke, name    # the comparison sees a different row
    assert PROFILES["confirm"].real_frames == PROFILES["quick"].real_frames
