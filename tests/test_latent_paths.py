"""Latent paths: interpolation, and the path figures on generators whose answer is known (a lookup over
training images memorises, one over held-out images does not; a linear decoder changes evenly along a path)."""
from __future__ import annotations

import numpy as np
import pytest
from sklearn.decomposition import PCA

from benchmark.audits import latent_paths as lp
from benchmark.data.images import load_image_dataset


@pytest.fixture(scope="module")
def digits():
    return load_image_dataset("digits", "quick", seed=0)


def test_slerp_ends_at_its_endpoints_and_keeps_the_norm_of_equal_norm_ends():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((4, 6))
    b = rng.standard_normal((4, 6))
    b *= (np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1))[:, None]
    path = lp.slerp(a, b, 7)
    assert np.allclose(path[:, 0], a) and np.allclose(path[:, -1], b)
    assert np.allclose(np.linalg.norm(path, axis=2), np.linalg.norm(a, axis=1)[:, None])
    assert np.allclose(lp.slerp(a, a, 3), a[:, None])   # identical ends: no division by sin(0)


def _metrics(decode, data, latent=16):
    paths = lp.decode_paths(decode, lp.prior_paths(latent, 50, 10, seed=0))
    assert paths.shape == (50, 10, *data.train.shape[1:])
    return lp.path_metrics(paths, data.train, data.test, data.levels)


def test_a_lookup_over_training_images_reads_as_memorising_and_one_over_held_out_images_does_not(digits):
    memoriser = _metrics(lp.LookupGenerator(digits.train, 16, seed=0), digits)
    assert memoriser["latent_path_novelty"] == 0.0 and memoriser["latent_path_mw_z"] < -5
    fresh = _metrics(lp.LookupGenerator(digits.valid, 16, seed=0), digits)
    assert 0.7 < fresh["latent_path_novelty"] < 1.4 and abs(fresh["latent_path_mw_z"]) < 3


def test_a_linear_decoder_changes_evenly_and_a_lookup_jumps(digits):
    flat = digits.train.reshape(len(digits.train), -1).astype(float)
    pca = PCA(16, random_state=0).fit(flat)

    def linear(z):
        x = pca.inverse_transform(z * np.sqrt(pca.explained_variance_))
        return np.clip(np.rint(x), 0, digits.levels - 1).astype(np.uint8).reshape(len(z), *digits.train.shape[1:])

    even = _metrics(linear, digits)["latent_path_jump"]
    jumpy = _metrics(lp.LookupGenerator(digits.valid, 16, seed=0), digits)["latent_path_jump"]
    assert 1 / 9 <= even < 0.25 < 0.35 < jumpy <= 1


def test_arithmetic_codes_are_a_minus_b_plus_c():
    codes = lp.arithmetic_codes(5, 3, seed=0)
    assert codes.shape == (3, 4, 5) and np.allclose(codes[:, 3], codes[:, 0] - codes[:, 1] + codes[:, 2])
    images = np.arange(9 * 4).reshape(9, 1, 2, 2)
    encoded = lp.arithmetic_codes(4, 3, seed=0, encode=lambda x: x.reshape(len(x), -1).astype(float), images=images)
    assert np.array_equal(encoded[1, 0], images[3].ravel())


def test_lookup_path_test_catches_copies_and_holds_its_level_on_exchangeable_sets():
    rng = np.random.default_rng(0)
    ref = rng.gamma(4.0, 0.5, 150)
    novelty, p = lp.lookup_path_test(np.zeros(150), ref)
    assert novelty == 0.0 and p <= 0.01
    half = np.where(np.arange(150) < 38, 0.0, rng.gamma(4.0, 0.5, 150))   # a quarter of the samples are copies
    assert lp.lookup_path_test(half, ref)[1] < 0.05
    false_alarms = [lp.lookup_path_test(rng.gamma(4.0, 0.5, 150), rng.gamma(4.0, 0.5, 150), seed=s)[1] < 0.05
                    for s in range(60)]
    assert np.mean(false_alarms) <= 0.12   # level 0.05: P(>= 8 of 60) < 0.02
