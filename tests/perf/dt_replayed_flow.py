"""``bench features dt ARGS`` with the flow pyramid replayed from files: what the extractor costs without
computing its flow (decoding, sampling, tracking, descriptors, output and start-up all stay).

    python tests/perf/dt_replayed_flow.py FLOW_DIR VIDEO -o OUT.npy

FLOW_DIR holds ``level{k}.npy``, (frame pairs, H_k, W_k, 2) float32, the per-level flows the Farnebäck
mode computed for VIDEO (``test_perf_dt_cli._record_flows``). The CPU seconds spent reading them are
written to FLOW_DIR/load_cpu.txt, so the caller can take them out of the process's CPU time.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path


def main(argv: list[str]) -> int:
    import cv2
    import numpy as np

    from baselines.video.dt import trajectories

    cv2.setNumThreads(1)
    flow_dir = Path(argv[0])
    start = time.process_time()
    levels = [np.load(path) for path in sorted(flow_dir.glob("level*.npy"))]
    (flow_dir / "load_cpu.txt").write_text(f"{time.process_time() - start}\n")

    class ReplayedFlow:
        def __init__(self, algorithm, scales, sizes):
            self.frame = -1

        def prepare(self, grey, grey_pyr):
            self.frame += 1
            return self.frame

        def flows(self, prev_state, state):
            return [level[prev_state] for level in levels]

    trajectories._FlowEngine = ReplayedFlow
    from benchmark.cli import main as bench

    return bench(["features", "dt", *argv[1:]])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
