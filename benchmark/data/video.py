"""Reading videos, and the ``VideoSet`` every video method receives.

Frames are decoded once per (file, frame spec) and cached; optical flow is computed once per
(frames, flow algorithm) and cached, so the dense trajectories and the temporal stream share it.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

from benchmark.common.cache import Cache


class VideoReadError(RuntimeError):
    """A video that cannot be opened or decoded (missing, corrupt, unsupported codec, no frames)."""


@dataclass(frozen=True, repr=False)
class FrameSpec:
    """How frames are decoded for a profile.

    short_side: resize so the shorter side has this many pixels (None keeps the original size).
    max_frames: keep at most this many frames (None keeps all). stride: keep every stride-th frame.
    resize: (width, height) to resize every frame to, whatever its aspect (C3D's 171x128); overrides short_side.
    """

    short_side: int | None = None
    max_frames: int | None = None
    stride: int = 1
    resize: tuple[int, int] | None = None

    def __repr__(self) -> str:  # resize shown only when set: job keys hash this text and must stay stable
        extra = f", resize={self.resize}" if self.resize is not None else ""
        return f"FrameSpec(short_side={self.short_side}, max_frames={self.max_frames}, stride={self.stride}{extra})"

    def describe(self) -> str:
        """'native', 'short side 256' or '171x128', plus frame limits."""
        size = (f"{self.resize[1]}x{self.resize[0]} (HxW)" if self.resize else
                f"short side {self.short_side}" if self.short_side else "native")
        extra = (f", frame stride {self.stride}" if self.stride > 1 else "") + \
                (f", at most {self.max_frames} frames" if self.max_frames else "")
        return size + extra


def _resized(frame: np.ndarray, short_side: int | None, resize: tuple[int, int] | None = None) -> np.ndarray:
    import cv2  # here, not at the top: `bench --help` and `bench list` need no OpenCV

    if resize is not None:
        h, w = frame.shape[:2]
        if (w, h) == tuple(resize):
            return frame
        interp = cv2.INTER_AREA if resize[0] * resize[1] < w * h else cv2.INTER_LINEAR
        return cv2.resize(frame, tuple(resize), interpolation=interp)
    if short_side is None:
        return frame
    h, w = frame.shape[:2]
    scale = short_side / min(h, w)
    if scale == 1.0:
        return frame
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    return cv2.resize(frame, size, interpolation=interp)


def iter_frames(path: Path | str, spec: FrameSpec = FrameSpec()) -> Iterator[np.ndarray]:
    """Stream RGB uint8 frames (H, W, 3) one at a time; memory does not grow with video length."""
    import cv2

    path = Path(path)
    if not path.is_file():
        raise VideoReadError(f"{path}: no such file")
    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        raise VideoReadError(f"{path}: cannot open (corrupt file or unsupported codec)")
    kept = 0
    index = 0
    try:
        while spec.max_frames is None or kept < spec.max_frames:
            ok, frame = capture.read()
            if not ok:
                break
            if index % spec.stride == 0:
                if frame.ndim == 2:  # grey-scale stream
                    frame = cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR)
                yield cv2.cvtColor(_resized(frame, spec.short_side, spec.resize), cv2.COLOR_BGR2RGB)
                kept += 1
            index += 1
    finally:
        capture.release()
    if kept == 0:
        raise VideoReadError(f"{path}: no decodable frames")


def read_video(path: Path | str, spec: FrameSpec = FrameSpec()) -> np.ndarray:
    """All frames as one (T, H, W, 3) RGB uint8 array."""
    return np.stack(list(iter_frames(path, spec)))


def _file_identity(path: Path) -> dict:
    stat = path.stat()
    return {"path": str(path.resolve()), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}


@dataclass(frozen=True)
class VideoSet:
    """An ordered set of labelled videos with cached access to frames and optical flow.

    labels are class indices into ``class_names``; groups are the dataset's group ids
    (UCF101 gXX, the synthetic actors), used for group-wise resampling in statistics.
    """

    paths: tuple[Path, ...]
    labels: np.ndarray
    groups: np.ndarray
    class_names: tuple[str, ...]
    frame_spec: FrameSpec = FrameSpec()
    cache: Cache = field(default_factory=Cache)
    compact: bool = False   # paper scale: frames stored deflated, flow stored quantised to uint8 (±20 px)

    def __len__(self) -> int:
        return len(self.paths)

    @property
    def n_classes(self) -> int:
        return len(self.class_names)

    @property
    def names(self) -> list[str]:
        return [p.name for p in self.paths]

    def subset(self, indices: Sequence[int] | np.ndarray) -> "VideoSet":
        idx = np.asarray(indices, dtype=int)
        return replace(
            self,
            paths=tuple(self.paths[i] for i in idx),
            labels=self.labels[idx],
            groups=self.groups[idx],
        )

    def frames_key(self, i: int) -> dict:
        spec = self.frame_spec
        from benchmark.pipeline.decoding import decoder_library

        key = {"file": _file_identity(self.paths[i]), "short_side": spec.short_side,
               "max_frames": spec.max_frames, "stride": spec.stride, "decoder": decoder_library()}
        if spec.resize is not None:  # only when set: the keys of existing caches stay valid
            key["resize"] = list(spec.resize)
        return key

    def frames_store_key(self, i: int) -> dict:
        """The cache key the frames are stored under: ``frames_key`` (what the frames are; flow and features
        key on it) plus, in compact caches, the chunked layout (how they are stored)."""
        from benchmark.data.clipstore import LAYOUT

        return {**self.frames_key(i), "layout": LAYOUT} if self.compact else self.frames_key(i)

    def frames_path(self, i: int) -> Path:
        return self.cache.path("frames", self.frames_store_key(i))

    def _decode_chunked(self, i: int) -> dict[str, np.ndarray]:
        from benchmark.data.clipstore import write_chunked

        return write_chunked(read_video(self.paths[i], self.frame_spec))

    def frames(self, i: int) -> np.ndarray:
        """(T, H, W, 3) RGB uint8 frames of video i at the profile's size, decoded once and cached."""
        if self.compact:  # deflated in chunks of frames, so that a clip is read alone (``frame_rows``)
            from benchmark.data.clipstore import join

            return join(self.cache.arrays("frames", self.frames_store_key(i), lambda: self._decode_chunked(i),
                                          compress=True))
        arrays = self.cache.arrays(
            "frames", self.frames_key(i),
            lambda: {"frames": read_video(self.paths[i], self.frame_spec)},
        )
        return arrays["frames"]

    def frames_shape(self, i: int) -> tuple[int, ...]:
        """(T, H, W, 3) of ``frames(i)``; in compact caches read without decompressing a frame."""
        if not self.compact:
            return self.frames(i).shape
        from benchmark.data.clipstore import read_shape

        return read_shape(self.cache.file("frames", self.frames_store_key(i), lambda: self._decode_chunked(i),
                                          compress=True))

    def frame_rows(self, i: int, rows: np.ndarray) -> np.ndarray:
        """``frames(i)[rows]``; in compact caches only the chunks holding ``rows`` are decompressed."""
        if not self.compact:
            return self.frames(i)[rows]
        from benchmark.data.clipstore import read_rows

        return read_rows(self.cache.file("frames", self.frames_store_key(i), lambda: self._decode_chunked(i),
                                         compress=True), rows)

    def flow_key(self, i: int, algorithm: str = "farneback") -> dict:
        from baselines.video.dt.optical_flow import FLOW_VERSION

        key = {"frames": self.frames_key(i), "algorithm": algorithm, "version": FLOW_VERSION}
        if self.compact:  # stored as the two-stream tools store it (bounded to ±20 px, uint8), in chunks
            from benchmark.data.clipstore import LAYOUT

            key["stored"] = "uint8"
            key["layout"] = LAYOUT
        return key

    def flow_path(self, i: int, algorithm: str = "farneback") -> Path:
        return self.cache.path("flow", self.flow_key(i, algorithm))

    def _quantised_flow_chunked(self, i: int, algorithm: str) -> dict[str, np.ndarray]:
        from baselines.video.dt.optical_flow import quantise, video_flow
        from benchmark.data.clipstore import write_chunked

        return write_chunked(quantise(video_flow(self.frames(i), algorithm).astype(np.float16)))

    def flow(self, i: int, algorithm: str = "farneback") -> np.ndarray:
        """(T-1, H, W, 2) float16 optical flow (x, y) between consecutive frames of video i, cached.

        Raw (unbounded, unquantised) flow; consumers that want the usual ±20 bound and 8-bit
        quantisation apply ``baselines.video.dt.optical_flow.quantise`` themselves. In compact caches
        the flow is stored quantised, and this is its dequantised value.
        """
        from baselines.video.dt.optical_flow import video_flow

        if self.compact:
            from baselines.video.dt.optical_flow import dequantise
            from benchmark.data.clipstore import join

            arrays = self.cache.arrays("flow", self.flow_key(i, algorithm),
                                       lambda: self._quantised_flow_chunked(i, algorithm), compress=True)
            return dequantise(join(arrays)).astype(np.float16)
        arrays = self.cache.arrays(
            "flow", self.flow_key(i, algorithm), lambda: {"flow": video_flow(self.frames(i), algorithm).astype(np.float16)}
        )
        return arrays["flow"]

    def _flow_file(self, i: int, algorithm: str) -> Path:
        return self.cache.file("flow", self.flow_key(i, algorithm), lambda: self._quantised_flow_chunked(i, algorithm),
                               compress=True)

    def flow_shape(self, i: int, algorithm: str = "farneback") -> tuple[int, ...]:
        """(T-1, H, W, 2) of ``flow(i)``; in compact caches read without decompressing a field."""
        if not self.compact:
            return self.flow(i, algorithm).shape
        from benchmark.data.clipstore import read_shape

        return read_shape(self._flow_file(i, algorithm))

    def flow_rows(self, i: int, rows: np.ndarray, algorithm: str = "farneback") -> np.ndarray:
        """``flow(i)[rows]``; in compact caches only the chunks holding ``rows`` are read."""
        if not self.compact:
            return self.flow(i, algorithm)[rows]
        from baselines.video.dt.optical_flow import dequantise
        from benchmark.data.clipstore import read_rows

        return dequantise(read_rows(self._flow_file(i, algorithm), rows)).astype(np.float16)


def env_workers(default: int | None = None) -> int:
    """Worker processes for per-video work: ``$BENCH_WORKERS`` or the number of cores."""
    value = os.environ.get("BENCH_WORKERS")
    if value:
        return max(1, int(value))
    return default or os.cpu_count() or 1
