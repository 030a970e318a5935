"""``bench features dt VIDEO [-o FILE] [--flow farneback|dis] [--idt]``: DenseTrack's text output.

Writes the authors' 436-column format (see ``baselines.video.dt.format``) to FILE or standard output,
frame by frame as trajectories end, so existing DenseTrack users can switch.
"""
from __future__ import annotations

import argparse
import sys
from contextlib import nullcontext

from baselines.video.dt.trajectories import DT_FLOWS, DTParams, iter_dense_trajectories, retain_freed_memory
from baselines.video.dt.format import write_dt


def register_features_command(subparsers) -> argparse.ArgumentParser:
    """Add the ``features`` subcommand to an argparse subparsers object."""
    parser = subparsers.add_parser(
        "features", help="extract local video features (dense trajectories) in DenseTrack's text format",
        description="Extract dense trajectories (DenseTrack v1.2 defaults) and write one line of 436 "
                    "tab-separated columns per trajectory, as the authors' tool does.")
    parser.add_argument("kind", choices=["dt"], help="feature kind: dt (dense trajectories)")
    parser.add_argument("video", help="video file")
    parser.add_argument("-o", "--output", help="output text file (default: standard output)")
    parser.add_argument("--flow", choices=DT_FLOWS, default="farneback",
                        help="farneback: the authors' flow pyramid (default); dis: OpenCV DIS, faster, "
                             "less faithful")
    parser.add_argument("--idt", action="store_true",
                        help="improved trajectories: remove camera motion (RANSAC homography)")
    parser.set_defaults(func=run_features)
    return parser


def _count_frames(path: str) -> int:
    import cv2

    capture = cv2.VideoCapture(path)
    n = 0
    try:
        while capture.grab():
            n += 1
    finally:
        capture.release()
    return n


def run_features(args: argparse.Namespace) -> int:
    from benchmark.data.video import VideoReadError, iter_frames

    params = DTParams(flow=args.flow, idt=args.idt)
    retain_freed_memory()
    try:
        n_frames = _count_frames(args.video)  # t_pos needs the length first, as the C++ InitSeqInfo
        frames = iter_frames(args.video)
        with (open(args.output, "w") if args.output else nullcontext(sys.stdout)) as out:
            written = write_dt(iter_dense_trajectories(frames, params, n_frames=n_frames), out,
                               n_traj=2 * params.track_length)
    except VideoReadError as error:
        print(f"bench features: {error}", file=sys.stderr)
        return 2
    except ValueError as error:
        print(f"bench features: {args.video}: {error}", file=sys.stderr)
        return 2
    print(f"{written} trajectories from {n_frames} frames", file=sys.stderr)
    return 0
