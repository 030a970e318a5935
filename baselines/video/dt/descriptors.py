"""Trajectory-aligned descriptors of DenseTrack v1.2: trajectory shape, HOG, HOF, MBHx, MBHy.

Per frame and pyramid scale, every pixel votes its gradient (HOG), flow (HOF) or flow-gradient
(MBH) magnitude into the two nearest of 8 orientation bins over 360° (HOF adds a 9th bin for
|flow| <= 0.4, weight 1); the votes are summed over 16x16 cells with float32 integral images per
bin, as the C++ code does (a cell is four lookups; the per-pixel loops are in ``kernels``).
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
_BOUNDS = np.cumsum([0, *BINS.values()])  # first plane of each descriptor in the vote image, then the end


def integral_histograms(prev_grey: np.ndarray, flow: np.ndarray, grid: DescriptorGrid = DescriptorGrid(),
                        hof_flow: np.ndarray | None = None) -> np.ndarray:
    """(H + 1, W + 1, 33) float32 integral images of the orientation votes, one per bin.

    Planes: HOG (8) from ``prev_grey``; HOF (9) and MBHx, MBHy (8 each) from ``flow`` (or from
    ``hof_flow`` for HOF and MBH when given, the camera-compensated flow of iDT). Float32 per bin,
    as the C++ ``BuildDescMat``.
    """
    from baselines.video.dt.kernels import vote_integral

    height, width = prev_grey.shape
    motion = flow if hof_flow is None else hof_flow
    fx = np.ascontiguousarray(motion[..., 0], np.float32)
    fy = np.ascontiguousarray(motion[..., 1], np.float32)

    def polar(x, y):  # (magnitude, angle in degrees) with OpenCV's fastAtan2, as the C++
        return cv2.cartToPolar(x, y, angleInDegrees=True)

    def gradient(image):
        return cv2.Sobel(image, cv2.CV_32F, 1, 0, ksize=1), cv2.Sobel(image, cv2.CV_32F, 0, 1, ksize=1)

    # interleaved (H + 1, W + 1, 33): a corner lookup in frame_descriptors then reads 33 adjacent floats
    integral = np.empty((height + 1, width + 1, N_VOTES), np.float32)
    # min_flow in float32: the magnitudes are float32 and are compared in float32, as before the kernel
    vote_integral(*polar(*gradient(prev_grey)), *polar(fx, fy), *polar(*gradient(fx)), *polar(*gradient(fy)),
                  _BOUNDS, np.float32(grid.min_flow), integral)
    return integral


def frame_descriptors(integral: np.ndarray, points: np.ndarray, grid: DescriptorGrid = DescriptorGrid()) -> np.ndarray:
    """(n, 132) per-frame HOG|HOF|MBHx|MBHy block descriptors of the patches centred at ``points``.

    points are (n, 2) float32 (x, y) in the pixels of the frame; the patch is clamped into the image
    as the C++ ``GetRect`` does; cells are ordered x-major, then y, then bins (``GetDesc``).
    """
    from baselines.video.dt.kernels import block_descriptors

    rows, cols, _ = integral.shape
    height, width = rows - 1, cols - 1
    half, size = grid.patch_size // 2, grid.patch_size
    rx = np.clip(np.rint(points[:, 0]).astype(np.intp) - half, 0, width - size)
    ry = np.clip(np.rint(points[:, 1]).astype(np.intp) - half, 0, height - size)
    out = np.empty((len(points), grid.nxy_cells ** 2 * N_VOTES), np.float32)
    block_descriptors(integral, rx, ry, grid.cell, grid.nxy_cells, np.float32(grid.epsilon), _BOUNDS, out)
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
