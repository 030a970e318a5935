"""Compiled loops of the dense-trajectory extractor (numba): bit-identical to the NumPy formulation
they replaced (tests/test_dt_kernels.py keeps it as the oracle) and, for the text output,
byte-identical to printf (tests/test_dt_cli.py).

A profile of `bench features dt` was dominated by steps that OpenCV cannot do without changing the
numbers: Farnebäck's matrix update, which samples the next frame's polynomial coefficients with
exact float32 bilinear weights (cv2.remap rounds them to 1/32 px); the two-bin orientation votes
and their integral images; the block descriptors; and the text formatting. In NumPy these were
chains of whole-image gathers, scatters and temporaries; here each pixel or value is visited once.
Arithmetic is float32 in the NumPy order (numba contracts nothing into fused multiply-adds unless
fastmath is on). Compiled code is cached beside this file: only the first run on a machine compiles.
"""
from __future__ import annotations

import math

import numba
import numpy as np

_HALF = np.float32(0.5)
_QUARTER = np.float32(0.25)
_ONE = np.float32(1.0)


@numba.njit(cache=True, nogil=True, inline="always")
def _bilinear(plane, yi, xi, w00, w01, w10, w11):  # pragma: no cover - compiled
    """plane's 2x2 neighbourhood at (yi, xi) weighted, summed in OpenCV's (and the NumPy version's) order."""
    return w00 * plane[yi, xi] + w01 * plane[yi, xi + 1] + w10 * plane[yi + 1, xi] + w11 * plane[yi + 1, xi + 1]


@numba.njit(cache=True, nogil=True)
def update_matrices(r0, r1, dx, dy, weights, out):  # pragma: no cover - compiled
    """Farnebäck's G and h (5 planes into ``out``) for the flow (dx, dy); r0, r1 are (5, H, W).

    r1 is sampled at (x + dx, y + dy) with float32 bilinear weights; where the 2x2 neighbourhood
    leaves the image, the sample is replaced as OpenCV's ``FarnebackUpdateMatrices`` does.
    """
    height, width = weights.shape
    for y in range(height):
        for x in range(width):
            ddx = dx[y, x]
            ddy = dy[y, x]
            fx = np.float32(x) + ddx
            fy = np.float32(y) + ddy
            if fx >= 0 and fx < width - 1 and fy >= 0 and fy < height - 1:
                x0 = np.floor(fx)
                y0 = np.floor(fy)
                ax = fx - x0
                ay = fy - y0
                xi = int(x0)
                yi = int(y0)
                w00 = (_ONE - ax) * (_ONE - ay)
                w01 = ax * (_ONE - ay)
                w10 = (_ONE - ax) * ay
                w11 = ax * ay
                s0 = _bilinear(r1[0], yi, xi, w00, w01, w10, w11)
                s1 = _bilinear(r1[1], yi, xi, w00, w01, w10, w11)
                s2 = _bilinear(r1[2], yi, xi, w00, w01, w10, w11)
                s3 = _bilinear(r1[3], yi, xi, w00, w01, w10, w11)
                s4 = _bilinear(r1[4], yi, xi, w00, w01, w10, w11)
                r2 = s0
                r3 = s1
                r4 = (r0[2, y, x] + s2) * _HALF
                r5 = (r0[3, y, x] + s3) * _HALF
                r6 = (r0[4, y, x] + s4) * _QUARTER
            else:
                r2 = np.float32(0.0)
                r3 = np.float32(0.0)
                r4 = r0[2, y, x]
                r5 = r0[3, y, x]
                r6 = r0[4, y, x] * _HALF
            w = weights[y, x]
            h2 = ((r0[0, y, x] - r2) * _HALF + r4 * ddy + r6 * ddx) * w
            h3 = ((r0[1, y, x] - r3) * _HALF + r6 * ddy + r5 * ddx) * w
            r4 = r4 * w
            r5 = r5 * w
            r6 = r6 * w
            r6sq = r6 * r6
            out[0, y, x] = r4 * r4 + r6sq
            out[1, y, x] = (r4 + r5) * r6
            out[2, y, x] = r5 * r5 + r6sq
            out[3, y, x] = r4 * h2 + r6 * h3
            out[4, y, x] = r6 * h2 + r5 * h3


