"""Scale benchmark: paper-profile dense trajectories, C3D and two-stream on generated 320x240 sets with 1x, 4x and
16x the videos, each job in a fresh process. Per job and size: peak memory (RSS of the job and its pools), cache
bytes per video and decode+extraction seconds per video; training and inference seconds are printed too.

    python -m benchmark.scale_bench --out runs/scale                 # 1x = 4 actors x 1 clip = 40 videos
    python -m benchmark.scale_bench --multipliers 1 --base-clips 1   # one size (run sizes as separate commands)
    python -m benchmark.scale_bench --out runs/scale --project [--gpu-json FILE]   # the UCF101 projection

Inputs, decode sizes, caches, descriptor samples and the encoding are the paper profile's; what is cut so the
whole fits in minutes on 2 CPU cores: deep training to ``--steps`` optimiser steps of ``--batch`` clips (and
inference batches of that size, 2 clips per test video), the DT codebook to
``--words`` words and one k-means run. Goals (issue 10): peak memory within +15% from the smallest to the
largest set; cache bytes and time per video constant within 15%.

Two-stream's TV-L1 flow (the paper's) costs seconds per frame pair on one CPU core, so a 16x series with it
takes hours on 2 cores; ``--flow farneback`` runs the series with Farnebäck flow (same caches, same network,
same pipeline) and ``--time-tvl1 PAIRS`` times TV-L1 itself at the paper's size for the projection.
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

import numpy as np


def _dir_bytes(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file()) if root.exists() else 0


def run_job(method_name: str, dataset: Path, cache_root: Path, steps: int, batch: int, words: int,
            workers: int, flow: str = "tvl1", max_descriptors: int | None = None) -> dict:
    """One job in this process: decode, extract, train, infer; its measured costs."""
    from benchmark.common.cache import Cache
    from benchmark.pipeline.config import frame_spec_for
    from benchmark.data.datasets import open_split
    from benchmark.methods import MethodContext
    from benchmark.registry import video_methods
    from benchmark.pipeline.run import decode_all, with_frames
    from benchmark.common.threads import pin_threads

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
    if hasattr(method, "arch"):
        method = _with_flow(method, flow)
    if hasattr(method, "config") and hasattr(method.config, "n_words"):
        method.config = replace(method.config, n_words=words, n_init=1)
        if max_descriptors is not None:
            method.config = replace(method.config, max_descriptors=max_descriptors, fv_max_descriptors=None)
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
    train_clips = getattr(method, "n_train_clips_", len(data.train))
    start = time.perf_counter()
    method.predict_scores(data.test)
    infer_s = time.perf_counter() - start
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    cache_bytes = sum(_dir_bytes(cache_root / kind) for kind in ("frames", "flow", "dt-features"))
    return {"method": method_name, "videos": n,
            "flow": flow if hasattr(method, "arch") else None, "workers": workers,
            "peak_rss_mb": round(own, 1), "peak_rss_children_mb": round(children, 1),
            "cache_bytes_per_video": round(cache_bytes / n),
            "decode_extract_s_per_video": round((decode_s + extract_s) / n, 4),
            "train_clips": train_clips,
            "train_s": round(train_s, 2), "infer_s": round(infer_s, 2)}


def _with_flow(method, flow: str):
    """Two-stream with its temporal stream's flow computed by ``flow`` instead of the paper's TV-L1."""
    from deep.video.two_stream import TwoStream

    return TwoStream(arch=replace(method.arch, flow_algorithm=flow), ctx=method.ctx)


def time_flow(algorithm: str, pairs: int, width: int, height: int, short_side: int = 256) -> float:
    """One-core CPU seconds per frame pair of ``algorithm`` (as two-stream computes it) on a generated
    ``width`` x ``height`` video decoded at two-stream's paper short side."""
    import cv2

    from baselines.video.dt.optical_flow import video_flow
    from benchmark.data import synthetic
    from benchmark.data.generate import crop_frames
    from benchmark.common.threads import pin_threads

    pin_threads(1)
    params = synthetic.SyntheticParams(size=max(width, height), n_frames=pairs + 1, n_groups=1, clips_per_group=1,
                                       test_groups_per_split=1)
    frames = crop_frames(synthetic.render_video(synthetic.CLASSES[0], 1, 1, params), width, height)
    scale = short_side / min(width, height)
    size = (round(width * scale), round(height * scale))
    frames = np.stack([cv2.resize(f, size, interpolation=cv2.INTER_LINEAR) for f in frames])
    start = time.process_time()
    video_flow(frames, algorithm)
    return (time.process_time() - start) / pairs


