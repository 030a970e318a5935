"""Dense trajectories (Wang et al., IJCV 2013), following the authors' DenseTrack v1.2 code.

Points are sampled every W = 5 px at up to 8 spatial scales (factor 1/√2), where the smaller
eigenvalue of the structure tensor exceeds 0.001 of the frame's maximum and no live track is;
they are moved by the dense flow of their scale at the rounded position and end after L = 15
frames; static, erratic and sudden-jump trajectories are pruned; HOG/HOF/MBH descriptors are
taken in a 32 px x 15 frame volume along the track. Frames are streamed: memory does not grow
with video length (only the trajectories found so far, which the caller may stream too).

Flow: ``"farneback"`` is the authors' Farnebäck pyramid (their settings, every level median-
filtered, the trajectories of scale k following the flow of level k); ``"dis"`` is OpenCV's DIS
(fast preset) run per scale, the fast mode. With ``idt=True`` the camera motion is removed as in
Wang & Schmid 2013 (improved trajectories): a RANSAC homography from ORB matches and flow-carried
corners, the next frame warped onto the previous one and the flow recomputed; HOF, MBH and the
trajectory shape use that compensated flow and tracks that move with the camera are dropped.

One departure: the authors drop a track whose largest compensated step is <= 1 px, on 240-row frames. Here
that threshold scales with the frame height (1 px per 240 rows), so 240-row frames (UCF101, HMDB51) are
treated exactly as the authors' code does, and small frames are not emptied: on the 48-row quick videos a
fixed 1 px dropped every track of 23 of the 80 test videos of split 1 (objects drifting < 1 px per frame).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable, Iterator

import cv2
import numpy as np

from baselines.video.dt.descriptors import (BINS, DescriptorGrid, displacement_shape, integral_histograms,
                                   frame_descriptors, trajectory_statistics)
from baselines.video.dt import DT_FLOWS
from baselines.video.dt.optical_flow import farneback_pyramid_flow, poly_expansion_pyramid


@dataclass(frozen=True)
class DTParams:
    """DenseTrack v1.2 defaults; sizes in pixels of the original video."""

    track_length: int = 15          # L
    min_distance: int = 5           # W, the sampling step
    patch_size: int = 32            # N
    nxy_cells: int = 2
    nt_cells: int = 3
    max_scales: int = 8
    scale_stride: float = math.sqrt(2)
    quality: float = 0.001
    init_gap: int = 1               # re-sample every init_gap frames (v1.2 resets its counter every
                                    # frame, so a gap > 1 never re-samples there; here it does)
    min_var: float = math.sqrt(3)
    max_var: float = 50.0
    max_dis: float = 20.0
    epsilon: float = 0.05
    min_flow: float = 0.4
    flow: str = "farneback"         # one of DT_FLOWS
    idt: bool = False
    # iDT: a track whose largest camera-compensated step is at most this many px per CAMERA_MOTION_ROWS rows of
    # frame height moved with the camera and is dropped (the authors' 1 px on their 240-row frames)
    min_camera_motion: float = 1.0

    @property
    def grid(self) -> DescriptorGrid:
        return DescriptorGrid(self.patch_size, self.nxy_cells, self.nt_cells, self.epsilon, self.min_flow)


def column_slices(params: DTParams = DTParams()) -> dict[str, slice]:
    """Columns of one trajectory row: header (10), traj (2L), hog, hof, mbhx, mbhy (436 by default)."""
    cells = params.nxy_cells ** 2 * params.nt_cells
    widths = {"header": 10, "traj": 2 * params.track_length, **{k: cells * b for k, b in BINS.items()}}
    out, start = {}, 0
    for name, width in widths.items():
        out[name] = slice(start, start + width)
        start += width
    return out


def n_columns(params: DTParams = DTParams()) -> int:
    return column_slices(params)["mbhy"].stop


def pyramid_geometry(width: int, height: int, params: DTParams = DTParams()):
    """(scales, sizes) of the sampling pyramid, computed in float32 as ``InitPry``."""
    stride = np.float32(params.scale_stride)
    min_size = np.float32(min(width, height))
    n = 0
    while min_size >= params.patch_size:
        min_size = np.float32(min_size / stride)
        n += 1
    n = min(params.max_scales, max(n, 1))
    scales = [np.float32(1.0)]
    for _ in range(1, n):
        scales.append(np.float32(scales[-1] * stride))
    sizes = [(int(np.rint(np.float32(width) / s)), int(np.rint(np.float32(height) / s))) for s in scales]
    return [float(s) for s in scales], sizes


def dense_sample(grey: np.ndarray, points: np.ndarray, quality: float, min_distance: int) -> np.ndarray:
    """New (x, y) points on the W-grid where no point is and the min eigenvalue is high enough."""
    eig = cv2.cornerMinEigenVal(grey, 3, ksize=3)
    threshold = float(eig.max()) * quality
    height, width = grey.shape
    gw, gh = width // min_distance, height // min_distance
    occupied = np.zeros((gh, gw), bool)
    if len(points):
        xs = np.floor(points[:, 0]).astype(np.intp)
        ys = np.floor(points[:, 1]).astype(np.intp)
        ok = (xs < gw * min_distance) & (ys < gh * min_distance) & (xs >= 0) & (ys >= 0)
        occupied[ys[ok] // min_distance, xs[ok] // min_distance] = True
    centre = min_distance // 2
    cy = np.arange(gh) * min_distance + centre
    cx = np.arange(gw) * min_distance + centre
    candidates = (eig[np.ix_(cy, cx)] > threshold) & ~occupied
    iy, ix = np.nonzero(candidates)
    return np.stack([cx[ix], cy[iy]], axis=1).astype(np.float32)


class _ScaleTracks:
    """The live tracks of one scale, as arrays (creation order kept, as the C++ std::list)."""

    def __init__(self, params: DTParams, dim: int):
        L = params.track_length
        self.points = np.zeros((0, L + 1, 2), np.float32)
        self.index = np.zeros(0, np.intp)
        self.desc = np.zeros((0, params.nt_cells, dim), np.float32)
        self.disp = np.zeros((0, L, 2), np.float32) if params.idt else None

    def __len__(self) -> int:
        return len(self.index)

    def keep(self, mask: np.ndarray) -> None:
        if mask.all():
            return
        self.points, self.index, self.desc = self.points[mask], self.index[mask], self.desc[mask]
        if self.disp is not None:
            self.disp = self.disp[mask]

    def current(self) -> np.ndarray:
        return self.points[np.arange(len(self)), self.index]

    def add(self, new_points: np.ndarray) -> None:
        n = len(new_points)
        if n == 0:
            return
        pts = np.zeros((n, *self.points.shape[1:]), np.float32)
        pts[:, 0] = new_points
        self.points = np.concatenate([self.points, pts])
        self.index = np.concatenate([self.index, np.zeros(n, np.intp)])
        self.desc = np.concatenate([self.desc, np.zeros((n, *self.desc.shape[1:]), np.float32)])
        if self.disp is not None:
            self.disp = np.concatenate([self.disp, np.zeros((n, *self.disp.shape[1:]), np.float32)])


def retain_freed_memory() -> bool:
    """Ask glibc to keep freed memory for reuse instead of returning it to the OS at once.

    Extraction allocates and frees the same few-MB arrays every frame; by default glibc maps and
    unmaps them each time and every page faults anew (480k page faults, a quarter of the time on
    the KTH clip). Process-wide, so the entry points call it (CLI, extraction workers), not the
    library functions. Returns False where mallopt is unavailable (not glibc): only slower there.
    """
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        m_trim_threshold, m_mmap_threshold = -1, -3
        return bool(libc.mallopt(m_mmap_threshold, 32 << 20) and libc.mallopt(m_trim_threshold, 256 << 20))
    except (OSError, AttributeError):
        return False


def _grey(frame: np.ndarray) -> np.ndarray:
    if frame.ndim == 2:
        return frame
    return cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)


class _FlowEngine:
    """Per-scale flow between consecutive frames: the authors' Farnebäck pyramid or DIS per scale."""

    def __init__(self, algorithm: str, scales, sizes):
        if algorithm not in DT_FLOWS:
            raise ValueError(f"unknown flow {algorithm!r} for dense trajectories; valid: {', '.join(DT_FLOWS)}")
        self.algorithm, self.scales, self.sizes = algorithm, scales, sizes
        # one DIS per scale: an instance re-allocates its buffers whenever the frame size changes
        self.dis = [cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_FAST) for _ in sizes] \
            if algorithm == "dis" else None

    def prepare(self, grey: np.ndarray, grey_pyr: list[np.ndarray]):
        """Per-frame state the flow needs (Farnebäck: polynomial expansions, computed once per frame)."""
        if self.algorithm == "farneback":
            return poly_expansion_pyramid(grey, self.sizes, self.scales)
        return grey_pyr

    def flows(self, prev_state, state) -> list[np.ndarray]:
        if self.algorithm == "farneback":
            return farneback_pyramid_flow(prev_state, state)
        return [dis.calc(a, b, None) for dis, a, b in zip(self.dis, prev_state, state)]


