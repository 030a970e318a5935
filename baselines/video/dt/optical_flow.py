"""Dense optical flow shared by the classical and deep pipelines.

Farnebäck uses the settings of the authors' DenseTrack v1.2 code (pyramid factor √2/2, window 10,
2 iterations, poly_n 7, poly_sigma 1.5, Gaussian window); DIS is OpenCV's fast preset; TV-L1 comes
from opencv-contrib's ``cv2.optflow``.
"""
from __future__ import annotations

import functools
import math

import cv2
import numpy as np

FLOW_VERSION = 1  # bump when the flow computation changes, to invalidate cached flow
FLOW_ALGORITHMS = ("farneback", "dis", "tvl1")
FLOW_BOUND = 20.0


def farneback(prev_gray: np.ndarray, next_gray: np.ndarray, levels: int | None = None) -> np.ndarray:
    """Farnebäck flow with DenseTrack's settings; levels default to as many as the image allows."""
    if levels is None:
        short = min(prev_gray.shape[:2])
        levels = max(0, int(math.log(short / 16.0) / math.log(math.sqrt(2))))
    return cv2.calcOpticalFlowFarneback(
        prev_gray, next_gray, None, pyr_scale=math.sqrt(2) / 2, levels=levels, winsize=10,
        iterations=2, poly_n=7, poly_sigma=1.5, flags=cv2.OPTFLOW_FARNEBACK_GAUSSIAN,
    )


def _make_dis():
    return cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_FAST)


def _make_tvl1():
    if not hasattr(cv2, "optflow"):   # plain opencv-python lacks the contrib modules
        raise RuntimeError("TV-L1 flow needs cv2.optflow: pip uninstall opencv-python && "
                           "pip install opencv-contrib-python-headless")
    return cv2.optflow.DualTVL1OpticalFlow_create()


def video_flow(frames: np.ndarray, algorithm: str = "farneback") -> np.ndarray:
    """(T-1, H, W, 2) float32 flow between consecutive RGB frames (T, H, W, 3)."""
    if algorithm not in FLOW_ALGORITHMS:
        raise ValueError(f"unknown flow algorithm {algorithm!r}; valid: {', '.join(FLOW_ALGORITHMS)}")
    grey = [cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in frames]
    if len(grey) < 2:
        return np.zeros((0, *frames.shape[1:3], 2), np.float32)
    if algorithm == "farneback":
        return np.stack([farneback(a, b) for a, b in zip(grey[:-1], grey[1:])])
    engine = _make_dis() if algorithm == "dis" else _make_tvl1()
    return np.stack([engine.calc(a, b, None) for a, b in zip(grey[:-1], grey[1:])])


def quantise(flow: np.ndarray, bound: float = FLOW_BOUND) -> np.ndarray:
    """Bound flow to ±bound and quantise to uint8, as the usual two-stream tools store it."""
    clipped = np.clip(flow.astype(np.float32), -bound, bound)
    return np.round((clipped + bound) * (255.0 / (2 * bound))).astype(np.uint8)


def dequantise(q: np.ndarray, bound: float = FLOW_BOUND) -> np.ndarray:
    return q.astype(np.float32) * (2 * bound / 255.0) - bound


# --- DenseTrack's own Farnebäck pyramid -------------------------------------------------------
# The authors' code runs Farnebäck coarse-to-fine over the same √2 pyramid it samples trajectories
# on, median-filters (5x5) the flow of every level before it seeds the next finer level, and tracks
# the points of scale k with the flow of level k. cv2.calcOpticalFlowFarneback returns only the
# finest level and has no median step, so the levels are rebuilt here from OpenCV primitives
# (filter2D, sepFilter2D, medianBlur) and an exact float32 bilinear sampling in NumPy; the
# arithmetic follows OpenCV's (and the authors') Farnebäck. Against the authors' output on two
# UCF101 clips this reproduces 99.9% of the trajectories (tests/test_dt_reference.py).

_FB_BORDER = np.array([0.14, 0.14, 0.4472, 0.4472, 0.4472], np.float32)


@functools.lru_cache(maxsize=8)
def _poly_kernels(n: int, sigma: float):
    x = np.arange(-n, n + 1, dtype=np.float64)
    g = np.exp(-x * x / (2 * sigma * sigma))
    g /= g.sum()
    g32 = g.astype(np.float32)
    xg = (x * g32).astype(np.float32)
    xxg = (x * x * g32).astype(np.float32)
    gm = np.zeros((6, 6))
    gy, gx = np.meshgrid(g32.astype(np.float64), g32.astype(np.float64), indexing="ij")
    yy, xx = np.meshgrid(x, x, indexing="ij")
    w = gy * gx
    gm[0, 0] = w.sum()
    gm[1, 1] = (w * xx * xx).sum()
    gm[3, 3] = (w * xx ** 4).sum()
    gm[5, 5] = (w * xx * xx * yy * yy).sum()
    gm[2, 2] = gm[0, 3] = gm[0, 4] = gm[3, 0] = gm[4, 0] = gm[1, 1]
    gm[4, 4] = gm[3, 3]
    gm[3, 4] = gm[4, 3] = gm[5, 5]
    inv = np.linalg.inv(gm)
    return g32, xg, xxg, (inv[1, 1], inv[0, 3], inv[3, 3], inv[5, 5])


