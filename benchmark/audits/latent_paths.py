"""Walks through a generator's latent space: interpolation paths, their memorisation figures, latent arithmetic.

DCGAN (Radford et al. 2016) and VAE papers show latent interpolations as evidence that a generator does not
memorise: a memorising generator can only hop from one stored training image to the next, while one that
generalises passes through new images between them. Here that picture gets a number, measured per model:

- ``n_paths`` paths between pairs of prior draws (spherical interpolation, White 2016, so every point on a
  path has the norm a N(0, I) draw has), ``steps`` points each, decoded to images;
- each path point's nearest-training distance (pixel space, levels scaled to [0, 1]); per path, the mean
  over its points;
- ``latent_path_novelty``: the median path mean divided by the median nearest-training distance of the
  held-out test images. About 1 for a generator whose images are as new as held-out images, 0 for one
  that only emits training images, wherever its paths go;
- ``latent_path_mw_z``: Mann-Whitney z of the path means against the test images' distances (z << 0: the
  paths stay closer to the training set than held-out images are);
- ``latent_path_jump``: per path, the largest step between consecutive images over the path's length
  (the sum of its steps), averaged over paths: 1 / (steps - 1) for a path that changes evenly, 1 for
  one that jumps once between two images and stays put otherwise.

The known answer: ``LookupGenerator`` maps a latent code to the image of its nearest anchor code, one
anchor per image it holds. Holding training images it memorises by construction (novelty 0); holding
held-out images it does not (novelty about 1). The planted-copies audit uses it as one more detector
(``benchmark.audits.planted_copies``), so its detection rate is measured at known fractions of copies.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np

from benchmark.audits.memorisation import as_points, mann_whitney_z, nearest_neighbours, save_image_rows

Decoder = Callable[[np.ndarray], np.ndarray]   # (n, latent) float codes -> (n, C, H, W) uint8 levels


def slerp(a: np.ndarray, b: np.ndarray, steps: int) -> np.ndarray:
    """(n, steps, latent): spherical interpolation from each row of a to the same row of b, ends included."""
    t = np.linspace(0.0, 1.0, steps)[None, :, None]
    cos = np.sum(a * b, 1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
    omega = np.arccos(np.clip(cos, -1.0, 1.0))[:, None, None]
    sin = np.sin(omega)
    linear = (1 - t) * a[:, None] + t * b[:, None]
    spherical = (np.sin((1 - t) * omega) * a[:, None] + np.sin(t * omega) * b[:, None]) / np.where(sin == 0, 1, sin)
    return np.where(sin < 1e-6, linear, spherical)


def prior_paths(latent: int, n_paths: int, steps: int, seed: int) -> np.ndarray:
    """(n_paths, steps, latent) codes between seeded pairs of N(0, I) draws."""
    rng = np.random.default_rng([seed, 17])
    return slerp(rng.standard_normal((n_paths, latent)), rng.standard_normal((n_paths, latent)), steps)


def decode_paths(decode: Decoder, codes: np.ndarray) -> np.ndarray:
    """(n_paths, steps, C, H, W) images of (n_paths, steps, latent) codes."""
    images = decode(codes.reshape(-1, codes.shape[-1]).astype(np.float32))
    return images.reshape(*codes.shape[:2], *images.shape[1:])


def path_metrics(paths: np.ndarray, train: np.ndarray, test: np.ndarray, levels: int, *,
                 device: str = "cpu") -> dict:
    """The three path figures of the module docstring for decoded paths (n_paths, steps, C, H, W)."""
    n_paths, steps = paths.shape[:2]
    points = as_points(paths.reshape(n_paths * steps, *paths.shape[2:]), levels)
    train_pts = as_points(train, levels)
    path_d = nearest_neighbours(points, train_pts, 1, device=device)[0][:, 0].reshape(n_paths, steps)
    test_d = nearest_neighbours(as_points(test, levels), train_pts, 1, device=device)[0][:, 0]
    means = path_d.mean(1)
    step_sizes = np.linalg.norm(np.diff(points.reshape(n_paths, steps, -1), axis=1), axis=2)   # (paths, steps-1)
    length = step_sizes.sum(1)
    moving = length > 0
    return {
        "latent_paths": n_paths, "latent_path_steps": steps,
        "latent_path_novelty": float(np.median(means) / np.median(test_d)) if np.median(test_d) > 0 else None,
        "latent_path_mw_z": mann_whitney_z(means, test_d),
        "latent_path_jump": float(np.mean(step_sizes[moving].max(1) / length[moving])) if moving.any() else None,
    }


class LookupGenerator:
    """A latent "generator" with a known answer: the image of the nearest of its anchor codes (one anchor,
    drawn from N(0, I), per image it holds)."""

    def __init__(self, images: np.ndarray, latent: int, seed: int):
        self.images = images
        self.anchors = np.random.default_rng([seed, 19]).standard_normal((len(images), latent)).astype(np.float32)

    def indices(self, codes: np.ndarray) -> np.ndarray:
        """Index of the image each code (..., latent) decodes to, shaped like the codes' leading axes."""
        flat = codes.reshape(-1, codes.shape[-1])
        return nearest_neighbours(flat, self.anchors, 1)[1][:, 0].reshape(codes.shape[:-1])

    def __call__(self, codes: np.ndarray) -> np.ndarray:
        return self.images[self.indices(codes)]