MATCH_WINDOW = 25  # px, the authors' windowedMatchingMask(kpts, prev_kpts, 25, 25)


def camera_homography(prev_grey: np.ndarray, flow: np.ndarray, prev_features, features) -> np.ndarray:
    """iDT camera motion: RANSAC homography (prev -> current) from flow-carried corners and keypoint matches.

    prev_features, features: ``orb.detectAndCompute`` of the previous and the current frame (a frame's
    features serve twice, as current and then as previous, so each frame is described once). As in the
    authors' code, each current keypoint takes its nearest descriptor among the previous keypoints within
    25 px in x and y (``windowedMatchingMask``), and the flow pairs come before the keypoint pairs.
    """
    from baselines.video.dt.kernels import windowed_match

    height, width = prev_grey.shape
    src, dst = [np.zeros((0, 2), np.float32)], [np.zeros((0, 2), np.float32)]
    corners = cv2.goodFeaturesToTrack(prev_grey, 1000, 0.001, 3)
    if corners is not None:
        c = corners.reshape(-1, 2)
        xi = np.clip(np.rint(c[:, 0]).astype(np.intp), 0, width - 1)
        yi = np.clip(np.rint(c[:, 1]).astype(np.intp), 0, height - 1)
        src.append(c)
        dst.append(np.stack([xi, yi], axis=1).astype(np.float32) + flow[yi, xi])
    (kp0, d0), (kp1, d1) = prev_features, features
    if d0 is not None and d1 is not None:
        prev_xy, xy = cv2.KeyPoint_convert(kp0).reshape(-1, 2), cv2.KeyPoint_convert(kp1).reshape(-1, 2)
        nearest = np.empty(len(xy), np.intp)
        windowed_match(xy, d1.view(np.uint64), prev_xy, d0.view(np.uint64), np.float32(MATCH_WINDOW), nearest)
        found = nearest >= 0
        src.append(prev_xy[nearest[found]])
        dst.append(xy[found])
    src, dst = np.concatenate(src), np.concatenate(dst)
    homography = np.eye(3)
    if len(src) > 50:
        h, mask = cv2.findHomography(src, dst, cv2.RANSAC, 1.0)
        if h is not None and int(mask.sum()) > 25:
            homography = h
    return homography