def poly_expansion(image: np.ndarray, poly_n: int = 7, poly_sigma: float = 1.5) -> np.ndarray:
    """Farnebäck's quadratic polynomial expansion of a float32 image: (5, H, W) coefficient planes."""
    g, xg, xxg, (ig11, ig03, ig33, ig55) = _poly_kernels(poly_n, poly_sigma)
    border = cv2.BORDER_REPLICATE

    def vertical(img, k):
        return cv2.filter2D(img, cv2.CV_32F, k.reshape(-1, 1), borderType=border)

    def horizontal(img, k):
        return cv2.filter2D(img, cv2.CV_32F, k.reshape(1, -1), borderType=border)

    rows = [vertical(image, k) for k in (g, xg, xxg)]
    b1, b2, b4 = (horizontal(rows[0], k) for k in (g, xg, xxg))
    b3, b6 = (horizontal(rows[1], k) for k in (g, xg))
    b5 = horizontal(rows[2], g)
    out = np.empty((5, *image.shape), np.float32)
    out[0] = b3 * ig11
    out[1] = b2 * ig11
    out[2] = b1 * ig03 + b5 * ig33
    out[3] = b1 * ig03 + b4 * ig33
    out[4] = b6 * ig55
    return out


def poly_expansion_pyramid(grey: np.ndarray, sizes, scales, poly_n: int = 7,
                           poly_sigma: float = 1.5) -> list[np.ndarray]:
    """Polynomial expansion at every pyramid level, each level blurred and resized from full size."""
    image = grey.astype(np.float32)
    levels = []
    for (width, height), scale in zip(sizes, scales):
        sigma = (scale - 1) * 0.5
        ksize = max(int(round(sigma * 5)) | 1, 3)
        blurred = cv2.GaussianBlur(image, (ksize, ksize), sigma, sigmaY=sigma)
        resized = cv2.resize(blurred, (width, height), interpolation=cv2.INTER_LINEAR)
        levels.append(poly_expansion(resized, poly_n, poly_sigma))
    return levels


@functools.lru_cache(maxsize=32)
def _border_weights(height: int, width: int) -> np.ndarray:
    """Farnebäck's border attenuation for one pyramid level, (H, W) float32."""
    b = len(_FB_BORDER)

    def weights(n: int) -> np.ndarray:
        i = np.arange(n)
        low = np.where(i < b, _FB_BORDER[np.minimum(i, b - 1)], 1.0)
        high = np.where(i >= n - b, _FB_BORDER[np.clip(n - i - 1, 0, b - 1)], 1.0)
        return (low * high).astype(np.float32)

    return weights(height)[:, None] * weights(width)[None, :]


def _update_matrices(r0: np.ndarray, r1: np.ndarray, flow: tuple[np.ndarray, np.ndarray],
                     weights: np.ndarray) -> np.ndarray:
    """Farnebäck's per-pixel G and h, (5, H, W), for the current flow estimate (``kernels.update_matrices``).

    r0, r1: the (5, H, W) coefficients of the two frames; r1 is sampled at the displaced positions with
    exact float32 bilinear weights (OpenCV's ``FarnebackUpdateMatrices``). cv2.remap would do, but it
    rounds the weights to 1/32 px; fed back through Farnebäck's iterations that alone moved ~9% of the
    trajectories by more than 1 px against the authors' output.
    """
    from baselines.video.dt.kernels import update_matrices

    out = np.empty_like(r0)
    update_matrices(r0, r1, flow[0], flow[1], weights, out)
    return out


def _blur_kernel(winsize: int) -> np.ndarray:
    m = winsize // 2
    sigma = m * 0.3
    i = np.arange(-m, m + 1, dtype=np.float64)
    k = np.exp(-i * i / (2 * sigma * sigma)).astype(np.float32)
    return (k / k.astype(np.float64).sum()).astype(np.float32)


def _solve_flow(m: np.ndarray, kernel: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Blur the (5, H, W) G and h with the window, solve for the flow per pixel (``kernels.solve_flow``).

    One plane at a time: sepFilter2D on the 5 planes interleaved rounds differently (~1e-7).
    """
    from baselines.video.dt.kernels import solve_flow

    blurred = [cv2.sepFilter2D(p, cv2.CV_32F, kernel, kernel, borderType=cv2.BORDER_REPLICATE) for p in m]
    dx = np.empty(m.shape[1:], np.float32)
    dy = np.empty(m.shape[1:], np.float32)
    solve_flow(*blurred, dx, dy)
    return dx, dy


def farneback_pyramid_flow(prev_polys: list[np.ndarray], polys: list[np.ndarray], winsize: int = 10,
                           iterations: int = 2, median: int = 5,
                           level_step: float = math.sqrt(2)) -> list[np.ndarray]:
    """Per-level flow (finest first), coarse to fine, each level median-filtered before seeding the next.

    Arguments are the outputs of ``poly_expansion_pyramid`` for two consecutive frames. This is the
    flow pyramid of DenseTrack v1.2 (``my::calcOpticalFlowFarneback``): level k's flow is in level k's
    pixels and is what the trajectories of scale k follow.
    """
    kernel = _blur_kernel(winsize)
    flows: list[np.ndarray] = [None] * len(polys)  # type: ignore[list-item]
    previous = None
    for k in range(len(polys) - 1, -1, -1):
        r0, r1 = prev_polys[k], polys[k]
        height, width = r0.shape[1:]
        if previous is None:
            flow = (np.zeros((height, width), np.float32), np.zeros((height, width), np.float32))
        else:
            up = cv2.resize(previous, (width, height), interpolation=cv2.INTER_LINEAR) * np.float32(level_step)
            flow = (np.ascontiguousarray(up[..., 0]), np.ascontiguousarray(up[..., 1]))
        weights = _border_weights(height, width)
        m = _update_matrices(r0, r1, flow, weights)
        for i in range(iterations):
            flow = _solve_flow(m, kernel)
            if i < iterations - 1:
                m = _update_matrices(r0, r1, flow, weights)
        if median:
            flow = tuple(cv2.medianBlur(f, median) for f in flow)
        previous = cv2.merge(flow)
        flows[k] = previous
    return flows
