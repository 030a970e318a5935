"""Fixed reference workloads timed beside every job, so speed can be compared across machines and hours.

Two are measured in the job's process just before and after the job, and the speed gate divides each
repeat's phase times by the larger of their slow-downs (``benchmark.analysis.host_speed``):

* ``reference_seconds``: a fixed matmul and a fixed convolution, single-threaded, the minimum over 20 short
  repeats. It sees the speed of a core (clock, the hardware) and, by design, none of the moments when the
  core was taken: the minimum picks an undisturbed repeat.
* ``training_reference_seconds``: a small convnet's forward and backward steps at the job's thread count,
  the mean over a quarter of a second or so. It sees what the methods' long phases see: a core shared with
  other processes part of the time, memory traffic of a neighbour.

Measured on this 2-core VM (``docs/statistics.md``, "Host speed"), one thread as ``--workers 1`` pins: with
two busy-loop processes beside it the single-threaded reference read x1.00, the training reference x1.4-1.8
and a fusion net's training steps x1.45-1.5; with one memory-streaming process x1.00, x1.0-1.1 and x1.1.
"""
from __future__ import annotations

import time

import numpy as np

_RNG = np.random.default_rng(0)
_A = _RNG.standard_normal((384, 384)).astype(np.float32)
_IMG = _RNG.random((256, 256)).astype(np.float32)
_NET = None


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


def _reference_net():
    """The fixed convnet and batch, built once per process without touching torch's global RNG (the
    job's seed was set before the first measurement)."""
    global _NET
    if _NET is None:
        import torch
        import torch.nn as nn

        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            net = nn.Sequential(nn.Conv2d(8, 32, 3, padding=1), nn.ReLU(), nn.Conv2d(32, 32, 3, padding=1), nn.ReLU(),
                                nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(32, 10))
            clips = torch.randn(16, 8, 32, 32)       # (batch, channels, height, width)
            labels = torch.randint(0, 10, (16,))
        _NET = (net, clips, labels)
    return _NET


def training_reference_seconds(steps: int = 12, warmup: int = 3) -> float:
    """Mean seconds of one forward + backward step of a fixed small convnet on CPU, at torch's current
    thread count (the job's, pinned before the job starts)."""
    import torch

    net, clips, labels = _reference_net()
    times = []
    for step in range(warmup + steps):
        start = time.perf_counter()
        net.zero_grad(set_to_none=True)
        torch.nn.functional.cross_entropy(net(clips), labels).backward()
        if step >= warmup:
            times.append(time.perf_counter() - start)
    return float(np.mean(times))


def measure_references() -> tuple[float, float]:
    """(single-threaded, training-steps) reference seconds, measured now in this process."""
    return reference_seconds(), training_reference_seconds()


def reference_timings(before: tuple[float, float], after: tuple[float, float]) -> dict[str, float]:
    """The timing fields a job stores from its references measured just before and just after it."""
    return {"reference_s": round((before[0] + after[0]) / 2, 6),
            "reference_before_s": round(before[0], 6), "reference_after_s": round(after[0], 6),
            "training_reference_before_s": round(before[1], 6),
            "training_reference_after_s": round(after[1], 6)}
