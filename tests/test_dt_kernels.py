"""The compiled dense-trajectory loops equal, bit for bit, the NumPy formulation they replaced.

The NumPy versions below are the specification (whole-image float32 gathers and scatters, as the
extractor computed them when it was matched against the authors' C++ output); the kernels must give
the same bits on random inputs, on flows that push samples off the image, and on real frames.
"""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from baselines.video.dt.descriptors import frame_descriptors, integral_histograms
from baselines.video.dt.kernels import update_matrices
from baselines.video.dt.optical_flow import _blur_kernel, _border_weights, _solve_flow, poly_expansion


def _numpy_update_matrices(r0, r1, dx, dy, weights):
    height, width = weights.shape
    gx, gy = np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32))
    fx, fy = gx + dx, gy + dy
    one, half = np.float32(1.0), np.float32(0.5)
    x0, y0 = np.floor(fx), np.floor(fy)
    ax, ay = fx - x0, fy - y0
    xi = np.clip(x0, 0, width - 2).astype(np.intp)
    yi = np.clip(y0, 0, height - 2).astype(np.intp)
    top = yi * width + xi
    flat = r1.reshape(5, -1)
    w = (one - ax) * (one - ay) * flat[:, top]
    w += ax * (one - ay) * flat[:, top + 1]
    w += (one - ax) * ay * flat[:, top + width]
    w += ax * ay * flat[:, top + width + 1]
    r2, r3 = w[0], w[1]
    r4, r5, r6 = (r0[2] + w[2]) * half, (r0[3] + w[3]) * half, (r0[4] + w[4]) * np.float32(0.25)
    outside = ~((fx >= 0) & (fx < width - 1) & (fy >= 0) & (fy < height - 1))
    r2[outside], r3[outside] = 0, 0
    r4[outside], r5[outside], r6[outside] = r0[2][outside], r0[3][outside], r0[4][outside] * half
    h2 = ((r0[0] - r2) * half + r4 * dy + r6 * dx) * weights
    h3 = ((r0[1] - r3) * half + r6 * dy + r5 * dx) * weights
    r4, r5, r6 = r4 * weights, r5 * weights, r6 * weights
    return np.stack([r4 * r4 + r6 * r6, (r4 + r5) * r6, r5 * r5 + r6 * r6, r4 * h2 + r6 * h3, r6 * h2 + r5 * h3])


def _numpy_votes(x, y, n_bins, min_flow):
    mag, angle = cv2.cartToPolar(x, y, angleInDegrees=True)
    mag, fbin = mag.reshape(-1), angle.reshape(-1) * np.float32(n_bins / 360.0)
    floor = np.floor(fbin)
    mag1 = (fbin - floor) * mag
    mag0 = mag - mag1
    bin0 = np.minimum(floor.astype(np.intp), n_bins - 1)
    bin1 = bin0 + 1
    bin1[bin1 == n_bins] = 0
    if min_flow is not None:
        still = mag <= min_flow
        bin0[still], mag0[still], mag1[still] = n_bins, 1.0, 0.0
    out = np.zeros((mag.size, n_bins + (min_flow is not None)), np.float32)
    rows = np.arange(mag.size)
    out[rows, bin1] = mag1
    out[rows, bin0] = mag0
    return out.reshape(*x.shape, -1)


def _frames(seed: int, height: int = 37, width: int = 53):
    rng = np.random.default_rng(seed)
    base = cv2.GaussianBlur(rng.uniform(0, 255, (height, width)).astype(np.float32), (0, 0), 2)
    return base, np.roll(base, (1, 2), axis=(0, 1))


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("flow_px", [0.0, 0.7, 9.0])  # 9 px pushes many samples off the 37x53 image
def test_update_matrices_kernel_equals_the_numpy_formulation(seed, flow_px):
    a, b = _frames(seed)
    r0, r1 = poly_expansion(a), poly_expansion(b)
    rng = np.random.default_rng(seed + 10)
    dx, dy = (rng.standard_normal(a.shape).astype(np.float32) * np.float32(flow_px) for _ in range(2))
    weights = _border_weights(*a.shape)
    out = np.empty_like(r0)
    update_matrices(r0, r1, dx, dy, weights, out)
    np.testing.assert_array_equal(out, _numpy_update_matrices(r0, r1, dx, dy, weights))