def warp_to_previous(prev_grey: np.ndarray, grey: np.ndarray, homography: np.ndarray, margin: int = 5) -> np.ndarray:
    """The current frame seen from the previous camera (iDT ``MyWarpPerspective``): ``grey`` sampled at
    ``homography`` (x, y) by OpenCV's warpPerspective, which maps in double precision as the authors' copy
    of it does; pixels mapped outside the frame less a margin take the previous frame's values."""
    height, width = grey.shape
    warped = cv2.warpPerspective(grey, homography, (width, height), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                                 borderMode=cv2.BORDER_CONSTANT)
    gx, gy = np.arange(width, dtype=np.float64)[None, :], np.arange(height, dtype=np.float64)[:, None]
    h = homography
    w = h[2, 0] * gx + h[2, 1] * gy + h[2, 2]
    w = np.where(w != 0, 1.0 / w, 0.0)
    mx = (h[0, 0] * gx + h[0, 1] * gy + h[0, 2]) * w
    my = (h[1, 0] * gx + h[1, 1] * gy + h[1, 2]) * w
    inside = (mx > margin) & (mx < width - 1 - margin) & (my > margin) & (my < height - 1 - margin)
    return np.where(inside, warped, prev_grey)


def iter_dense_trajectories(frames: Iterable[np.ndarray], params: DTParams = DTParams(),
                            n_frames: int | None = None,
                            flows: Iterable[np.ndarray] | None = None) -> Iterator[np.ndarray]:
    """Yield, frame by frame, the (k, 436) float32 rows of the trajectories that end at that frame.

    frames: RGB (H, W, 3) or grey (H, W) uint8 frames, streamed. n_frames: the video length, for the
    t_pos column (NaN when None). flows: optional precomputed scale-0 flows between consecutive frames
    (e.g. the cached ``VideoSet.flow``); coarser scales then take the 5x5-median-filtered flow
    resized, instead of computing the flow pyramid here.
    """
    grid = params.grid
    cols = column_slices(params)
    L, t_stride = params.track_length, params.track_length // params.nt_cells
    dim = sum(b * params.nxy_cells ** 2 for b in BINS.values())
    flow_iter = iter(flows) if flows is not None else None
    if flow_iter is not None and params.idt:
        raise ValueError("iDT recomputes the flow on warped frames: pass no precomputed flows with idt=True")
    frames = iter(frames)
    first = next(frames, None)
    if first is None:
        return
    grey = _grey(first)
    height, width = grey.shape
    if min(height, width) < params.patch_size:
        raise ValueError(f"frames of {width}x{height} px are smaller than the {params.patch_size} px descriptor patch")
    scales, sizes = pyramid_geometry(width, height, params)
    engine = _FlowEngine(params.flow, scales, sizes)
    orb = cv2.ORB_create(1000) if params.idt else None
    prev_features = orb.detectAndCompute(grey, None) if params.idt else None

    def pyramid(image: np.ndarray) -> list[np.ndarray]:
        levels = [image]
        for size in sizes[1:]:
            levels.append(cv2.resize(levels[-1], size, interpolation=cv2.INTER_LINEAR))
        return levels

    tracks = [_ScaleTracks(params, dim) for _ in scales]
    prev_grey, prev_pyr = grey, pyramid(grey)
    prev_state = engine.prepare(grey, prev_pyr) if flow_iter is None else None
    for k, level in enumerate(prev_pyr):
        tracks[k].add(dense_sample(level, tracks[k].current(), params.quality, params.min_distance))

    for frame_num, frame in enumerate(frames, start=1):
        grey = _grey(frame)
        grey_pyr = pyramid(grey)
        if flow_iter is None:
            state = engine.prepare(grey, grey_pyr)
            flow_pyr = engine.flows(prev_state, state)
        else:
            flow_pyr = _resized_flows(np.asarray(next(flow_iter), np.float32), sizes, scales)
        motion_pyr = flow_pyr
        if params.idt:
            features = orb.detectAndCompute(grey, None)
            homography = camera_homography(prev_grey, flow_pyr[0], prev_features, features)
            prev_features = features
            warped = warp_to_previous(prev_grey, grey, homography)
            warped_pyr = pyramid(warped)
            motion_pyr = engine.flows(prev_state, engine.prepare(warped, warped_pyr))
        rows = []
        for k, scale in enumerate(scales):
            h_k, w_k = prev_pyr[k].shape
            live = tracks[k]
            if len(live):
                flow = flow_pyr[k]
                p = live.current()
                xi = np.clip(np.rint(p[:, 0]).astype(np.intp), 0, w_k - 1)
                yi = np.clip(np.rint(p[:, 1]).astype(np.intp), 0, h_k - 1)
                new = p + flow[yi, xi]
                inside = (new[:, 0] > 0) & (new[:, 0] < w_k) & (new[:, 1] > 0) & (new[:, 1] < h_k)
                live.keep(inside)
                p, new, xi, yi = p[inside], new[inside], xi[inside], yi[inside]
            if len(live):
                sums = integral_histograms(prev_pyr[k], flow_pyr[k], grid,
                                           hof_flow=motion_pyr[k] if params.idt else None)
                rows_idx = np.arange(len(live))
                cell = live.index // t_stride
                in_cell = cell < params.nt_cells
                live.desc[rows_idx[in_cell], cell[in_cell]] += frame_descriptors(sums, p[in_cell], grid)
                if live.disp is not None:
                    live.disp[rows_idx, live.index] = motion_pyr[k][yi, xi]
                live.index += 1
                live.points[rows_idx, live.index] = new
                done = live.index >= L
                if done.any():
                    rows.append(_finish(live, done, np.float32(scale), frame_num, width, height, n_frames,
                                        params, cols, t_stride))
                    live.keep(~done)
            if frame_num % params.init_gap == 0:
                live.add(dense_sample(grey_pyr[k], live.current(), params.quality, params.min_distance))
        prev_grey, prev_pyr = grey, grey_pyr
        if flow_iter is None:
            prev_state = state
        if rows:
            out = np.concatenate(rows)
            if len(out):
                yield out


