"""Trajectory-aligned descriptors of DenseTrack v1.2: trajectory shape, HOG, HOF, MBHx, MBHy.

Per frame and pyramid scale, every pixel votes its gradient (HOG), flow (HOF) or flow-gradient
(MBH) magnitude into the two nearest of 8 orientation bins over 360° (HOF adds a 9th bin for
|flow| <= 0.4, weight 1). The C++ code sums the votes over 16x16 cells with integral histograms;
here one ``cv2.boxFilter`` gives the sum of every 16x16 window at once, so a cell is one lookup.
A track's per-frame descriptor is its 2x2 cells around the point (v1.2 normalisation: + 0.05 per
bin, L1 over the 2x2 block, square root); the 15 frames are averaged in 3 temporal cells of 5.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class DescriptorGrid:
    """Descriptor geometry: an N x N patch split into nxy x nxy cells, L frames into nt cells."""

    patch_size: int = 32
    nxy_cells: int = 2
    nt_cells: int = 3
    epsilon: float = 0.05
    min_flow: float = 0.4

    @property
    def cell(self) -> int:
        return self.patch_size // self.nxy_cells


# orientation bins per channel in the per-pixel vote image, in output order
BINS = {"hog": 8, "hof": 9, "mbhx": 8, "mbhy": 8}
N_VOTES = sum(BINS.values())


def _votes(x: np.ndarray, y: np.ndarray, out: np.ndarray, channel: int, n_bins: int,
           min_flow: float | None) -> None:
    """Write the two-bin magnitude votes of vectors (x, y) into planes out[channel:channel + n_bins (+1)]."""
    mag, angle = cv2.cartToPolar(x, y, angleInDegrees=True)  # OpenCV's fastAtan2, as the C++
    mag = mag.reshape(-1)
    fbin = angle.reshape(-1) * np.float32(n_bins / 360.0)
    floor = np.floor(fbin)
    mag1 = (fbin - floor) * mag
    mag0 = mag - mag1
    # angles are in [0, 360); the clamp only guards float rounding up to exactly n_bins
    bin0 = np.minimum(floor.astype(np.intp), n_bins - 1)
    bin1 = bin0 + 1
    bin1[bin1 == n_bins] = 0
    if min_flow is not None:  # HOF: the zero bin (last) takes small flow with weight 1
        still = mag <= min_flow
        bin0[still] = n_bins
        mag0[still] = 1.0
        mag1[still] = 0.0
    plane = mag.size
    pixels = np.arange(channel * plane, (channel + 1) * plane, dtype=np.intp)
    flat = out.reshape(-1)
    flat[bin1 * plane + pixels] = mag1
    flat[bin0 * plane + pixels] = mag0


def cell_sums(prev_grey: np.ndarray, flow: np.ndarray, grid: DescriptorGrid = DescriptorGrid(),
              hof_flow: np.ndarray | None = None) -> np.ndarray:
    """(33, H, W) sums of the votes over the cell-sized window whose top-left corner is each pixel.

    Planes: HOG (8) from ``prev_grey``; HOF (9) and MBHx, MBHy (8 each) from ``flow`` (or from
    ``hof_flow`` for HOF and MBH when given, the camera-compensated flow of iDT). Windows that
    reach past the bottom or right edge are not valid (``frame_descriptors`` never reads them).
    """
    height, width = prev_grey.shape
    motion = flow if hof_flow is None else hof_flow
    votes = np.zeros((N_VOTES, height, width), np.float32)
    gx = cv2.Sobel(prev_grey, cv2.CV_32F, 1, 0, ksize=1)
    gy = cv2.Sobel(prev_grey, cv2.CV_32F, 0, 1, ksize=1)
    _votes(gx, gy, votes, 0, 8, None)
    fx = np.ascontiguousarray(motion[..., 0], np.float32)
    fy = np.ascontiguousarray(motion[..., 1], np.float32)
    _votes(fx, fy, votes, 8, 8, grid.min_flow)
    channel = 17
    for comp in (fx, fy):
        dx = cv2.Sobel(comp, cv2.CV_32F, 1, 0, ksize=1)
        dy = cv2.Sobel(comp, cv2.CV_32F, 0, 1, ksize=1)
        _votes(dx, dy, votes, channel, 8, None)
        channel += 8
    c = grid.cell
    # the planes stacked as one tall image: a window never crosses planes where it is read
    sums = cv2.boxFilter(votes.reshape(N_VOTES * height, width), -1, (c, c), normalize=False,
                         anchor=(0, 0), borderType=cv2.BORDER_CONSTANT)
    return sums.reshape(N_VOTES, height, width)


def frame_descriptors(sums: np.ndarray, points: np.ndarray, grid: DescriptorGrid = DescriptorGrid()) -> np.ndarray:
    """(n, 132) per-frame HOG|HOF|MBHx|MBHy block descriptors of the patches centred at ``points``.

    points are (n, 2) float32 (x, y) in the pixels of ``sums``; the patch is clamped into the image
    as the C++ ``GetRect`` does; cells are ordered x-major, then y, then bins (``GetDesc``).
    """
    n_planes, height, width = sums.shape
    half, size, c = grid.patch_size // 2, grid.patch_size, grid.cell
    rx = np.clip(np.rint(points[:, 0]).astype(np.intp) - half, 0, width - size)
    ry = np.clip(np.rint(points[:, 1]).astype(np.intp) - half, 0, height - size)
    offsets = np.arange(grid.nxy_cells) * c
    cx = rx[:, None, None] + offsets[None, :, None]                      # (n, x, 1)
    cy = ry[:, None, None] + offsets[None, None, :]                      # (n, 1, y)
    corner = (cy * width + cx).reshape(len(points), -1)                  # (n, cells), x-major
    planes = np.arange(n_planes) * (height * width)
    cells = sums.reshape(-1)[corner[:, :, None] + planes]                # (n, cells, 33)
    np.maximum(cells, 0, out=cells)
    cells += np.float32(grid.epsilon)
    out = np.empty((len(points), sum(BINS.values()) * grid.nxy_cells ** 2), np.float32)
    start = col = 0
    for n_bins in BINS.values():
        block = cells[:, :, start:start + n_bins].reshape(len(points), -1)
        width_c = block.shape[1]
        out[:, col:col + width_c] = np.sqrt(block / block.sum(axis=1, keepdims=True))
        start += n_bins
        col += width_c
    return out


def trajectory_statistics(points: np.ndarray, min_var: float, max_var: float, max_dis: float):
    """DenseTrack's ``IsValid`` for (n, L+1, 2) trajectories in original-resolution pixels.

    Returns (valid mask, mean (n, 2), std (n, 2), length (n,), normalised displacements (n, L, 2)).
    Static (both stds < min_var), erratic (a std > max_var) and sudden-jump trajectories (largest step
    > max_dis and > 0.7 of the length) are invalid.
    """
    points = points.astype(np.float32)
    mean = points.mean(axis=1, dtype=np.float32)
    std = np.sqrt(((points - mean[:, None, :]) ** 2).mean(axis=1, dtype=np.float32))
    steps = np.diff(points, axis=1)
    step_len = np.sqrt((steps ** 2).sum(axis=2))
    length = step_len.sum(axis=1, dtype=np.float32)
    longest = step_len.max(axis=1)
    static = (std[:, 0] < min_var) & (std[:, 1] < min_var)
    erratic = (std[:, 0] > max_var) | (std[:, 1] > max_var)
    jump = (longest > max_dis) & (longest > length * np.float32(0.7))
    valid = ~(static | erratic | jump)
    with np.errstate(divide="ignore", invalid="ignore"):
        shape = steps / length[:, None, None]
    return valid, mean, std, length, shape


def displacement_shape(disp: np.ndarray, min_motion: float = 1.0):
    """iDT's ``IsCameraMotion`` on (n, L, 2) compensated displacements: (keep mask, normalised shape).

    A track whose largest compensated step is <= min_motion px moved with the camera and is dropped.
    """
    step_len = np.sqrt((disp.astype(np.float32) ** 2).sum(axis=2))
    keep = step_len.max(axis=1) > min_motion
    total = step_len.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        shape = disp / total[:, None, None]
    return keep, shape