def _numpy_integral_histograms(grey, flow, min_flow=0.4):
    """Votes of the 4 channels as (H, W, 33) planes, then float32 running row sums added down the columns."""
    def gradient(image):
        return cv2.Sobel(image, cv2.CV_32F, 1, 0, ksize=1), cv2.Sobel(image, cv2.CV_32F, 0, 1, ksize=1)

    fx, fy = np.ascontiguousarray(flow[..., 0]), np.ascontiguousarray(flow[..., 1])
    votes = np.concatenate([_numpy_votes(*gradient(grey), 8, None), _numpy_votes(fx, fy, 8, min_flow),
                            _numpy_votes(*gradient(fx), 8, None), _numpy_votes(*gradient(fy), 8, None)], axis=-1)
    integral = np.zeros((votes.shape[0] + 1, votes.shape[1] + 1, votes.shape[2]), np.float32)
    np.cumsum(votes, axis=1, out=integral[1:, 1:])
    np.cumsum(integral[1:, 1:], axis=0, out=integral[1:, 1:])
    return integral


@pytest.mark.parametrize("seed", [0, 1])
def test_vote_integral_kernel_equals_numpy_votes_and_running_sums(seed):
    grey, shifted = _frames(seed)
    rng = np.random.default_rng(seed + 20)
    flow = (rng.standard_normal((*grey.shape, 2)) * 0.6).astype(np.float32)
    flow[:4] = 0                                                        # zero vectors
    flow[4, :6] = np.float32(0.4) / np.float32(np.sqrt(2))              # magnitudes at the HOF threshold
    flow[5, :6] = (1.0, -1e-9)                                          # fastAtan2 gives exactly 360 degrees
    expected = _numpy_integral_histograms(grey.astype(np.uint8), flow)
    np.testing.assert_array_equal(integral_histograms(grey.astype(np.uint8), flow), expected)


@pytest.mark.parametrize("seed", [0, 1])
def test_solve_flow_equals_per_plane_blur_and_numpy_float64_solve(seed):
    rng = np.random.default_rng(seed)
    m = rng.standard_normal((5, 37, 53)).astype(np.float32)
    m[0] = np.abs(m[0]) * 3
    m[2] = np.abs(m[2]) * 3
    kernel = _blur_kernel(10)
    g11, g12, g22, h1, h2 = (cv2.sepFilter2D(m[i], cv2.CV_32F, kernel, kernel,
                                             borderType=cv2.BORDER_REPLICATE).astype(np.float64) for i in range(5))
    idet = 1.0 / (g11 * g22 - g12 * g12 + 1e-3)
    dx, dy = _solve_flow(m, kernel)
    np.testing.assert_array_equal(dx, ((g11 * h2 - g12 * h1) * idet).astype(np.float32))
    np.testing.assert_array_equal(dy, ((g22 * h1 - g12 * h2) * idet).astype(np.float32))


def _numpy_frame_descriptors(integral, points, patch=32, k=2, epsilon=0.05):
    rows, cols, n_planes = integral.shape
    n, c, half = len(points), patch // k, patch // 2
    rx = np.clip(np.rint(points[:, 0]).astype(np.intp) - half, 0, cols - 1 - patch)
    ry = np.clip(np.rint(points[:, 1]).astype(np.intp) - half, 0, rows - 1 - patch)
    offsets = np.arange(k + 1) * c
    corner = (ry[:, None, None] + offsets[None, None, :]) * cols + rx[:, None, None] + offsets[None, :, None]
    v = np.take(integral.reshape(-1, n_planes), corner, axis=0)
    cells = (v[:, 1:, 1:] + v[:, :-1, :-1] - v[:, :-1, 1:] - v[:, 1:, :-1]).reshape(n, k * k, n_planes)
    np.maximum(cells, 0, out=cells)
    cells += np.float32(epsilon)
    bins = [8, 9, 8, 8]
    totals = np.add.reduceat(cells.sum(axis=1), np.cumsum([0, *bins])[:-1], axis=1)
    cells /= totals[:, None, np.repeat(np.arange(4), bins)]
    np.sqrt(cells, out=cells)
    order = [cell * n_planes + start + b for start, n_bins in zip(np.cumsum([0, *bins]), bins)
             for cell in range(k * k) for b in range(n_bins)]
    return cells.reshape(n, -1)[:, order]