@numba.njit(cache=True, nogil=True, inline="always")
def _add_votes(m, angle, n_bins, channel, min_flow, row):  # pragma: no cover - compiled
    """Add one pixel's two-bin magnitude vote to row[channel:]; a HOF vote (min_flow >= 0) with
    magnitude at most min_flow goes, with weight 1, to an extra last bin."""
    fbin = angle * np.float32(n_bins / 360.0)
    floor = np.floor(fbin)
    m1 = (fbin - floor) * m
    m0 = m - m1
    bin0 = min(int(floor), n_bins - 1)   # angles are in [0, 360): this only guards rounding up to 360
    bin1 = bin0 + 1
    if bin1 == n_bins:
        bin1 = 0
    if min_flow >= 0 and m <= min_flow:
        row[channel + n_bins] += _ONE
    else:
        row[channel + bin1] += m1
        row[channel + bin0] += m0


@numba.njit(cache=True, nogil=True)
def vote_integral(hog_mag, hog_angle, hof_mag, hof_angle, mbhx_mag, mbhx_angle, mbhy_mag, mbhy_angle,
                  bounds, min_flow, out):  # pragma: no cover - compiled
    """(H + 1, W + 1, 33) integral images, into ``out``, of the HOG|HOF|MBHx|MBHy orientation votes.

    Each pixel votes its magnitude into the two nearest of 8 bins (HOF: a 9th bin for magnitudes up
    to min_flow); bounds: each descriptor's first plane. The sums are float32 and in the C++ order (a
    running sum along the row, added to the integral above): votes and sums in one pass over the pixels.
    """
    height, width = hog_mag.shape
    planes = out.shape[2]
    row = np.zeros(planes, np.float32)
    out[0, :, :] = 0
    for y in range(height):
        row[:] = 0
        out[y + 1, 0, :] = 0
        for x in range(width):
            _add_votes(hog_mag[y, x], hog_angle[y, x], 8, bounds[0], np.float32(-1.0), row)
            _add_votes(hof_mag[y, x], hof_angle[y, x], 8, bounds[1], min_flow, row)
            _add_votes(mbhx_mag[y, x], mbhx_angle[y, x], 8, bounds[2], np.float32(-1.0), row)
            _add_votes(mbhy_mag[y, x], mbhy_angle[y, x], 8, bounds[3], np.float32(-1.0), row)
            for c in range(planes):
                out[y + 1, x + 1, c] = out[y, x + 1, c] + row[c]


@numba.njit(cache=True, nogil=True)
def solve_flow(g11, g12, g22, h1, h2, dx, dy):  # pragma: no cover - compiled
    """The flow (into dx, dy) that solves the blurred G and h planes, in float64 as OpenCV."""
    height, width = dx.shape
    for y in range(height):
        for x in range(width):
            a11 = np.float64(g11[y, x])
            a12 = np.float64(g12[y, x])
            a22 = np.float64(g22[y, x])
            b1 = np.float64(h1[y, x])
            b2 = np.float64(h2[y, x])
            idet = 1.0 / (a11 * a22 - a12 * a12 + 1e-3)
            dx[y, x] = np.float32((a11 * b2 - a12 * b1) * idet)
            dy[y, x] = np.float32((a22 * b1 - a12 * b2) * idet)


@numba.njit(cache=True, nogil=True, inline="always")
def _numpy_sum(values, start, stop):  # pragma: no cover - compiled
    """values[start:stop].sum() in NumPy's order: the first value plus the pairwise sum of the rest
    (below 8 values one by one from 0, else 8 partial sums combined as a tree, then the remainder).
    Exact for fewer than 16 values after the first; the descriptors sum 7 or 8."""
    rest = stop - start - 1
    if rest < 8:
        total = np.float32(0.0)
        for j in range(start + 1, stop):
            total += values[j]
    else:
        a = start + 1
        total = (((values[a] + values[a + 1]) + (values[a + 2] + values[a + 3]))
                 + ((values[a + 4] + values[a + 5]) + (values[a + 6] + values[a + 7])))
        for j in range(a + 8, stop):
            total += values[j]
    return values[start] + total