LOOKUP_LATENT = 8       # the planted-copies detector's lookup generator: latent size,
LOOKUP_STEPS = 10       # points per path,
LOOKUP_SAMPLES_PER_PATH = 5   # and one path per this many samples it holds


def lookup_path_test(gen_dist: np.ndarray, ref_dist: np.ndarray, n_permutations: int = 199,
                     seed: int = 0) -> tuple[float, float]:
    """(novelty, p): lookup generators over the samples and over the reference images (nearest-training
    distances ``gen_dist``, ``ref_dist``; the same anchors and paths); novelty is the samples' mean path
    distance over the reference's, p the one-sided permutation p-value of "the samples' paths sit nearer the
    training set". Paths share anchors, so path means are not independent; swapping images between the two
    sets keeps that dependence under the null, which a rank test over paths would not."""
    n = min(len(gen_dist), len(ref_dist))
    lookup = LookupGenerator(np.arange(n), LOOKUP_LATENT, seed)
    codes = prior_paths(LOOKUP_LATENT, max(2, n // LOOKUP_SAMPLES_PER_PATH), LOOKUP_STEPS, seed)
    visits = np.bincount(lookup.indices(codes.astype(np.float32)).ravel(), minlength=n) / codes[..., 0].size
    pooled = np.concatenate([gen_dist[:n], ref_dist[:n]])
    observed_gen, observed_ref = visits @ pooled[:n], visits @ pooled[n:]
    rng = np.random.default_rng([seed, 29])
    diffs = [visits @ (perm := pooled[rng.permutation(2 * n)])[:n] - visits @ perm[n:] for _ in range(n_permutations)]
    p = (1 + sum(d <= observed_gen - observed_ref for d in diffs)) / (n_permutations + 1)
    return (float(observed_gen / observed_ref) if observed_ref > 0 else float("nan")), float(p)


def save_path_grid(path: str | Path, paths: np.ndarray, levels: int, n_rows: int = 8) -> str:
    """One line per path: its decoded images from one end to the other."""
    return save_image_rows(path, list(paths[:n_rows]), levels)


def arithmetic_codes(latent: int, n: int, seed: int, encode: Callable[[np.ndarray], np.ndarray] | None = None,
                     images: np.ndarray | None = None) -> np.ndarray:
    """(n, 4, latent): a, b, c and a - b + c. With ``encode``, a, b, c are the codes of ``images`` (n*3 of
    them, e.g. test images through a VAE's encoder mean); without, prior draws (a GAN has no encoder)."""
    if encode is not None:
        abc = encode(images[: 3 * n]).reshape(n, 3, latent)
    else:
        abc = np.random.default_rng([seed, 23]).standard_normal((n, 3, latent)).astype(np.float32)
    return np.concatenate([abc, (abc[:, 0] - abc[:, 1] + abc[:, 2])[:, None]], axis=1)


def save_arithmetic_grid(path: str | Path, decode: Decoder, codes: np.ndarray, levels: int) -> str:
    """One line per example: decoded a, b, c, then a - b + c."""
    return save_image_rows(path, list(decode_paths(decode, codes)), levels)