@pytest.mark.parametrize("seed", [0, 1])
def test_block_descriptor_kernel_equals_the_numpy_formulation(seed):
    grey, _ = _frames(seed, 71, 97)
    rng = np.random.default_rng(seed + 30)
    flow = (rng.standard_normal((*grey.shape, 2)) * 2).astype(np.float32)
    integral = integral_histograms(grey.astype(np.uint8), flow)
    points = rng.uniform(-5, 105, (300, 2)).astype(np.float32)   # some patches clamped at the borders
    np.testing.assert_array_equal(frame_descriptors(integral, points), _numpy_frame_descriptors(integral, points))


def _opencv_windowed_match(xy, desc, prev_xy, prev_desc, window):
    """The authors' iDT matching in OpenCV: BFMatcher.match under windowedMatchingMask (|dx|, |dy| < window)."""
    mask = (np.abs(xy[:, None, 0] - prev_xy[None, :, 0]) < window) & \
        (np.abs(xy[:, None, 1] - prev_xy[None, :, 1]) < window)
    nearest = np.full(len(xy), -1, np.intp)
    for m in cv2.BFMatcher(cv2.NORM_HAMMING).match(desc, prev_desc, mask.view(np.uint8)):
        nearest[m.queryIdx] = m.trainIdx
    return nearest


def _kernel_windowed_match(xy, desc, prev_xy, prev_desc, window):
    from baselines.video.dt.kernels import windowed_match

    nearest = np.empty(len(xy), np.intp)
    windowed_match(xy, desc.view(np.uint64), prev_xy, prev_desc.view(np.uint64), np.float32(window), nearest)
    return nearest


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_windowed_match_equals_opencv_bfmatcher_with_the_window_mask(seed):
    rng = np.random.default_rng(seed)
    n0, n1 = 300, 280
    prev_xy = rng.uniform(0, 320, (n0, 2)).astype(np.float32)
    xy = rng.uniform(0, 320, (n1, 2)).astype(np.float32)
    xy[:20] = prev_xy[:20] + np.float32(25)          # exactly on the window's edge: outside
    xy[20:40] = prev_xy[20:40] + np.float32(24.99)
    # few distinct descriptors, so equal distances are common (the first train index must win)
    palette = rng.integers(0, 256, (12, 32), dtype=np.uint8)
    prev_desc, desc = palette[rng.integers(0, 12, n0)], palette[rng.integers(0, 12, n1)]
    desc[::7] ^= rng.integers(0, 256, (len(desc[::7]), 32), dtype=np.uint8)
    ours = _kernel_windowed_match(xy, desc, prev_xy, prev_desc, 25)
    expected = _opencv_windowed_match(xy, desc, prev_xy, prev_desc, 25)
    assert (expected == -1).any() and (expected >= 0).sum() > n1 // 2
    np.testing.assert_array_equal(ours, expected)


def test_windowed_match_equals_opencv_on_orb_features_of_moving_frames():
    orb = cv2.ORB_create(1000)
    rng = np.random.default_rng(5)
    a, b = (cv2.GaussianBlur(rng.integers(0, 256, (240, 320), dtype=np.uint8), (0, 0), 1) for _ in range(2))
    shifted = np.roll(a, (3, -5), axis=(0, 1))
    for first, second in ((a, shifted), (a, b)):
        kp0, d0 = orb.detectAndCompute(first, None)
        kp1, d1 = orb.detectAndCompute(second, None)
        prev_xy, xy = cv2.KeyPoint_convert(kp0), cv2.KeyPoint_convert(kp1)
        assert min(len(xy), len(prev_xy)) > 300
        np.testing.assert_array_equal(_kernel_windowed_match(xy, d1, prev_xy, d0, 25),
                                      _opencv_windowed_match(xy, d1, prev_xy, d0, 25))
