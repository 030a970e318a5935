"""Image datasets of the generative suite: seeded digits splits, IDX and CIFAR readers, binarisation."""
from __future__ import annotations

import gzip
import pickle
import struct
from pathlib import Path

import numpy as np
import pytest

from benchmark.data.images import (FASHION_MNIST_DIR, IMAGE_DATASETS, load_image_dataset, read_cifar10_folder,
                                   read_idx)


def _rows(x: np.ndarray) -> set[bytes]:
    return {img.tobytes() for img in x}


def test_digits_splits_are_fixed_by_seed_and_partition_the_data():
    a, b = load_image_dataset("digits", "quick", 3), load_image_dataset("digits", "quick", 3)
    c = load_image_dataset("digits", "quick", 4)
    for split in ("train", "valid", "test"):
        assert np.array_equal(getattr(a, split), getattr(b, split))
    assert not np.array_equal(a.test, c.test)
    assert (len(a.train), len(a.valid), len(a.test)) == (1258, 180, 359)
    assert a.train.dtype == np.uint8 and a.train.shape[1:] == (1, 8, 8)
    assert a.levels == 17 and a.train.max() == 16 and a.binarised is None and a.dims == 64
    from sklearn.datasets import load_digits

    everything = np.concatenate([a.train, a.valid, a.test])[:, 0]
    reference = load_digits().images.astype(np.uint8)
    assert sorted(map(bytes, everything)) == sorted(map(bytes, reference))  # a permutation of the 1797 images


def test_smoke_profile_caps_the_splits():
    data = load_image_dataset("digits", "smoke", 0)
    assert (len(data.train), len(data.valid), len(data.test)) == (300, 100, 100)


def test_static_and_dynamic_binarisation_are_labelled():
    grey = load_image_dataset("digits", "quick", 0)
    static = load_image_dataset("digits-binary", "quick", 0)
    assert static.levels == 2 and static.binarised == "static-threshold"
    assert np.array_equal(static.test, (grey.test >= 8.5).astype(np.uint8))
    dynamic = load_image_dataset("digits:dynbinary", "quick", 0)
    assert dynamic.levels == 2 and dynamic.binarised.startswith("dynamic-bernoulli")
    assert len(dynamic.train) == 4 * len(grey.train) and set(np.unique(dynamic.train)) == {0, 1}
    # resamples differ from one another, and pixel means follow level / (K - 1)
    first, second = dynamic.train[:len(grey.train)], dynamic.train[len(grey.train):2 * len(grey.train)]
    assert not np.array_equal(first, second)
    expected = (grey.train / 16.0).mean()
    assert abs(dynamic.train.mean() - expected) < 0.01


