"""A fixed reference workload timed beside every job, so speed can be compared across machines.

Speed figures are divided by the reference time measured in the same process just before and after
the job (a fixed matmul and a fixed convolution), which cancels most of a machine's speed and load.
It runs single-threaded, whatever the job's thread count, so two BLAS threads fighting over busy
cores cannot disturb it; the minimum over repeats is the least disturbed measurement.
"""
from __future__ import annotations

import time

import numpy as np

_RNG = np.random.default_rng(0)
_A = _RNG.standard_normal((384, 384)).astype(np.float32)
_IMG = _RNG.random((256, 256)).astype(np.float32)


def reference_seconds(repeats: int = 20) -> float:
    """Minimum seconds of one unit of reference work (matmul + 2-D convolution) over ``repeats``."""
    import cv2
    from threadpoolctl import threadpool_limits

    kernel = np.ones((7, 7), np.float32) / 49
    threads = cv2.getNumThreads()
    cv2.setNumThreads(1)
    times = []
    try:
        with threadpool_limits(1):
            for _ in range(repeats):
                start = time.perf_counter()
                _A @ _A
                cv2.filter2D(_IMG, -1, kernel)
                times.append(time.perf_counter() - start)
    finally:
        cv2.setNumThreads(threads)
    return float(np.min(times))
