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


def _votes(x: np.ndarray, y: np.ndarray, out: np.ndarray, offset: int, n_bins: int,
           min_flow: float | None) -> None:
    """Write the two-bin magnitude votes of vectors (x, y) into out[:, offset:offset + n_bins (+1)]."""
    mag, angle = cv2.cartToPolar(x, y, angleInDegrees=True)  # OpenCV's fastAtan2, as the C++
    mag = mag.reshape(-1)
    fbin = angle.reshape(-1) * np.float32(n_bins / 360.0)
    bin0 = fbin.astype(np.int32)  # angles are >= 0: truncation is the floor
    mag1 = (fbin - bin0) * mag
    mag0 = mag - mag1
    bin0[bin0 >= n_bins] -= n_bins
    bin1 = bin0 + 1
    bin1[bin1 == n_bins] = 0
    if min_flow is not None:  # HOF: the zero bin (last) takes small flow with weight 1
        still = mag <= min_flow
        bin0[still] = n_bins
        mag0[still] = 1.0
        mag1[still] = 0.0
    base = np.arange(offset, out.size, out.shape[1], dtype=np.intp)
    flat = out.reshape(-1)
    np.put(flat, base + bin1, mag1)
    np.put(flat, base + bin0, mag0)


def cell_sums(prev_grey: np.ndarray, flow: np.ndarray, grid: DescriptorGrid = DescriptorGrid(),
              hof_flow: np.ndarray | None = None) -> np.ndarray:
    """(H, W, 33) sums of the votes over the cell-sized window whose top-left corner is each pixel.

    Channels: HOG (8) from ``prev_grey``; HOF (9) and MBHx, MBHy (8 each) from ``flow`` (or from
    ``hof_flow`` for HOF and MBH when given, the camera-compensated flow of iDT).
    """
    height, width = prev_grey.shape
    motion = flow if hof_flow is None else hof_flow
    votes = np.zeros((height * width, N_VOTES), np.float32)
    gx = cv2.Sobel(prev_grey, cv2.CV_32F, 1, 0, ksize=1)
    gy = cv2.Sobel(prev_grey, cv2.CV_32F, 0, 1, ksize=1)
    _votes(gx, gy, votes, 0, 8, None)
    fx = np.ascontiguousarray(motion[..., 0], np.float32)
    fy = np.ascontiguousarray(motion[..., 1], np.float32)
    _votes(fx, fy, votes, 8, 8, grid.min_flow)
    offset = 17
    for comp in (fx, fy):
        dx = cv2.Sobel(comp, cv2.CV_32F, 1, 0, ksize=1)
        dy = cv2.Sobel(comp, cv2.CV_32F, 0, 1, ksize=1)
        _votes(dx, dy, votes, offset, 8, None)
        offset += 8
    c = grid.cell
    return cv2.boxFilter(votes.reshape(height, width, N_VOTES), -1, (c, c), normalize=False,
                         anchor=(0, 0), borderType=cv2.BORDER_CONSTANT)


def frame_descriptors(sums: np.ndarray, points: np.ndarray, grid: DescriptorGrid = DescriptorGrid()) -> np.ndarray:
    """(n, 132) per-frame HOG|HOF|MBHx|MBHy block descriptors of the patches centred at ``points``.

    points are (n, 2) float32 (x, y) in the pixels of ``sums``; the patch is clamped into the image
    as the C++ ``GetRect`` does; cells are ordered x-major, then y, then bins (``GetDesc``).
    """
    height, width = sums.shape[:2]
    half, size, c = grid.patch_size // 2, grid.patch_size, grid.cell
    rx = np.clip(np.rint(points[:, 0]).astype(np.intp) - half, 0, width - size)
    ry = np.clip(np.rint(points[:, 1]).astype(np.intp) - half, 0, height - size)
    offsets = np.arange(grid.nxy_cells) * c
    cx = (rx[:, None, None] + offsets[:, None]).repeat(grid.nxy_cells, 2)       # (n, x, y)
    cy = (ry[:, None, None] + offsets[None, :]).repeat(grid.nxy_cells, 1)
    cells = sums[cy.reshape(len(points), -1), cx.reshape(len(points), -1)]     # (n, cells, 33)
    np.maximum(cells, 0, out=cells)
    cells += np.float32(grid.epsilon)
    out = []
    start = 0
    for n_bins in BINS.values():
        block = cells[:, :, start:start + n_bins].reshape(len(points), -1)
        block = block / block.sum(axis=1, keepdims=True)
        out.append(np.sqrt(block))
        start += n_bins
    return np.concatenate(out, axis=1)


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
