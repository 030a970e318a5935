"""Measure how to read one training clip without loading its whole video (issue 10, item 3).

    python -m benchmark.clip_read_bench [VIDEO] [--short-sides 128 171 256] [--clip 16] [--reads 40]

For each decode size: disk bytes per video and CPU time per random 16-frame clip read, for the
candidate layouts: the whole video deflated in one array (the former compact cache: a clip read
loads the whole video), a per-video .npy memory-mapped, and frames deflated in chunks of k frames
with an index (a clip decompresses only the chunks it touches). Prints one row per candidate.
"""
from __future__ import annotations

import argparse
import io
import os
import resource
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _drop_page_cache(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def candidates(frames: np.ndarray, root: Path, clip: int):
    from benchmark.common.cache import atomic_save_npz
    from benchmark.data.clipstore import read_rows, write_chunked

    whole = root / "whole.npz"
    atomic_save_npz(whole, True, frames=frames)
    yield "whole video, deflated (before)", whole, lambda s: np.load(whole)["frames"][s:s + clip]
    npy = root / "video.npy"
    np.save(npy, frames)
    yield "per-video .npy, mmap", npy, lambda s: np.array(np.load(npy, mmap_mode="r")[s:s + clip])
    for k in (4, 8, 16, 32):
        path = root / f"chunked{k}.npz"
        atomic_save_npz(path, True, **write_chunked(frames, k))
        yield f"deflated chunks of {k}", path, (lambda p: lambda s: read_rows(p, np.arange(s, s + clip)))(path)
    import cv2  # lossless PNG per frame, members stored (not deflated again)

    png = root / "png.npz"
    atomic_save_npz(png, False, **{f"f{i:05d}": np.frombuffer(cv2.imencode(".png", f)[1], np.uint8)
                                   for i, f in enumerate(frames)})

    def read_png(s):
        with np.load(png) as data:
            return np.stack([cv2.imdecode(data[f"f{i:05d}"], cv2.IMREAD_UNCHANGED) for i in range(s, s + clip)])
    yield "PNG per frame (lossless)", png, read_png


def main(argv=None) -> None:
    from benchmark.data.video import FrameSpec, read_video

    parser = argparse.ArgumentParser()
    parser.add_argument("video", nargs="?", default="/work/shared/data/videos/v_Bowling_g01_c01.avi")
    parser.add_argument("--short-sides", type=int, nargs="+", default=[128, 171, 256])
    parser.add_argument("--clip", type=int, default=16)
    parser.add_argument("--reads", type=int, default=40)
    args = parser.parse_args(argv)
    rng = np.random.default_rng(0)
    print(f"video {args.video}; clip {args.clip} frames; {args.reads} random clip reads per row "
          f"(CPU s per read, page cache dropped before each read)")
    for side in args.short_sides:
        frames = read_video(args.video, FrameSpec(short_side=side))
        print(f"\nshort side {side}: {frames.shape}, raw {frames.nbytes / 1e6:.1f} MB")
        with tempfile.TemporaryDirectory() as tmp:
            for name, path, read in candidates(frames, Path(tmp), args.clip):
                starts = rng.integers(0, len(frames) - args.clip + 1, args.reads)
                cpu = wall = 0.0
                for s in starts:
                    _drop_page_cache(path)
                    c0, w0 = _cpu(), time.perf_counter()
                    out = read(int(s))
                    cpu += _cpu() - c0
                    wall += time.perf_counter() - w0
                    assert np.array_equal(out, frames[s:s + args.clip])
                print(f"  {name:32s} disk {path.stat().st_size / 1e6:7.2f} MB/video  "
                      f"read {1e3 * cpu / args.reads:7.2f} ms CPU  {1e3 * wall / args.reads:7.2f} ms wall per clip")


if __name__ == "__main__":
    main()
