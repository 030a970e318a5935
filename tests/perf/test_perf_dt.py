"""Speed of the dense-trajectory pipeline (pytest-benchmark; run with ``pytest -m perf tests/perf``).

Single-threaded (OpenCV and BLAS pinned to one thread), as the authors' C++ reference figures:
DenseTrack v1.2 takes 11.1 s of user time for v_Bowling_g01_c01.avi (159 frames, 320x240) and
3.4 s for the 360-frame KTH clip (160x120). ``extra_info`` records frames/s and the ratio of the
whole extraction to the optical flow alone (the floor).
"""
from __future__ import annotations

import time

import cv2
import numpy as np
import pytest

from baselines.video.chi2_svm import chi2_distances
from baselines.video.dt.descriptors import frame_descriptors, integral_histograms
from baselines.video.dt.optical_flow import farneback_pyramid_flow, poly_expansion_pyramid
from baselines.video.dt.trajectories import DTParams, dense_trajectories, pyramid_geometry, retain_freed_memory
from benchmark.common.threads import pin_threads
from benchmark.data.video import read_video

pytestmark = pytest.mark.perf

CLIPS = {"bowling": "v_Bowling_g01_c01.avi", "kth": "person01_boxing_d1_uncomp.avi"}


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    pin_threads(1)
    retain_freed_memory()


@pytest.fixture(scope="module")
def greys(shared_data):
    out = {}
    for key, name in CLIPS.items():
        frames = read_video(shared_data / "videos" / name)
        out[key] = np.stack([cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in frames])
    return out


def _flow_floor(grey: np.ndarray, algorithm: str) -> float:
    """Seconds (CPU) of the per-scale flow alone over the whole clip."""
    scales, sizes = pyramid_geometry(grey.shape[2], grey.shape[1])
    start = time.process_time()
    if algorithm == "farneback":
        prev = poly_expansion_pyramid(grey[0], sizes, scales)
        for frame in grey[1:]:
            polys = poly_expansion_pyramid(frame, sizes, scales)
            farneback_pyramid_flow(prev, polys)
            prev = polys
    else:
        engines = [cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_FAST) for _ in sizes]

        def pyr(img):
            levels = [img]
            for size in sizes[1:]:
                levels.append(cv2.resize(levels[-1], size, interpolation=cv2.INTER_LINEAR))
            return levels

        prev = pyr(grey[0])
        for frame in grey[1:]:
            cur = pyr(frame)
            for dis, a, b in zip(engines, prev, cur):
                dis.calc(a, b, None)
            prev = cur
    return time.process_time() - start


@pytest.mark.parametrize("algorithm", ["farneback", "dis"])
@pytest.mark.parametrize("clip", sorted(CLIPS))
def test_extraction(benchmark, greys, clip, algorithm):
    grey = greys[clip]
    cpu = []

    def run():
        start = time.process_time()
        rows = dense_trajectories(grey, DTParams(flow=algorithm))
        cpu.append(time.process_time() - start)
        return rows

    rows = benchmark.pedantic(run, rounds=1, iterations=1)
    floor = _flow_floor(grey, algorithm)
    benchmark.extra_info.update({
        "frames": len(grey), "trajectories": len(rows), "cpu_s": round(cpu[0], 3),
        "frames_per_s": round(len(grey) / cpu[0], 2), "flow_only_cpu_s": round(floor, 3),
        "ratio_to_flow": round(cpu[0] / floor, 2),
    })


def test_flow_pyramid_per_frame(benchmark, greys):
    grey = greys["bowling"]
    scales, sizes = pyramid_geometry(grey.shape[2], grey.shape[1])
    prev = poly_expansion_pyramid(grey[50], sizes, scales)
    benchmark(lambda: farneback_pyramid_flow(prev, poly_expansion_pyramid(grey[51], sizes, scales)))


def test_opencv_farneback_per_frame(benchmark, greys):
    """cv2.calcOpticalFlowFarneback with the same settings and levels, for comparison (finest level only)."""
    grey = greys["bowling"]
    benchmark(lambda: cv2.calcOpticalFlowFarneback(grey[50], grey[51], None, np.sqrt(2) / 2, 5, 10, 2, 7, 1.5,
                                                   cv2.OPTFLOW_FARNEBACK_GAUSSIAN))


def test_descriptors_per_frame_scale0(benchmark, greys):
    grey = greys["bowling"]
    scales, sizes = pyramid_geometry(grey.shape[2], grey.shape[1])
    flow = farneback_pyramid_flow(poly_expansion_pyramid(grey[50], sizes, scales),
                                  poly_expansion_pyramid(grey[51], sizes, scales))[0]
    rng = np.random.default_rng(0)
    points = (rng.random((3000, 2)) * [320, 240]).astype(np.float32)  # ~ live tracks at scale 0
    benchmark(lambda: frame_descriptors(integral_histograms(grey[50], flow), points))


def test_chi2_kernel(benchmark):
    rng = np.random.default_rng(0)
    train = rng.random((500, 4000))
    test = rng.random((100, 4000))
    benchmark(lambda: chi2_distances(test, train))