def _write_idx(path: Path, array: np.ndarray, compress: bool) -> None:
    header = struct.pack(">HBB", 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    payload = header + array.astype(np.uint8).tobytes()
    if compress:
        with gzip.open(path, "wb") as handle:
            handle.write(payload)
    else:
        path.write_bytes(payload)


@pytest.mark.parametrize("compress", [False, True])
def test_idx_round_trip(tmp_path, compress):
    rng = np.random.default_rng(0)
    train = rng.integers(0, 256, (1200, 28, 28), dtype=np.uint8)
    test = rng.integers(0, 256, (300, 28, 28), dtype=np.uint8)
    suffix = ".gz" if compress else ""
    _write_idx(tmp_path / f"train-images-idx3-ubyte{suffix}", train, compress)
    _write_idx(tmp_path / f"t10k-images-idx3-ubyte{suffix}", test, compress)
    _write_idx(tmp_path / f"train-labels-idx1-ubyte{suffix}", np.zeros(1200, np.uint8), compress)
    assert np.array_equal(read_idx(tmp_path / f"train-images-idx3-ubyte{suffix}"), train)

    data = load_image_dataset(str(tmp_path), "smoke", 0)
    assert data.levels == 256 and data.train.shape == (500, 1, 28, 28) and data.test.shape == (200, 1, 28, 28)
    assert _rows(data.train[:, 0]) <= _rows(train) and _rows(data.test[:, 0]) <= _rows(test)
    assert not _rows(data.valid[:, 0]) & _rows(data.train[:, 0])
    binary = load_image_dataset(f"{tmp_path}:binary", "smoke", 0)
    assert binary.binarised == "static-threshold" and np.array_equal(binary.test, (data.test >= 128).astype(np.uint8))


def test_idx_reader_rejects_other_files(tmp_path):
    (tmp_path / "junk").write_bytes(b"\x12\x34\x56\x78" + bytes(16))
    with pytest.raises(ValueError):
        read_idx(tmp_path / "junk")


def test_cifar10_batch_round_trip(tmp_path):
    rng = np.random.default_rng(1)
    batches = {f"data_batch_{i}": rng.integers(0, 256, (100, 3072), dtype=np.uint8) for i in range(1, 6)}
    batches["test_batch"] = rng.integers(0, 256, (50, 3072), dtype=np.uint8)
    for name, rows in batches.items():
        with open(tmp_path / name, "wb") as handle:
            pickle.dump({b"data": rows, b"labels": [int(v) % 10 for v in rows[:, 0]]}, handle)
    train, test, train_labels, test_labels = read_cifar10_folder(tmp_path)
    assert train.shape == (500, 3, 32, 32) and test.shape == (50, 3, 32, 32)
    assert np.array_equal(train_labels[:100], batches["data_batch_1"][:, 0] % 10)
    assert np.array_equal(test_labels, batches["test_batch"][:, 0] % 10)
    # CIFAR rows hold the red plane, then green, then blue, each row-major
    assert np.array_equal(train[0, 0].ravel(), batches["data_batch_1"][0, :1024])
    assert np.array_equal(train[0, 2, 31], batches["data_batch_1"][0, 3072 - 32:])
    data = load_image_dataset(str(tmp_path), "smoke", 0)
    assert data.train.shape[1:] == (3, 32, 32) and data.levels == 256 and len(data.test) == 50


def test_unknown_name_lists_the_valid_ones():
    with pytest.raises(KeyError, match="digits"):
        load_image_dataset("no-such-dataset", "quick", 0)
    assert "digits" in IMAGE_DATASETS and "fashion-mnist" in IMAGE_DATASETS


@pytest.mark.skipif(not Path(FASHION_MNIST_DIR).is_dir(), reason="dataset-fashion-mnist is not installed")
def test_fashion_mnist_from_debian_package():
    data = load_image_dataset("fashion-mnist", "smoke", 0)
    assert data.train.shape == (500, 1, 28, 28) and data.test.shape == (200, 1, 28, 28)
    assert data.levels == 256 and data.train.max() > 200


def test_labels_follow_their_images_through_the_splits():
    """Each split's labels belong to its images: digits against scikit-learn's own pairs, Fashion-MNIST
    by class means (a shuffled label vector makes the class means nearly equal)."""
    from sklearn.datasets import load_digits

    images, targets = load_digits().images.astype(np.uint8), load_digits().target
    label_of = {im.tobytes(): int(t) for im, t in zip(images, targets)}
    for name in ("digits", "digits:binary"):
        data = load_image_dataset(name, "quick", 3)
        assert len(data.train_labels) == len(data.train) and len(data.test_labels) == len(data.test)
    data = load_image_dataset("digits", "quick", 3)
    for x, y in ((data.train, data.train_labels), (data.valid, data.valid_labels), (data.test, data.test_labels)):
        assert [label_of[im[0].tobytes()] for im in x] == y.tolist()
    dyn = load_image_dataset("digits:dynbinary", "smoke", 3)
    assert len(dyn.train_labels) == len(dyn.train)


@pytest.mark.skipif(not Path(FASHION_MNIST_DIR).is_dir(), reason="Fashion-MNIST not installed")
def test_fashion_labels_are_read_and_aligned():
    data = load_image_dataset("fashion-mnist", "smoke", 0)
    assert set(np.unique(data.train_labels)) == set(range(10))
    # trousers (1) are tall and narrow, bags (8) wide: their mean images differ in the side columns
    side = data.train[:, 0, :, :4].reshape(len(data.train), -1).mean(axis=1)
    assert side[data.train_labels == 8].mean() > 2 * side[data.train_labels == 1].mean()