def _resized_flows(flow0: np.ndarray, sizes, scales) -> list[np.ndarray]:
    flow0 = cv2.medianBlur(flow0, 5)
    out = [flow0]
    for size, scale in zip(sizes[1:], scales[1:]):
        out.append(cv2.resize(flow0, size, interpolation=cv2.INTER_AREA) * np.float32(1.0 / scale))
    return out


CAMERA_MOTION_ROWS = 240   # frame height the authors' 1 px camera-motion threshold was set for


def _finish(live: _ScaleTracks, done: np.ndarray, scale: np.float32, frame_num: int, width: int, height: int,
            n_frames: int | None, params: DTParams, cols: dict[str, slice], t_stride: int) -> np.ndarray:
    """Rows (436 columns) of the completed tracks that pass the pruning, as the C++ prints them."""
    L = params.track_length
    trajectory = live.points[done] * scale
    valid, mean, std, length, shape = trajectory_statistics(trajectory, params.min_var, params.max_var,
                                                            params.max_dis)
    if live.disp is not None:
        moving, shape = displacement_shape(live.disp[done] * scale,
                                           params.min_camera_motion * height / CAMERA_MOTION_ROWS)
        valid &= moving
    n = int(valid.sum())
    rows = np.empty((n, cols["mbhy"].stop), np.float32)
    rows[:, 0] = frame_num
    rows[:, 1:3] = mean[valid]
    rows[:, 3:5] = std[valid]
    rows[:, 5] = length[valid]
    rows[:, 6] = scale
    rows[:, 7] = np.clip(mean[valid, 0] / np.float32(width), 0, 0.999)
    rows[:, 8] = np.clip(mean[valid, 1] / np.float32(height), 0, 0.999)
    rows[:, 9] = (np.clip((frame_num - L / 2.0) / n_frames, 0, 0.999) if n_frames else np.nan)
    rows[:, cols["traj"]] = shape[valid].reshape(n, 2 * L)
    desc = live.desc[done][valid] * np.float32(1.0 / t_stride)      # (n, nt, 132)
    start = 0
    for name, n_bins in BINS.items():
        width_c = n_bins * params.nxy_cells ** 2
        rows[:, cols[name]] = desc[:, :, start:start + width_c].reshape(n, params.nt_cells * width_c)
        start += width_c
    return rows


def dense_trajectories(frames: Iterable[np.ndarray], params: DTParams = DTParams(),
                       n_frames: int | None = None, flows: Iterable[np.ndarray] | None = None) -> np.ndarray:
    """All trajectories of a video as one (n, 436) float32 array (see ``column_slices``).

    When ``n_frames`` is None and ``frames`` has a length, that length is used for t_pos; otherwise
    t_pos is filled in at the end from the number of frames seen.
    """
    if n_frames is None and hasattr(frames, "__len__"):
        n_frames = len(frames)  # type: ignore[arg-type]
    counted = _Counter(frames)
    parts = list(iter_dense_trajectories(counted, params, n_frames, flows))
    out = np.concatenate(parts) if parts else np.zeros((0, n_columns(params)), np.float32)
    if n_frames is None and len(out):
        L = params.track_length
        out[:, 9] = np.clip((out[:, 0] - L / 2.0) / counted.count, 0, 0.999)
    return out


class _Counter:
    def __init__(self, frames: Iterable[np.ndarray]):
        self.frames, self.count = frames, 0

    def __iter__(self):
        for frame in self.frames:
            self.count += 1
            yield frame
