"""Scale benchmark: paper-profile dense trajectories, C3D and two-stream on generated 320x240 sets with 1x, 4x and
16x the videos, each job in a fresh process. Per job and size: peak memory (RSS of the job and its pools), cache
bytes per video and decode+extraction seconds per video; training and inference seconds are printed too.

    python -m benchmark.scale_bench --out runs/scale                 # 1x = 4 actors x 1 clip = 40 videos
    python -m benchmark.scale_bench --multipliers 1 --base-clips 1   # one size (run sizes as separate commands)

Inputs, decode sizes, caches, descriptor samples and the encoding are the paper profile's; what is cut so the
whole fits in minutes on 2 CPU cores: deep training to ``--steps`` optimiser steps of ``--batch`` clips (and
inference batches of that size, 2 clips per test video), the DT codebook to
``--words`` words and one k-means run. Goals (issue 10): peak memory within +15% from the smallest to the
largest set; cache bytes and time per video constant within 15%.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path


def _dir_bytes(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file()) if root.exists() else 0


def run_job(method_name: str, dataset: Path, cache_root: Path, steps: int, batch: int, words: int,
            workers: int) -> dict:
    """One job in this process: decode, extract, train, infer; its measured costs."""
    from benchmark.cache import Cache
    from benchmark.config import frame_spec_for
    from benchmark.data.datasets import open_split
    from benchmark.methods import MethodContext
    from benchmark.registry import video_methods
    from benchmark.run import decode_all, with_frames
    from benchmark.threads import pin_threads

    pin_threads(1)
    cache = Cache(cache_root)
    opened = open_split(str(dataset), 1, "paper", cache)
    n = len(opened.train) + len(opened.test)
    start = time.perf_counter()
    data = decode_all(with_frames(opened, frame_spec_for("paper", method_name, False), compact=True), workers)
    decode_s = time.perf_counter() - start
    ctx = MethodContext(profile="paper", seed=0, device="cpu", n_classes=data.train.n_classes, workers=workers,
                        artefact_dir=str(cache_root / "artefacts" / method_name))
    method = video_methods()[method_name].build(ctx)
    if hasattr(method, "config") and hasattr(method.config, "n_words"):
        method.config = replace(method.config, n_words=words, n_init=1)
    for model in (method, *getattr(method, "streams", {}).values()):
        if hasattr(model, "train"):
            model.train = replace(model.train, steps=steps, batch_size=batch, eval_batch=batch, test_clips=2,
                                  checkpoint_every=10**9)
    start = time.perf_counter()
    if hasattr(method, "extract"):
        method.extract(data.train)
        method.extract(data.test)
    for model in getattr(method, "streams", {}).values():
        model.extract(data.train)
        model.extract(data.test)
    extract_s = time.perf_counter() - start
    start = time.perf_counter()
    method.fit(data.train)
    train_s = time.perf_counter() - start
    start = time.perf_counter()
    method.predict_scores(data.test)
    infer_s = time.perf_counter() - start
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    cache_bytes = sum(_dir_bytes(cache_root / kind) for kind in ("frames", "flow", "dt-features"))
    return {"method": method_name, "videos": n, "peak_rss_mb": round(own, 1), "peak_rss_children_mb": round(children, 1),
            "cache_bytes_per_video": round(cache_bytes / n), "decode_extract_s_per_video": round((decode_s + extract_s) / n, 4),
            "train_s": round(train_s, 2), "infer_s": round(infer_s, 2)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmark.scale_bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="runs/scale", help="datasets, caches and results.jsonl go here")
    parser.add_argument("--methods", default="dt-bow-svm,c3d,two-stream")
    parser.add_argument("--multipliers", default="1,4,16")
    parser.add_argument("--base-actors", type=int, default=4)
    parser.add_argument("--base-clips", type=int, default=1, help="clips per class and actor at 1x")
    parser.add_argument("--frames", type=int, default=32)
    parser.add_argument("--size", default="320x240")
    parser.add_argument("--steps", type=int, default=4, help="optimiser steps per deep network")
    parser.add_argument("--batch", type=int, default=8, help="deep batch size (paper: 30 for C3D, 256 two-stream)")
    parser.add_argument("--words", type=int, default=256, help="DT codebook words per channel")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--job", default=None, help=argparse.SUPPRESS)     # internal: one job in this process
    parser.add_argument("--dataset", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--cache", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.job:
        from benchmark.executors import die_with_driver

        die_with_driver(os.getppid())  # the benchmark killed: its job goes too
        print(json.dumps(run_job(args.job, Path(args.dataset), Path(args.cache), args.steps, args.batch,
                                 args.words, args.workers)))
        return 0

    from benchmark.data.generate import parse_size, write_dataset

    width, height = parse_size(args.size)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    results = out / "results.jsonl"
    for m in (int(x) for x in args.multipliers.split(",")):
        clips = args.base_clips * m
        dataset = out / f"set-{m}x"
        if not (dataset / "params.json").is_file():
            write_dataset(dataset, actors=args.base_actors, clips=clips, width=width, height=height,
                          frames=args.frames)
        for method in args.methods.split(","):
            cache = out / f"cache-{m}x-{method}"   # cold cache per job: its bytes are this job's
            command = [sys.executable, "-m", "benchmark.scale_bench", "--job", method, "--dataset", str(dataset),
                       "--cache", str(cache), "--steps", str(args.steps), "--batch", str(args.batch), "--words", str(args.words),
                       "--workers", str(args.workers)]
            done = subprocess.run(command, capture_output=True, text=True, timeout=3600)
            if done.returncode != 0:
                print(f"scale_bench: {method} at {m}x failed: {done.stderr.strip().splitlines()[-1:]}",
                      file=sys.stderr)
                return 1
            row = {"multiplier": m, **json.loads(done.stdout.strip().splitlines()[-1])}
            with open(results, "a") as handle:
                handle.write(json.dumps(row) + "\n")
            print(json.dumps(row), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
