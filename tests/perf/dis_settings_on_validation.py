"""Which DIS settings could make `--flow dis` a faithful fast mode? Measured on validation clips only.

The fast mode's goals are judged on the KTH and Bowling clips (tests/perf/test_perf_dt_cli.py), so
settings are compared here on the other real clips in ../shared/data (Hollywood2 and the two Kinetics
clips), 100 frames each, at full and half size: trajectories kept against the Farnebäck mode, its CPU
speed-up, and the largest per-channel BoW χ² (64 words). One thread; run on an idle machine::

    python tests/perf/dis_settings_on_validation.py > dis-validation.jsonl
"""
from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_perf_dt_cli import _bow_chi2  # noqa: E402

from baselines.video.dt.trajectories import DTParams, dense_trajectories  # noqa: E402
from benchmark.data.video import iter_frames  # noqa: E402

SHARED = Path(os.environ.get("CVBENCH_SHARED_DATA", Path(__file__).resolve().parents[3] / "shared" / "data")) / "videos"
CLIPS = ["hollywood2_actioncliptrain00001_h264.mp4", "mmaction2_demo.mp4", "mmaction2_test.avi"]
PRESETS = {"fast": cv2.DISOPTICAL_FLOW_PRESET_FAST, "medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM}
SETTINGS = {"fast": ("fast", None), "fast-f1": ("fast", 1), "fast-f0": ("fast", 0),
            "medium": ("medium", None), "medium-f0": ("medium", 0)}   # (preset, finest scale)


def _frames(name: str, half: bool, n: int = 100) -> list[np.ndarray]:
    out = []
    for frame in iter_frames(SHARED / name):
        if len(out) == n:
            break
        size = (frame.shape[1] // 2, frame.shape[0] // 2)
        out.append(cv2.resize(frame, size, interpolation=cv2.INTER_AREA) if half else frame)
    return out


def main() -> None:
    cv2.setNumThreads(1)
    create = cv2.DISOpticalFlow_create
    for name in CLIPS:
        for half in (False, True):
            frames = _frames(name, half)
            start = time.process_time()
            reference = dense_trajectories(frames, DTParams())
            farneback_s = time.process_time() - start
            for setting, (preset, finest) in SETTINGS.items():
                def configured(_preset, preset=preset, finest=finest):
                    dis = create(PRESETS[preset])
                    if finest is not None:
                        dis.setFinestScale(finest)
                    return dis
                cv2.DISOpticalFlow_create = configured   # what the extractor's DIS engine creates
                try:
                    start = time.process_time()
                    dis = dense_trajectories(frames, DTParams(flow="dis"))
                    dis_s = time.process_time() - start
                finally:
                    cv2.DISOpticalFlow_create = create
                chi2 = _bow_chi2(reference, dis)
                print(json.dumps({"clip": name, "half": half, "setting": setting,
                                  "kept": round(len(dis) / len(reference), 3),
                                  "speedup": round(farneback_s / dis_s, 2),
                                  "chi2_max": round(max(chi2.values()), 3)}), flush=True)


if __name__ == "__main__":
    main()
