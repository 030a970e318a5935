"""The GPU check (``python -m benchmark.gpu_check``, under 8 minutes on one GPU): the gpu-marked tests, then a
short paper-profile training of C3D and two-stream on CUDA on a generated 320x240 set, printing train and
inference clips/s, the data-wait share and the peak GPU memory. Needs nothing beyond the package.

The models, clip sizes, batch sizes and input pipeline are the paper profile's; only the number of optimiser
steps is cut (``--steps``), so the figures are throughput, not accuracy. Two-stream's flow is computed beforehand
on every CPU core at the resolution the network sees, and its time is printed; by default with Farnebäck, since
the paper's TV-L1 (``--flow tvl1``) took 356 s for 600 frame pairs on the 16 cores of an H200 machine.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from multiprocessing import get_context
from pathlib import Path


def _flow_one(args) -> None:
    videos, i, algorithm = args
    videos.flow(i, algorithm)


def _init(parent: int) -> None:
    from benchmark.common.processes import die_with_driver
    from benchmark.common.threads import pin_threads

    die_with_driver(parent)
    pin_threads(1)


def _short(method, steps: int):
    """The paper configuration with ``steps`` optimiser steps and no checkpoints."""
    for model in (method, *getattr(method, "streams", {}).values()):
        if hasattr(model, "train"):
            model.train = replace(model.train, steps=steps, checkpoint_every=10**9)
    return method


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmark.gpu_check", description=__doc__)
    parser.add_argument("--steps", type=int, default=30, help="optimiser steps per network (default: 30)")
    parser.add_argument("--actors", type=int, default=4, help="generated actors, 10 videos each (default: 4)")
    parser.add_argument("--frames", type=int, default=40, help="frames per generated video (default: 40)")
    parser.add_argument("--skip-tests", action="store_true", help="only the training figures")
    parser.add_argument("--flow", default="farneback", choices=("tvl1", "farneback"),
                        help="two-stream's flow (default: farneback; tvl1 is the paper's, but on the CPU it took "
                             "356 s for 600 frame pairs on 16 cores, beyond this check's 8 minutes)")
    parser.add_argument("--methods", default="c3d,two-stream", help="which of c3d,two-stream to train")
    parser.add_argument("--json", default=None, metavar="FILE",
                        help="also write the figures to FILE (python -m benchmark.scale_bench --project reads it)")
    args = parser.parse_args(argv)

    import torch

    if not torch.cuda.is_available():
        print("gpu_check: error: torch sees no CUDA device (torch.cuda.is_available() is False); "
              "run this on a machine with an NVIDIA GPU and a CUDA build of torch", file=sys.stderr)
        return 2
    print(f"device: {torch.cuda.get_device_name(0)}, torch {torch.__version__}, CUDA {torch.version.cuda}")
    figures = {"device": torch.cuda.get_device_name(0), "torch": torch.__version__, "steps": args.steps,
               "methods": {}}
    if not args.skip_tests:
        tests = subprocess.run([sys.executable, "-m", "pytest", "-q", "-m", "gpu", "-p", "no:cacheprovider"],
                               cwd=Path(__file__).resolve().parents[2], timeout=240)
        if tests.returncode not in (0, 5):  # 5: no gpu-marked tests collected
            print(f"gpu_check: the gpu-marked tests failed (exit {tests.returncode})", file=sys.stderr)
            return 1

    from benchmark.common.cache import Cache
    from benchmark.pipeline.config import frame_spec_for
    from benchmark.data.datasets import open_split
    from benchmark.data.generate import write_dataset
    from benchmark.methods import MethodContext
    from benchmark.registry import video_methods
    from benchmark.pipeline.run import decode_all, with_frames

    with tempfile.TemporaryDirectory(prefix="cvbench-gpu-") as tmp:
        root = write_dataset(Path(tmp) / "set", actors=args.actors, clips=1, width=320, height=240,
                             frames=args.frames, progress=False)
        cache = Cache(Path(tmp) / "cache")
        opened = open_split(str(root), 1, "paper", cache)
        workers = os.cpu_count() or 1
        print(f"{len(opened.train)} train / {len(opened.test)} test videos, 320x240, {args.frames} frames; "
              f"{args.steps} steps per network")
        for name in args.methods.split(","):
            if name not in ("c3d", "two-stream"):
                parser.error(f"--methods: unknown {name!r}; valid: c3d, two-stream")
            data = decode_all(with_frames(opened, frame_spec_for("paper", name, False), compact=True), workers)
            ctx = MethodContext(profile="paper", seed=0, device="cuda", n_classes=data.train.n_classes,
                                workers=workers, artefact_dir=str(Path(tmp) / name))
            method = _short(video_methods()[name].build(ctx), args.steps)
            if name == "two-stream" and args.flow != method.arch.flow_algorithm:
                from deep.video.two_stream import TwoStream

                method = _short(TwoStream(arch=replace(method.arch, flow_algorithm=args.flow), ctx=ctx), args.steps)
                print(f"two-stream: flow computed with {args.flow}, not the paper's TV-L1 (--flow)")
            if name == "two-stream":
                start = time.perf_counter()
                items = [(v, i, method.arch.flow_algorithm) for v in (data.train, data.test) for i in range(len(v))]
                with ProcessPoolExecutor(workers, mp_context=get_context("forkserver"), initializer=_init,
                                         initargs=(os.getpid(),)) as pool:
                    list(pool.map(_flow_one, items))
                flow_s = time.perf_counter() - start
                figures["flow"] = method.arch.flow_algorithm
                figures["flow_s_per_pair_all_cores"] = flow_s / sum(max(0, len(v.frames(i)) - 1)
                                                                  for v, i, _ in items)
                print(f"two-stream: {method.arch.flow_algorithm} flow of {len(items)} videos on {workers} cores: {flow_s:.1f} s")
            torch.cuda.reset_peak_memory_stats()
            start = time.perf_counter()
            method.fit(data.train)
            torch.cuda.synchronize()
            train_s = time.perf_counter() - start
            start = time.perf_counter()
            method.predict_scores(data.test)
            torch.cuda.synchronize()
            infer_s = time.perf_counter() - start
            trained = [m.train_result_ for m in (method, *getattr(method, "streams", {}).values())
                       if hasattr(m, "train_result_")]
            waited, loop = sum(r.data_wait_s for r in trained), sum(r.loop_s for r in trained)
            figures["methods"][name] = {
                "train_clips_per_s": method.n_train_clips_ / train_s, "infer_clips_per_s": method.n_test_clips_ / infer_s,
                "data_wait_share": waited / loop,
                "first_batch_s": sum(r.first_batch_s for r in trained),
                "peak_gpu_gib": torch.cuda.max_memory_allocated() / 2**30}
            print(f"{name}: train {method.n_train_clips_ / train_s:.1f} clips/s, "
                  f"inference {method.n_test_clips_ / infer_s:.1f} clips/s, "
                  f"data-wait share {waited / loop:.2f}, peak GPU memory "
                  f"{torch.cuda.max_memory_allocated() / 2**30:.2f} GiB")
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
