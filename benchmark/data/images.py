"""Image datasets for the generative suite: discrete levels 0..K-1, fixed seeded splits.

Embedded default: scikit-learn's bundled 8x8 digits (1,797 real images, 17 grey levels 0..16).
From a path: a folder of IDX files (MNIST, Fashion-MNIST; Debian's ``dataset-fashion-mnist``
installs the latter under /usr/share/datasets/fashion-mnist) or of CIFAR-10 python batches.

A ``:binary`` suffix on any name or path thresholds every split at half the range (static
binarisation); ``:dynbinary`` draws Bernoulli(level / (K-1)) pixels instead: the training split
holds ``resamples`` independent draws of each training image stacked (a fixed, seeded stand-in
for resampling every epoch) and valid / test hold one seeded draw each, as in the stochastically
binarised MNIST literature. ``ImageData.binarised`` records which was done.
"""
from __future__ import annotations

import gzip
import pickle
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from benchmark.common.settings import SETTINGS_FALLBACK, settings_for

FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist"


@dataclass(frozen=True)
class ImageData:
    train: np.ndarray        # uint8 (N, C, H, W), levels 0..levels-1
    valid: np.ndarray
    test: np.ndarray
    levels: int
    name: str
    binarised: str | None    # None, "static-threshold" or "dynamic-bernoulli(resamples=R)"

    @property
    def dims(self) -> int:
        """D: values per image (C * H * W), the denominator of bits/dim."""
        return int(np.prod(self.train.shape[1:]))


@dataclass(frozen=True)
class SplitSizes:
    """Caps per split (None: everything). ``valid`` is carved out of the source's training part."""

    train: int | None
    valid: int
    test: int | None
    dyn_resamples: int = 4


# digits have no official split: test 20 %, valid 10 % of a seeded permutation; caps apply after
DIGITS_SIZES = {
    "smoke": SplitSizes(train=300, valid=100, test=100, dyn_resamples=2),
    "quick": SplitSizes(train=None, valid=180, test=None, dyn_resamples=4),
    "paper": SplitSizes(train=None, valid=180, test=None, dyn_resamples=8),
}
# MNIST-style and CIFAR sources: valid is carved from the official training part
FILE_SIZES = {
    "smoke": SplitSizes(train=500, valid=100, test=200, dyn_resamples=2),
    "quick": SplitSizes(train=4_000, valid=1_000, test=1_000, dyn_resamples=2),
    "paper": SplitSizes(train=None, valid=10_000, test=None, dyn_resamples=10),
}


@dataclass(frozen=True)
class ImageSource:
    kind: str                 # "digits" | "idx" | "cifar10"
    path: str | None          # default folder for file sources
    binarise: str | None      # None | "binary" | "dynbinary"
    description: str


IMAGE_DATASETS: dict[str, ImageSource] = {
    "digits": ImageSource("digits", None, None, "scikit-learn 8x8 digits, 17 grey levels"),
    "digits-binary": ImageSource("digits", None, "binary", "digits thresholded at level 8.5 (static)"),
    "digits-dynbinary": ImageSource("digits", None, "dynbinary", "digits, Bernoulli-resampled binarisation"),
    "fashion-mnist": ImageSource("idx", FASHION_MNIST_DIR, None, "Fashion-MNIST 28x28, 256 levels (Debian path)"),
    "fashion-mnist-binary": ImageSource("idx", FASHION_MNIST_DIR, "binary", "Fashion-MNIST thresholded at 128"),
}

_IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: str | Path) -> np.ndarray:
    """One IDX file (optionally gzipped) as an array of its stored shape and dtype."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as handle:
        raw = handle.read()
    zero, dtype_code, ndim = struct.unpack(">HBB", raw[:4])
    if zero != 0 or dtype_code not in _IDX_DTYPES:
        raise ValueError(f"{path}: not an IDX file (magic {raw[:4].hex()})")
    shape = struct.unpack(f">{ndim}I", raw[4:4 + 4 * ndim])
    dtype = np.dtype(_IDX_DTYPES[dtype_code])
    count = int(np.prod(shape))
    data = np.frombuffer(raw, dtype=dtype, count=count, offset=4 + 4 * ndim)
    return data.reshape(shape).astype(dtype.newbyteorder("="))


def _find_idx(folder: Path, prefix: str) -> Path:
    hits = sorted(p for p in folder.iterdir() if p.name.startswith(prefix) and "idx3" in p.name)
    if not hits:
        raise FileNotFoundError(f"no {prefix}*idx3-ubyte[.gz] file in {folder}")
    return hits[0]


def read_idx_folder(folder: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """(train, test) uint8 (N, 1, H, W) images from an MNIST-layout folder (train-* and t10k-*)."""
    folder = Path(folder)
    parts = []
    for prefix in ("train-images", "t10k-images"):
        images = read_idx(_find_idx(folder, prefix))
        if images.dtype != np.uint8 or images.ndim != 3:
            raise ValueError(f"{folder}/{prefix}: expected uint8 (N, H, W), got {images.dtype} {images.shape}")
        parts.append(images[:, None])
    return parts[0], parts[1]


def read_cifar10_folder(folder: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """(train, test) uint8 (N, 3, 32, 32) from a ``cifar-10-batches-py`` folder."""
    folder = Path(folder)

    def batch(name: str) -> np.ndarray:
        with open(folder / name, "rb") as handle:
            content = pickle.load(handle, encoding="bytes")
        return np.asarray(content[b"data"], dtype=np.uint8).reshape(-1, 3, 32, 32)

    train_files = sorted(p.name for p in folder.glob("data_batch_*"))
    if not train_files or not (folder / "test_batch").exists():
        raise FileNotFoundError(f"{folder}: expected data_batch_1..5 and test_batch (CIFAR-10 python)")
    return np.concatenate([batch(n) for n in train_files]), batch("test_batch")


def _digits() -> np.ndarray:
    from sklearn.datasets import load_digits

    return load_digits().images.astype(np.uint8)[:, None]  # (1797, 1, 8, 8), levels 0..16


def _cap(x: np.ndarray, n: int | None) -> np.ndarray:
    return x if n is None else x[:n]


def _split(source: ImageSource, path: str | None, profile: str, seed: int):
    rng = np.random.default_rng(seed)
    if source.kind == "digits":
        images, levels, sizes = _digits(), 17, settings_for(DIGITS_SIZES, profile)
        order = rng.permutation(len(images))
        n_test, n_valid = round(0.2 * len(images)), round(0.1 * len(images))
        test = images[order[:n_test]]
        valid = images[order[n_test:n_test + n_valid]]
        train = images[order[n_test + n_valid:]]
        return _cap(train, sizes.train), valid[:sizes.valid], _cap(test, sizes.test), levels, sizes
    sizes = settings_for(FILE_SIZES, profile)
    if source.kind == "idx":
        train_all, test_all = read_idx_folder(path)
    else:
        train_all, test_all = read_cifar10_folder(path)
    order = rng.permutation(len(train_all))
    valid = train_all[order[:sizes.valid]]
    train = train_all[order[sizes.valid:]]
    test = test_all[rng.permutation(len(test_all))]
    return _cap(train, sizes.train), valid, _cap(test, sizes.test), 256, sizes


def _parse(name_or_path: str) -> tuple[ImageSource, str | None, str]:
    base, _, suffix = name_or_path.partition(":")
    if suffix not in ("", "binary", "dynbinary"):
        raise ValueError(f"unknown suffix {suffix!r} in {name_or_path!r}; use :binary or :dynbinary")
    if base in IMAGE_DATASETS:
        source = IMAGE_DATASETS[base]
        if suffix:
            source = ImageSource(source.kind, source.path, suffix, source.description)
        return source, source.path, base
    folder = Path(base)
    if not folder.is_dir():
        valid = ", ".join(sorted(IMAGE_DATASETS))
        raise KeyError(f"unknown image dataset {name_or_path!r}: not a folder and not one of {valid}")
    kind = "cifar10" if (folder / "test_batch").exists() else "idx"
    return ImageSource(kind, str(folder), suffix or None, f"{kind} files in {folder}"), str(folder), folder.name


def load_image_dataset(name_or_path: str, profile: str, seed: int) -> ImageData:
    """A registry name (``IMAGE_DATASETS``) or a folder, with optional ``:binary`` / ``:dynbinary``."""
    if profile not in DIGITS_SIZES and SETTINGS_FALLBACK.get(profile) not in DIGITS_SIZES:
        valid = [*DIGITS_SIZES, *SETTINGS_FALLBACK]
        raise ValueError(f"unknown profile {profile!r}; valid: {', '.join(valid)}")
    source, path, name = _parse(name_or_path)
    if source.kind != "digits" and not (path and Path(path).is_dir()):
        raise FileNotFoundError(f"image dataset {name_or_path!r}: folder {path} is absent")
    train, valid, test, levels, sizes = _split(source, path, profile, seed)
    if source.binarise is None:
        return ImageData(train, valid, test, levels, name, None)
    if source.binarise == "binary":
        cut = levels / 2  # level >= K/2 is "on": 9..16 for digits, 128..255 for 8-bit images
        return ImageData(*(np.ascontiguousarray(x >= cut).astype(np.uint8) for x in (train, valid, test)),
                         2, f"{name}:binary", "static-threshold")
    rng = np.random.default_rng([seed, 1])

    def draw(x: np.ndarray) -> np.ndarray:
        return (rng.random(x.shape) < x / (levels - 1)).astype(np.uint8)

    train_draws = np.concatenate([draw(train) for _ in range(sizes.dyn_resamples)])
    return ImageData(train_draws, draw(valid), draw(test), 2, f"{name}:dynbinary",
                     f"dynamic-bernoulli(resamples={sizes.dyn_resamples})")
