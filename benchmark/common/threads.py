"""Pin the thread pools of torch, OpenCV and BLAS, so workers do not oversubscribe the cores."""
from __future__ import annotations

import os

_ENV_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS")


def pin_threads(n: int) -> None:
    """Use ``n`` threads in every numeric library this process has loaded or will load."""
    for var in _ENV_VARS:
        os.environ[var] = str(n)
    import cv2

    cv2.setNumThreads(n)
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(n)
    except ImportError:  # threadpoolctl comes with scikit-learn; absent only in odd installs
        pass
    import torch

    torch.set_num_threads(n)
