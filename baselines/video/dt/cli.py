"""``bench features dt INPUT [-o OUT] [--flow farneback|dis] [--idt] [--workers N]``: DenseTrack's output.

INPUT is a video, a folder of videos or a list file (one video path per line, relative to the list's
folder). One video: OUT is a file (default: standard output) whose suffix picks the format: the
authors' 436-column text (see ``baselines.video.dt.format``), ``.npy`` (an (n, 436) float32 array)
or ``.npz`` (one float32 array per column block: header, traj, hog, hof, mbhx, mbhy). Several
videos: OUT is a folder and ``--format`` picks the suffix; videos are extracted in ``--workers``
processes (one thread each) and a video whose output already exists is skipped, so a killed
extraction resumes. Every output is written to a temporary file and renamed into place when
complete: a failure never truncates or half-writes an existing file.

Imports are local to the functions: ``bench --help`` must not pay for OpenCV.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from baselines.video.dt import DT_FLOWS

VIDEO_SUFFIXES = (".avi", ".mp4", ".mkv", ".mov", ".webm", ".mpg", ".mpeg", ".m4v", ".wmv", ".flv")
LIST_SUFFIXES = (".txt", ".lst", ".list")
FORMATS = ("txt", "npy", "npz")


class FeaturesError(ValueError):
    """A bad input or output for ``bench features``: one line, exit code 2."""


def register_features_command(subparsers) -> argparse.ArgumentParser:
    """Add the ``features`` subcommand to an argparse subparsers object."""
    parser = subparsers.add_parser(
        "features", help="extract local video features (dense trajectories) in DenseTrack's text format",
        description="Extract dense trajectories (DenseTrack v1.2 defaults) and write one line of 436 "
                    "tab-separated columns per trajectory, as the authors' tool does; or .npy/.npz.")
    parser.add_argument("kind", choices=["dt"], help="feature kind: dt (dense trajectories)")
    parser.add_argument("video", help="a video file, a folder of videos, or a list file (.txt: one path a line)")
    parser.add_argument("-o", "--output",
                        help="one video: output file, .txt (default: standard output), .npy or .npz; "
                             "several: output folder (required)")
    parser.add_argument("--format", choices=FORMATS, default="txt",
                        help="several videos: the output format (default: txt, the authors' text)")
    parser.add_argument("--workers", type=int, default=None,
                        help="several videos: parallel processes (default: the number of cores)")
    parser.add_argument("--flow", choices=DT_FLOWS, default="farneback",
                        help="farneback: the authors' flow pyramid (default); dis: OpenCV DIS, faster, "
                             "less faithful")
    parser.add_argument("--idt", action="store_true",
                        help="improved trajectories: remove camera motion (RANSAC homography)")
    parser.set_defaults(func=run_features)
    return parser


def list_videos(source: Path) -> tuple[list[Path], Path | None]:
    """(videos, root) of an input: a video (root None), a folder (recursive) or a list file."""
    if source.is_dir():
        videos = sorted(p for p in source.rglob("*") if p.suffix.lower() in VIDEO_SUFFIXES and p.is_file())
        if not videos:
            raise FeaturesError(f"{source}: no videos ({', '.join(VIDEO_SUFFIXES)}) in this folder")
        return videos, source
    if not source.is_file():
        raise FeaturesError(f"{source}: no such file or folder")
    if source.suffix.lower() in LIST_SUFFIXES:
        lines = [line.split()[0] for line in source.read_text().splitlines() if line.strip()]
        videos = [p if p.is_absolute() else source.parent / p for p in map(Path, lines)]
        if not videos:
            raise FeaturesError(f"{source}: the list names no videos")
        return videos, source.parent
    return [source], None


def output_path(video: Path, root: Path, out_dir: Path, fmt: str) -> Path:
    """out_dir / the video's path below root, its suffix replaced by the format's."""
    try:
        relative = video.resolve().relative_to(root.resolve())
    except ValueError:  # a list entry outside the list's folder
        relative = Path(video.name)
    return out_dir / relative.with_suffix(f".{fmt}")


def extract(video: Path, output: Path | None, flow: str = "farneback", idt: bool = False) -> tuple[int, int]:
    """Extract one video into ``output`` (None: standard output, text); returns (trajectories, frames).

    The file appears (atomically) only when the whole video is done.
    """
    from baselines.video.dt.format import write_dt
    from baselines.video.dt.trajectories import DTParams, column_slices, iter_dense_trajectories
    from benchmark.common.cache import atomic_write
    from benchmark.data.video import VideoReadError, iter_frames

    params = DTParams(flow=flow, idt=idt)
    if not video.is_file():
        raise VideoReadError(f"{video}: no such file")
    n_frames = _count_frames(video)  # t_pos needs the length first, as the C++ InitSeqInfo
    if n_frames == 0:
        raise VideoReadError(f"{video}: cannot open or decode (corrupt file or unsupported codec)")
    batches = iter_dense_trajectories(iter_frames(video), params, n_frames=n_frames)
    n_traj = 2 * params.track_length
    if output is None:
        sys.stdout.flush()
        return write_dt(batches, getattr(sys.stdout, "buffer", sys.stdout), n_traj=n_traj), n_frames
    suffix = output.suffix.lower()
    if suffix in (".npy", ".npz"):
        import numpy as np

        from baselines.video.dt.trajectories import n_columns

        parts = list(batches)
        rows = np.concatenate(parts) if parts else np.zeros((0, n_columns(params)), np.float32)
        if suffix == ".npy":
            atomic_write(output, lambda handle: np.save(handle, rows))
        else:
            blocks = {name: rows[:, cols] for name, cols in column_slices(params).items()}
            atomic_write(output, lambda handle: np.savez(handle, **blocks))
        return len(rows), n_frames
    written = []
    atomic_write(output, lambda handle: written.append(write_dt(batches, handle, n_traj=n_traj)))
    return written[0], n_frames


def _count_frames(path: Path) -> int:
    import cv2

    capture = cv2.VideoCapture(str(path))
    n = 0
    try:
        while capture.grab():
            n += 1
    finally:
        capture.release()
    return n


def _worker_init(driver_pid: int) -> None:
    """One thread per worker (OpenCV, BLAS), and exit with the driver, even after its kill -9."""
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = "1"
    import cv2

    from baselines.video.dt.trajectories import retain_freed_memory
    from benchmark.common.processes import die_with_driver

    cv2.setNumThreads(1)
    retain_freed_memory()
    die_with_driver(driver_pid)


def _extract_job(job: tuple[Path, Path, str, bool]) -> tuple[Path, int, int, str | None]:
    video, output, flow, idt = job
    try:
        n, frames = extract(video, output, flow, idt)
    except (OSError, ValueError, RuntimeError) as error:  # RuntimeError: VideoReadError
        return video, 0, 0, str(error)
    return video, n, frames, None


def run_many(videos: list[Path], root: Path, out_dir: Path, fmt: str, workers: int, flow: str,
             idt: bool) -> int:
    """Extract every video whose output is missing; returns the number of failures."""
    from concurrent.futures import ProcessPoolExecutor, as_completed
    from multiprocessing import get_context

    from tqdm import tqdm

    jobs = [(v, output_path(v, root, out_dir, fmt), flow, idt) for v in videos]
    outputs = [job[1] for job in jobs]
    if len(set(outputs)) < len(outputs):
        raise FeaturesError("two videos map to the same output file; give them distinct names")
    todo = [job for job in jobs if not job[1].exists()]
    print(f"{len(jobs) - len(todo)} of {len(jobs)} videos already extracted, {len(todo)} to go",
          file=sys.stderr)
    failures = 0
    progress = tqdm(total=len(todo), unit="video", desc="dense trajectories", file=sys.stderr,
                    disable=not sys.stderr.isatty())
    with ProcessPoolExecutor(max_workers=max(1, min(workers, len(todo) or 1)), mp_context=get_context("spawn"),
                             initializer=_worker_init, initargs=(os.getpid(),)) as pool:
        for future in as_completed([pool.submit(_extract_job, job) for job in todo]):
            video, n, frames, error = future.result()
            if error is not None:
                failures += 1
                tqdm.write(f"bench features: {error}", file=sys.stderr)
            progress.update(1)
    progress.close()
    return failures


def run_features(args: argparse.Namespace) -> int:
    from baselines.video.dt.trajectories import retain_freed_memory

    source = Path(args.video)
    try:
        videos, root = list_videos(source)
        if root is not None:  # several videos
            if not args.output:
                raise FeaturesError("several videos need -o DIR, the output folder")
            out_dir = Path(args.output)
            if out_dir.exists() and not out_dir.is_dir():
                raise FeaturesError(f"{out_dir}: exists and is not a folder")
            if args.workers is not None and args.workers < 1:
                raise FeaturesError("--workers must be at least 1")
            failures = run_many(videos, root, out_dir, args.format, args.workers or os.cpu_count() or 1,
                                args.flow, args.idt)
            if failures:
                print(f"bench features: {failures} video(s) failed; rerun the command to retry them",
                      file=sys.stderr)
                return 1
            return 0
        output = Path(args.output) if args.output else None
        if output is not None and output.is_dir():
            raise FeaturesError(f"{output}: is a folder; give an output file")
        retain_freed_memory()
        written, n_frames = extract(videos[0], output, args.flow, args.idt)
    except (FeaturesError, OSError) as error:
        print(f"bench features: {error}", file=sys.stderr)
        return 2
    except ValueError as error:
        print(f"bench features: {source}: {error}", file=sys.stderr)
        return 2
    except RuntimeError as error:  # VideoReadError
        print(f"bench features: {error}", file=sys.stderr)
        return 2
    print(f"{written} trajectories from {n_frames} frames", file=sys.stderr)
    return 0
