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
    # class labels (int64, one per image) where the source has them; the density models never read them
    train_labels: np.ndarray | None = None
    valid_labels: np.ndarray | None = None
    test_labels: np.ndarray | None = None

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


def _find_idx(folder: Path, prefix: str, kind: str = "idx3") -> Path | None:
    hits = sorted(p for p in folder.iterdir() if p.name.startswith(prefix) and kind in p.name)
    return hits[0] if hits else None


def read_idx_folder(folder: str | Path) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None]:
    """(train, test, train labels, test labels) from an MNIST-layout folder (train-* and t10k-*):
    uint8 (N, 1, H, W) images; int64 labels, or None when the folder has no label files."""
    folder = Path(folder)
    images, labels = [], []
    for part in ("train", "t10k"):
        found = _find_idx(folder, f"{part}-images")
        if found is None:
            raise FileNotFoundError(f"no {part}-images*idx3-ubyte[.gz] file in {folder}")
        x = read_idx(found)
        if x.dtype != np.uint8 or x.ndim != 3:
            raise ValueError(f"{found}: expected uint8 (N, H, W), got {x.dtype} {x.shape}")
        images.append(x[:, None])
        label_file = _find_idx(folder, f"{part}-labels", "idx1")
        y = read_idx(label_file).astype(np.int64) if label_file else None
        if y is not None and len(y) != len(x):
            raise ValueError(f"{label_file}: {len(y)} labels for {len(x)} images")
        labels.append(y)
    if labels[0] is None or labels[1] is None:
        labels = [None, None]
    return images[0], images[1], labels[0], labels[1]


def read_cifar10_folder(folder: str | Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(train, test, train labels, test labels): uint8 (N, 3, 32, 32) and int64, from a
    ``cifar-10-batches-py`` folder."""
    folder = Path(folder)

    def batch(name: str) -> tuple[np.ndarray, np.ndarray]:
        with open(folder / name, "rb") as handle:
            content = pickle.load(handle, encoding="bytes")
        return (np.asarray(content[b"data"], dtype=np.uint8).reshape(-1, 3, 32, 32),
                np.asarray(content[b"labels"], dtype=np.int64))

    train_files = sorted(p.name for p in folder.glob("data_batch_*"))
    if not train_files or not (folder / "test_batch").exists():
        raise FileNotFoundError(f"{folder}: expected data_batch_1..5 and test_batch (CIFAR-10 python)")
    train = [batch(n) for n in train_files]
    test = batch("test_batch")
    return np.concatenate([x for x, _ in train]), test[0], np.concatenate([y for _, y in train]), test[1]


def _digits() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits

    digits = load_digits()   # images (1797, 1, 8, 8), levels 0..16; labels 0..9
    return digits.images.astype(np.uint8)[:, None], digits.target.astype(np.int64)


def _cap(x: np.ndarray, n: int | None) -> np.ndarray:
    return x if n is None else x[:n]


def _split(source: ImageSource, path: str | None, profile: str, seed: int):
    """(images, labels) per split, levels and sizes; labels are None where the source has none."""
    rng = np.random.default_rng(seed)
    if source.kind == "digits":
        images, labels = _digits()
        sizes = settings_for(DIGITS_SIZES, profile)
        order = rng.permutation(len(images))
        n_test, n_valid = round(0.2 * len(images)), round(0.1 * len(images))
        test, valid, train = order[:n_test], order[n_test:n_test + n_valid][:sizes.valid], order[n_test + n_valid:]
        train, test = _cap(train, sizes.train), _cap(test, sizes.test)
        return [(images[i], labels[i]) for i in (train, valid, test)], 17, sizes
    sizes = settings_for(FILE_SIZES, profile)
    read = read_idx_folder if source.kind == "idx" else read_cifar10_folder
    train_all, test_all, train_labels, test_labels = read(path)
    order = rng.permutation(len(train_all))
    valid, train = order[:sizes.valid], _cap(order[sizes.valid:], sizes.train)
    test = _cap(rng.permutation(len(test_all)), sizes.test)

    def pick(x, y, idx):
        return x[idx], None if y is None else y[idx]

    return [pick(train_all, train_labels, train), pick(train_all, train_labels, valid),
            pick(test_all, test_labels, test)], 256, sizes


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
    parts, levels, sizes = _split(source, path, profile, seed)
    (train, valid, test), labels = [x for x, _ in parts], [y for _, y in parts]
    if source.binarise is None:
        return ImageData(train, valid, test, levels, name, None, *labels)
    if source.binarise == "binary":
        cut = levels / 2  # level >= K/2 is "on": 9..16 for digits, 128..255 for 8-bit images
        return ImageData(*(np.ascontiguousarray(x >= cut).astype(np.uint8) for x in (train, valid, test)),
                         2, f"{name}:binary", "static-threshold", *labels)
    rng = np.random.default_rng([seed, 1])

    def draw(x: np.ndarray) -> np.ndarray:
        return (rng.random(x.shape) < x / (levels - 1)).astype(np.uint8)

    train_draws = np.concatenate([draw(train) for _ in range(sizes.dyn_resamples)])
    train_labels = None if labels[0] is None else np.tile(labels[0], sizes.dyn_resamples)
    return ImageData(train_draws, draw(valid), draw(test), 2, f"{name}:dynbinary",
                     f"dynamic-bernoulli(resamples={sizes.dyn_resamples})", train_labels, *labels[1:])
