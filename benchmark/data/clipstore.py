"""Per-video arrays stored in chunks of ``CHUNK`` frames, so a clip is read without loading its video.

A video's (T, ...) array is saved (zip-deflated, through ``Cache.arrays``) as members ``shape`` and
``c00000``, ``c00001``, ...: chunk j holds rows [j * k, (j + 1) * k). Reading rows decompresses only the
chunks they fall in; the shape is read without decompressing any frame.

Chosen by measurement (``python -m benchmark.clip_read_bench``: the UCF101 clip v_Bowling_g01_c01,
320x240, 159 frames; 20 random 16-frame clip reads, page cache dropped before each; 2-core machine,
loaded). Disk per video and CPU per clip read, at short side 256 (128):
  whole video deflated (the former compact cache)  27.2 MB, 275 ms   (7.5 MB, 62 ms)
  per-video .npy, memory-mapped                    41.6 MB,   6 ms   (10.4 MB, 3 ms)
  deflated chunks of 8 frames (this)               27.2 MB,  50 ms   (7.5 MB, 12 ms)
  deflated chunks of 16                            27.2 MB,  62 ms   (7.5 MB, 15 ms)
  lossless PNG per frame                           20.7 MB,  45 ms   (6.1 MB, 15 ms)
Chunks keep the compact disk of the paper profile (item 4) unchanged and cut a clip read 5x; the .npy
would cost 1.5x the disk (about 0.5 TB for UCF101 at 256 px). PNG would save another ~20% of disk for
RGB frames (not for 2-channel flow); not done yet.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

CHUNK = 8
LAYOUT = f"chunks{CHUNK}"   # part of a cache key: a change of layout is a new artefact


def write_chunked(array: np.ndarray, k: int = CHUNK) -> dict[str, np.ndarray]:
    """The members that store ``array`` in chunks of k rows along its first axis."""
    out = {"shape": np.asarray(array.shape, dtype=np.int64), "chunk": np.asarray(k, dtype=np.int64)}
    for j, first in enumerate(range(0, len(array), k)):
        out[f"c{j:05d}"] = array[first:first + k]
    return out


def is_chunked(arrays) -> bool:
    return "shape" in arrays and "chunk" in arrays


def join(arrays: dict[str, np.ndarray], dtype=np.uint8) -> np.ndarray:
    """The whole array back from its members (``Cache.arrays`` has loaded every member)."""
    shape = tuple(int(n) for n in arrays["shape"])
    chunks = [arrays[name] for name in sorted(n for n in arrays if n.startswith("c") and n[1:].isdigit())]
    return np.concatenate(chunks) if chunks else np.zeros(shape, dtype=dtype)


def read_shape(path: Path) -> tuple[int, ...]:
    with np.load(path, allow_pickle=False) as data:
        return tuple(int(n) for n in data["shape"])


def read_rows(path: Path, rows: np.ndarray) -> np.ndarray:
    """``array[rows]`` of the chunked array at ``path``, decompressing only the chunks ``rows`` fall in."""
    rows = np.asarray(rows, dtype=np.int64)
    with np.load(path, allow_pickle=False) as data:
        k = int(data["chunk"])
        n = int(data["shape"][0])
        if rows.size and (rows.min() < 0 or rows.max() >= n):
            raise IndexError(f"{path.name}: rows {rows.min()}..{rows.max()} outside 0..{n - 1}")
        chunks = {j: data[f"c{j:05d}"] for j in np.unique(rows // k)}
    return np.stack([chunks[r // k][r % k] for r in rows]) if rows.size else \
        np.zeros((0, *read_shape(path)[1:]), dtype=np.uint8)
