"""``bench dataset synthetic-actions``: the embedded dataset's classes at any size and count, in UCF101 layout.

For scale tests and for anyone who needs a test set of a given shape. Videos are rendered square at the
larger side and centre-cropped to W x H (a wider camera, the same scene), so a 320x240 set has UCF101's
frame size. Actors are split as UCF101 splits its 25 groups: three disjoint blocks of held-out actors, each
about 7/25 of them.
"""
from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
from tqdm import tqdm

from benchmark.data import synthetic


def parse_size(text: str) -> tuple[int, int]:
    """'320x240' -> (320, 240)."""
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise ValueError(f"--size {text!r}: expected WxH, e.g. 320x240") from None
    if w < 16 or h < 16:
        raise ValueError(f"--size {text!r}: both sides must be at least 16 pixels")
    return w, h


def held_out_per_split(actors: int) -> int:
    """Held-out actors per split: UCF101's 7 of 25, at least one, leaving at least one actor to train on."""
    if actors < 4:
        raise ValueError(f"--actors {actors}: at least 4 are needed (3 disjoint test blocks and a training actor)")
    return max(1, min((actors - 1) // 3, round(actors * 7 / 25)))


def crop_frames(frames: np.ndarray, width: int, height: int) -> np.ndarray:
    size = frames.shape[1]
    top, left = (size - height) // 2, (size - width) // 2
    return np.ascontiguousarray(frames[:, top:top + height, left:left + width])


def write_dataset(out: Path, *, actors: int, clips: int, width: int, height: int, frames: int,
                  seed: int = 0, progress: bool = True, classes: int | None = None) -> Path:
    """Write the dataset into ``out`` (created; must not exist or be empty); return it.

    ``classes``: only the first that many of the 10 classes (small sets for scale tests); default all."""
    n_classes = len(synthetic.CLASSES) if classes is None else classes
    if not 2 <= n_classes <= len(synthetic.CLASSES):
        raise ValueError(f"--classes {classes}: between 2 and {len(synthetic.CLASSES)}")
    chosen = synthetic.CLASSES[:n_classes]
    if frames < 2:
        raise ValueError(f"--frames {frames}: at least 2 are needed")
    if clips < 1:
        raise ValueError(f"--clips {clips}: at least 1 is needed")
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise ValueError(f"{out}: exists and is not empty; choose a new folder")
    params = synthetic.SyntheticParams(size=max(width, height), n_frames=frames, n_groups=actors,
                                       clips_per_group=clips, test_groups_per_split=held_out_per_split(actors),
                                       seed=seed)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}-"))
    try:
        jobs = [(c, g, k) for c in chosen for g in range(1, actors + 1) for k in range(1, clips + 1)]
        for cls, group, clip in tqdm(jobs, desc="generating synthetic-actions", unit="video", disable=not progress):
            path = tmp / synthetic._video_name(cls, group, clip)
            path.parent.mkdir(exist_ok=True)
            video = crop_frames(synthetic.render_video(cls, group, clip, params), width, height)
            synthetic.write_avi(path, video, params.fps)
        synthetic._write_split_files(tmp, params, chosen)
        identity = {"params": asdict(params), "crop": [width, height],
                    "version": synthetic.GENERATOR_VERSION, "classes": [asdict(c) for c in chosen]}
        (tmp / "params.json").write_text(json.dumps(identity, indent=2))
        if out.exists():
            out.rmdir()
        tmp.rename(out)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return out


def cmd_dataset(args: argparse.Namespace) -> int:
    if args.name != "synthetic-actions":
        raise ValueError(f"unknown generator {args.name!r}; valid: synthetic-actions")
    width, height = parse_size(args.size)
    root = write_dataset(Path(args.out), actors=args.actors, clips=args.clips, width=width, height=height,
                         frames=args.frames, seed=args.seed, classes=args.classes)
    n_classes = args.classes or len(synthetic.CLASSES)
    n = n_classes * args.actors * args.clips
    print(f"wrote {n} videos ({n_classes} classes x {args.actors} actors x {args.clips} clips, "
          f"{width}x{height}, {args.frames} frames) to {root}; use it with `bench run --dataset {root}`")
    return 0


def register_dataset_command(sub) -> None:
    gen = sub.add_parser("dataset", help="write a generated dataset of any size in UCF101 layout")
    gen.add_argument("name", help="synthetic-actions")
    gen.add_argument("--out", required=True, help="new folder to write")
    gen.add_argument("--actors", type=int, default=25, help="actors (UCF101 groups) (default: 25)")
    gen.add_argument("--clips", type=int, default=4, help="clips per class and actor (default: 4)")
    gen.add_argument("--size", default="320x240", help="frame size WxH (default: 320x240, UCF101's)")
    gen.add_argument("--frames", type=int, default=48, help="frames per video (default: 48)")
    gen.add_argument("--seed", type=int, default=0)
    gen.add_argument("--classes", type=int, default=None, help="only the first N of the 10 classes (default: all)")
    gen.set_defaults(func=cmd_dataset)