def marginal_s_per_video(rows: list[dict]) -> list[float]:
    """Decode+extract seconds each added video cost between consecutive sizes of one method's series.

    Seconds per video of a whole set fall with its size while the job's fixed costs (pool and fork-server
    start-up, imports) are shared by more videos; the cost of one more video is what must stay constant.
    """
    rows = sorted(rows, key=lambda r: r["videos"])
    totals = [(r["videos"], r["decode_extract_s_per_video"] * r["videos"]) for r in rows]
    return [(t1 - t0) / (n1 - n0) for (n0, t0), (n1, t1) in zip(totals, totals[1:])]


def _spread(values: list[float]) -> float:
    return max(values) / min(values) - 1 if min(values) > 0 else float("inf")


def goals_table(rows: list[dict], limit: float = 0.15) -> str:
    """Markdown: per method, peak memory, cache bytes and time per video across the series, against issue 10's
    goals (memory within +15% from the smallest to the largest set; cache bytes and the marginal time per video
    within 15%)."""
    lines = ["| method | videos | peak RSS MB (job / pool) | cache MB per video | s per video (whole set) | "
             "s per added video | memory | cache | time |", "|---|---|---|---|---|---|---|---|---|"]
    for method in dict.fromkeys(r["method"] for r in rows):
        series = sorted((r for r in rows if r["method"] == method), key=lambda r: r["videos"])
        if len(series) < 3:
            continue
        job = [r["peak_rss_mb"] for r in series]
        pool = [r["peak_rss_children_mb"] for r in series]
        # the pool column is 0 where no pool process was reaped by the job (forkserver workers are not)
        growth = max(job[-1] / job[0], pool[-1] / pool[0] if pool[0] > 0 else 0.0) - 1
        cache = _spread([r["cache_bytes_per_video"] for r in series])
        marginal = marginal_s_per_video(series)
        time_spread = _spread(marginal)

        def verdict(x: float) -> str:
            return f"{x:+.0%} {'met' if x <= limit else 'NOT met'}"

        cells = [" / ".join(str(r["videos"]) for r in series),
                 " → ".join(f"{a:.0f}/{b:.0f}" for a, b in zip(job, pool)),
                 " / ".join(f"{r['cache_bytes_per_video'] / 1e6:.2f}" for r in series),
                 " / ".join(f"{r['decode_extract_s_per_video']:.2f}" for r in series),
                 " / ".join(f"{m:.2f}" for m in marginal), verdict(growth), verdict(cache), verdict(time_spread)]
        lines.append(f"| {method} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


# UCF101 (Soomro et al. 2012, Table 1): 13,320 clips, mean length 7.21 s at 25 fps, 320x240.
UCF101_SPLIT1_VIDEOS = 9_537 + 3_783
UCF101_FRAMES_PER_VIDEO = round(7.21 * 25)


def paper_train_clips(method_name: str) -> int:
    """Training clips the paper profile's schedule feeds through the networks (steps x batch, every model)."""
    if method_name == "two-stream":
        from deep.video.two_stream import PROFILES as arch

        a = arch["paper"]
        return (a.svm_folds + 1) * sum(t.steps * t.batch_size for t in (a.spatial_train, a.temporal_train))
    module = {"c3d": "deep.video.c3d"}.get(method_name)
    if module is None:
        return 0
    import importlib

    train = importlib.import_module(module).PROFILES["paper"].train
    return train.steps * train.batch_size


def projection(rows: list[dict], flow_s: dict[str, float], cores: tuple[int, ...] = (2, 16),
               gpu: dict | None = None) -> str:
    """Markdown: UCF101 split 1 projected from the largest set's per-video figures.

    Feature time scales with frames (per-frame core-seconds x 180 frames x 13,320 videos), split evenly over
    the cores. Core-seconds are wall seconds x worker processes: an upper bound on CPU time that, unlike
    ``getrusage``, also counts the forkserver pools' workers (grandchildren of the job, which it never reaps); two-stream's Farnebäck flow in the series is replaced by TV-L1's measured per-pair cost. Training
    time is the paper schedule's clips over the measured training throughput (CPU: this run's tiny training;
    GPU: ``python -m benchmark.gpu_check --json``).
    """
    largest = max(r["multiplier"] for r in rows)
    lines = ["| method | features core-h | disk GB | peak memory GB | train h (2 cores) | "
             + " | ".join(f"features h ({c} cores)" for c in cores[1:])
             + (f" | train h ({gpu['device']})" if gpu else "") + " |",
             "|---|---|---|---|---|" + "---|" * (len(cores) - 1) + ("---|" if gpu else "")]
    for r in (r for r in rows if r["multiplier"] == largest):
        per_frame = r["decode_extract_s_per_video"] * r["workers"] / r["frames"]
        cpu_s = per_frame * UCF101_FRAMES_PER_VIDEO * UCF101_SPLIT1_VIDEOS
        if r.get("flow") and r["flow"] != "tvl1":
            cpu_s += (flow_s["tvl1"] - flow_s[r["flow"]]) * (UCF101_FRAMES_PER_VIDEO - 1) * UCF101_SPLIT1_VIDEOS
        disk = r["cache_bytes_per_video"] / r["frames"] * UCF101_FRAMES_PER_VIDEO * UCF101_SPLIT1_VIDEOS
        memory = max(r["peak_rss_mb"], r["peak_rss_children_mb"]) / 1024
        clips = paper_train_clips(r["method"])
        cpu_rate = r["train_clips"] / r["train_s"] if r["train_s"] > 0 else float("nan")
        train_cpu = f"{clips / cpu_rate / 3600:,.0f}" if clips else "-"
        feats = " | ".join(f"{cpu_s / 3600 / c:,.1f}" for c in cores[1:])
        gpu_cell = ""
        if gpu:
            rate = gpu.get("methods", {}).get(r["method"], {}).get("train_clips_per_s")
            gpu_cell = f" | {clips / rate / 3600:,.1f}" if clips and rate else " | -"
        lines.append(f"| {r['method']} | {cpu_s / 3600:,.0f} | {disk / 1e9:,.0f} | {memory:.1f} | {train_cpu} | "
                     f"{feats}{gpu_cell} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmark.scale_bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="runs/scale", help="datasets, caches and results.jsonl go here")
    parser.add_argument("--methods", default="dt-bow-svm,c3d,two-stream")
    parser.add_argument("--multipliers", default="1,4,16")
    parser.add_argument("--base-actors", type=int, default=4)
    parser.add_argument("--base-clips", type=int, default=1, help="clips per class and actor at 1x")
    parser.add_argument("--classes", type=int, default=10, help="classes of the generated sets (default: 10)")
    parser.add_argument("--frames", type=int, default=32)
    parser.add_argument("--size", default="320x240")
    parser.add_argument("--steps", type=int, default=4, help="optimiser steps per deep network")
    parser.add_argument("--batch", type=int, default=8, help="deep batch size (paper: 30 for C3D, 256 two-stream)")
    parser.add_argument("--words", type=int, default=256, help="DT codebook words per channel")
    parser.add_argument("--max-descriptors", type=int, default=None, metavar="N",
                        help="DT codebook sample per channel (default: the paper's 100,000); a smaller sample "
                             "fills already at 1x, so that the series shows what grows beyond it")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--flow", default="tvl1", choices=("tvl1", "farneback", "dis"),
                        help="two-stream's flow in the series (default: tvl1, the paper's; see above)")
    parser.add_argument("--time-flow", type=int, default=8, metavar="PAIRS",
                        help="frame pairs timed per flow algorithm for the projection (default: 8; 0: skip)")
    parser.add_argument("--project", action="store_true", help="print the UCF101 split-1 projection of --out")
    parser.add_argument("--gpu-json", default=None, help="figures written by python -m benchmark.gpu_check --json")
    parser.add_argument("--job", default=None, help=argparse.SUPPRESS)     # internal: one job in this process
    parser.add_argument("--dataset", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--cache", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.job:
        from benchmark.common.processes import die_with_driver

        die_with_driver(os.getppid())  # the benchmark killed: its job goes too
        print(json.dumps(run_job(args.job, Path(args.dataset), Path(args.cache), args.steps, args.batch,
                                 args.words, args.workers, args.flow, args.max_descriptors)))
        return 0

    from benchmark.data.generate import parse_size, write_dataset

    width, height = parse_size(args.size)
    out = Path(args.out)
    results, flow_file = out / "results.jsonl", out / "flow.json"
    if args.project:
        if not results.is_file() or not flow_file.is_file():
            print(f"scale_bench: error: {out} holds no finished scale run (results.jsonl and flow.json)",
                  file=sys.stderr)
            return 2
        rows = [json.loads(line) for line in results.read_text().splitlines() if line.strip()]
        gpu = json.loads(Path(args.gpu_json).read_text()) if args.gpu_json else None
        if gpu is not None and not (isinstance(gpu, dict) and "device" in gpu
                                    and isinstance(gpu.get("methods"), dict)):
            print(f"scale_bench: error: {args.gpu_json} needs a \"device\" name and a \"methods\" object, as "
                  "python -m benchmark.gpu_check --json writes them", file=sys.stderr)
            return 2
        print(goals_table(rows), end="\n\n")
        print(projection(rows, json.loads(flow_file.read_text()), gpu=gpu))
        return 0
    out.mkdir(parents=True, exist_ok=True)
    if args.time_flow:
        flow_s = {a: round(time_flow(a, args.time_flow, width, height), 4) for a in ("tvl1", "farneback", "dis")}
        flow_file.write_text(json.dumps(flow_s))
        print(f"one-core CPU s per frame pair at two-stream's paper size: {flow_s}", flush=True)
    for m in (int(x) for x in args.multipliers.split(",")):
        clips = args.base_clips * m
        dataset = out / f"set-{m}x"
        if not (dataset / "params.json").is_file():
            write_dataset(dataset, actors=args.base_actors, clips=clips, width=width, height=height,
                          frames=args.frames, classes=args.classes)
        for method in args.methods.split(","):
            cache = out / f"cache-{m}x-{method}"   # cold cache per job: its bytes are this job's
            command = [sys.executable, "-m", "benchmark.tools.scale_bench", "--job", method, "--dataset", str(dataset),
                       "--cache", str(cache), "--steps", str(args.steps), "--batch", str(args.batch), "--words", str(args.words),
                       "--workers", str(args.workers), "--flow", args.flow]
            if args.max_descriptors is not None:
                command += ["--max-descriptors", str(args.max_descriptors)]
            done = subprocess.run(command, capture_output=True, text=True, timeout=3600)
            if done.returncode != 0:
                print(f"scale_bench: {method} at {m}x failed: {done.stderr.strip().splitlines()[-1:]}",
                      file=sys.stderr)
                return 1
            row = {"multiplier": m, "frames": args.frames, **json.loads(done.stdout.strip().splitlines()[-1])}
            with open(results, "a") as handle:
                handle.write(json.dumps(row) + "\n")
            print(json.dumps(row), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
