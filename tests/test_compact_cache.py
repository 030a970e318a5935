"""Paper-scale caches: frames deflated (lossless), flow bounded to ±20 px and stored as uint8."""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from baselines.video.dt.optical_flow import dequantise, quantise
from benchmark.common.cache import Cache
from benchmark.data.generate import write_dataset
from benchmark.data.video import FrameSpec, VideoSet


def _pair(tmp_path):
    root = write_dataset(tmp_path / "set", actors=4, clips=1, width=96, height=64, frames=6, progress=False)
    path = next(root.glob("SlideLeft/*.avi"))
    plain = VideoSet(paths=(path,), labels=np.zeros(1, int), groups=np.zeros(1, int), class_names=("a",),
                     frame_spec=FrameSpec(), cache=Cache(tmp_path / "plain"))
    return plain, replace(plain, cache=Cache(tmp_path / "compact"), compact=True)


def _bytes(cache: Cache, kind: str) -> int:
    return sum(p.stat().st_size for p in (cache.root / kind).rglob("*.npz"))


def test_compact_frames_are_lossless_and_smaller(tmp_path):
    plain, compact = _pair(tmp_path)
    np.testing.assert_array_equal(compact.frames(0), plain.frames(0))
    np.testing.assert_array_equal(compact.frames(0), plain.frames(0))   # and read back from the cache
    assert _bytes(compact.cache, "frames") < 0.9 * _bytes(plain.cache, "frames")


def test_compact_flow_is_stored_as_uint8_and_reads_back_quantised(tmp_path):
    plain, compact = _pair(tmp_path)
    raw = plain.flow(0)
    got = compact.flow(0)
    assert got.shape == raw.shape
    np.testing.assert_array_equal(quantise(got), quantise(raw))       # what the temporal stream sees: unchanged
    np.testing.assert_allclose(got, dequantise(quantise(raw)), atol=0.02)
    stored = next((compact.cache.root / "flow").rglob("*.npz"))
    with np.load(stored) as data:
        assert data["c00000"].dtype == np.uint8
    assert _bytes(compact.cache, "flow") < 0.5 * _bytes(plain.cache, "flow")
