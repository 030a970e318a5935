"""Where iDT's extra time goes: CPU seconds of its camera-motion steps and of the flow, in one process.

    python tests/perf/idt_camera_cost.py VIDEO

Each step is wrapped with a process-time counter (one thread); a 20-frame warm-up loads the compiled
kernels first. ``homography`` includes ``gftt``, ``findH`` and the keypoint matching; ``poly`` and ``flow``
cover both pyramids (the frame's and the warped frame's).
"""
from __future__ import annotations

import sys
import time


def main(video: str) -> None:
    import cv2

    from baselines.video.dt import trajectories
    from benchmark.data.video import iter_frames

    cv2.setNumThreads(1)
    spent: dict[str, float] = {}

    def timed(name, fn):
        def wrapper(*args, **kwargs):
            start = time.process_time()
            try:
                return fn(*args, **kwargs)
            finally:
                spent[name] = spent.get(name, 0.0) + time.process_time() - start
        return wrapper

    for name, attr in (("homography", "camera_homography"), ("warp", "warp_to_previous"),
                       ("poly", "poly_expansion_pyramid"), ("flow", "farneback_pyramid_flow")):
        setattr(trajectories, attr, timed(name, getattr(trajectories, attr)))
    cv2.goodFeaturesToTrack = timed("gftt", cv2.goodFeaturesToTrack)
    cv2.findHomography = timed("findH", cv2.findHomography)
    orb_create = cv2.ORB_create

    class TimedORB:
        def __init__(self, n):
            self.orb = orb_create(n)

        def detectAndCompute(self, *args):
            return timed("orb", self.orb.detectAndCompute)(*args)

    cv2.ORB_create = TimedORB
    frames = list(iter_frames(video))
    params = trajectories.DTParams(idt=True)
    trajectories.dense_trajectories(frames[:20], params)
    spent.clear()
    start = time.process_time()
    rows = trajectories.dense_trajectories(frames, params)
    total = time.process_time() - start
    print(f"{len(rows)} trajectories, iDT {total:.2f} s CPU: "
          + ", ".join(f"{name} {seconds:.3f} s" for name, seconds in spent.items()))


if __name__ == "__main__":
    main(sys.argv[1])