@numba.njit(cache=True, nogil=True)
def block_descriptors(integral, rx, ry, cell, n_cells, epsilon, bounds, out):  # pragma: no cover - compiled
    """Per point, the normalised HOG|HOF|MBHx|MBHy descriptors of its n_cells x n_cells block into ``out``.

    integral: (H + 1, W + 1, planes) from ``vote_integral``; (rx, ry): the blocks' top-left corners;
    bounds: the first plane of each descriptor and the end. A cell's sum is four lookups (bottom right
    + top left - bottom left - top right, as the C++), clamped at 0, plus epsilon; each descriptor is
    divided by its sum over the block (L1) and square-rooted. Output order: descriptor, then cell
    (x-major), then bin. All float32, summed in the order of the NumPy formulation.
    """
    planes = integral.shape[2]
    block = n_cells * n_cells
    cells = np.empty((block, planes), np.float32)
    sums = np.empty(planes, np.float32)
    for i in range(len(rx)):
        for cx in range(n_cells):
            x0 = rx[i] + cx * cell
            x1 = x0 + cell
            for cy in range(n_cells):
                y0 = ry[i] + cy * cell
                y1 = y0 + cell
                c = cx * n_cells + cy
                for p in range(planes):
                    v = integral[y1, x1, p] + integral[y0, x0, p] - integral[y1, x0, p] - integral[y0, x1, p]
                    cells[c, p] = max(v, np.float32(0.0)) + epsilon
        for p in range(planes):
            total = cells[0, p]
            for c in range(1, block):
                total += cells[c, p]
            sums[p] = total
        k = 0
        for d in range(len(bounds) - 1):
            norm = _numpy_sum(sums, bounds[d], bounds[d + 1])
            for c in range(block):
                for p in range(bounds[d], bounds[d + 1]):
                    out[i, k] = np.sqrt(cells[c, p] / norm)
                    k += 1


_TAB, _NEWLINE, _MINUS, _POINT, _ZERO = 9, 10, 45, 46, 48


# "00".."99": two digits per division by 100 (half the divisions of one digit at a time)
_DIGIT_PAIRS = np.frombuffer("".join(f"{i:02d}" for i in range(100)).encode("ascii"), np.uint8).reshape(100, 2)


# a %.7f field of q / 10**7 in [0, 1] is _UNIT_HEAD[q // 10**4] ("d.ddd") + _FOUR_DIGITS[q % 10**4]
_FOUR_DIGITS = np.frombuffer("".join(f"{i:04d}" for i in range(10_000)).encode("ascii"), np.uint8).reshape(-1, 4)
_UNIT_HEAD = np.frombuffer("".join(f"{i // 1000}.{i % 1000:03d}" for i in range(1001)).encode("ascii"),
                           np.uint8).reshape(-1, 5)


@numba.njit(cache=True, nogil=True, inline="always")
def _write_digits(value, n_digits, out, pos):  # pragma: no cover - compiled
    """``value``'s last n_digits decimal digits, zero-padded, at out[pos:]; returns the next position."""
    end = pos + n_digits
    k = end
    while k - pos >= 2:
        pair = value % 100
        value //= 100
        k -= 2
        out[k] = _DIGIT_PAIRS[pair, 0]
        out[k + 1] = _DIGIT_PAIRS[pair, 1]
    if k > pos:
        out[pos] = _ZERO + value % 10
    return end


@numba.njit(cache=True, nogil=True, inline="always")
def _n_digits(value):  # pragma: no cover - compiled
    n = 1
    while value >= 10:
        value //= 10
        n += 1
    return n


@numba.njit(cache=True, nogil=True)
def format_dt_text(batch, n_fixed, out):  # pragma: no cover - compiled
    """DenseTrack's text for float32 rows into the uint8 buffer ``out``; returns the bytes written.

    Column 0 as ``%d``, columns 1..n_fixed-1 as ``%f``, the rest as ``%.7f``, each followed by a tab,
    each row by a newline. Exact: a float32 times 10**6 or 10**7 is exact in float64, and np.rint
    rounds half to even, as printf rounds the exact binary value. Returns -1 (and the caller uses
    printf) when a value is outside what this covers: ``%d``/``%f`` values must be finite and below
    10**8 - 1 in magnitude, ``%.7f`` values in [0, 1] and not -0.0.
    """
    pos = 0
    n_rows, n_columns = batch.shape
    for i in range(n_rows):
        for j in range(n_columns):
            v = np.float64(batch[i, j])
            if j < n_fixed:
                if not abs(v) < 1e8 - 1:                 # also NaN and infinities
                    return -1
            elif not (v >= 0 and v <= 1) or math.copysign(1.0, v) < 0:
                return -1
            if j == 0:                                   # %d of the value truncated toward zero
                whole = np.int64(abs(v))
                if v < 0 and whole != 0:
                    out[pos] = _MINUS
                    pos += 1
                pos = _write_digits(whole, _n_digits(whole), out, pos)
            elif j < n_fixed:                            # %f: a sign whenever the sign bit is set
                if math.copysign(1.0, v) < 0:
                    out[pos] = _MINUS
                    pos += 1
                q = np.int64(np.rint(abs(v) * 1e6))
                whole = q // 1_000_000
                pos = _write_digits(whole, _n_digits(whole), out, pos)
                out[pos] = _POINT
                pos = _write_digits(q - whole * 1_000_000, 6, out, pos + 1)
            else:                                        # %.7f of a value in [0, 1]
                q = np.int64(np.rint(v * 1e7))
                head = q // 10_000
                tail = q - head * 10_000
                for k in range(5):
                    out[pos + k] = _UNIT_HEAD[head, k]
                for k in range(4):
                    out[pos + 5 + k] = _FOUR_DIGITS[tail, k]
                pos += 9
            out[pos] = _TAB
            pos += 1
        out[pos] = _NEWLINE
        pos += 1
    return pos


_M1 = np.uint64(0x5555555555555555)
_M2 = np.uint64(0x3333333333333333)
_M4 = np.uint64(0x0F0F0F0F0F0F0F0F)
_H01 = np.uint64(0x0101010101010101)


@numba.njit(cache=True, nogil=True)
def windowed_match(query_xy, query_words, train_xy, train_words, max_delta, out):  # pragma: no cover - compiled
    """Nearest binary descriptor (Hamming) among the train keypoints less than max_delta px away in x and in y.

    The authors' iDT matching: ``BFMatcher.match`` with ``windowedMatchingMask(kpts, prev_kpts, 25, 25)``.
    Descriptors are viewed as uint64 words; ``out[i]`` is the train index (the first of equal distances,
    as OpenCV keeps it) or -1 where no train keypoint lies in the window. Train keypoints are visited in
    x order from a binary search one point wider than the window; the window test itself is exact.
    """
    n_words = query_words.shape[1]
    order = np.argsort(train_xy[:, 0])
    sorted_x = train_xy[order, 0]
    for i in range(query_xy.shape[0]):
        qx = query_xy[i, 0]
        qy = query_xy[i, 1]
        best = 1 << 30
        best_j = -1
        start = np.searchsorted(sorted_x, qx - max_delta - 1)
        stop = np.searchsorted(sorted_x, qx + max_delta + 1, side="right")
        for k in range(start, stop):
            j = order[k]
            if abs(train_xy[j, 0] - qx) < max_delta and abs(train_xy[j, 1] - qy) < max_delta:
                distance = 0
                for w in range(n_words):
                    v = query_words[i, w] ^ train_words[j, w]
                    v = v - ((v >> np.uint64(1)) & _M1)  # bit count of a 64-bit word (SWAR)
                    v = (v & _M2) + ((v >> np.uint64(2)) & _M2)
                    v = (v + (v >> np.uint64(4))) & _M4
                    distance += int((v * _H01) >> np.uint64(56))
                if distance < best or (distance == best and j < best_j):
                    best = distance
                    best_j = j
        out[i] = best_j
