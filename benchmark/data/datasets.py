"""Video datasets by name or path, as (train, test) ``VideoSet`` pairs of one split.

- ``synthetic-actions``: the embedded default, generated into the cache at the profile's size.
- a PATH holding ``ucfTrainTestlist/`` (UCF101, or any dataset laid out like it: KTH, Weizmann, your own);
- a PATH holding ``testTrainMulti_7030_splits/`` (HMDB51's original split files).
"""
from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from benchmark.common.cache import Cache
from benchmark.data import synthetic
from benchmark.data.splits import GROUP_PATTERN, Split, overlap, read_hmdb51, read_ucf_layout
from benchmark.data.video import FrameSpec, VideoSet

EMBEDDED = "synthetic-actions"
DATASETS = {
    EMBEDDED: "embedded default: 10 synthetic action classes written as real .avi files (see README)",
    "PATH/ (ucfTrainTestlist/)": "UCF101, or any folder laid out like it (KTH, Weizmann, your own)",
    "PATH/ (testTrainMulti_7030_splits/)": "HMDB51 with its original split files",
}


class DatasetError(ValueError):
    pass


@dataclass(frozen=True)
class DatasetSplit:
    name: str
    root: Path
    split: int
    train: VideoSet
    test: VideoSet
    missing: tuple[str, ...] = ()                     # listed in the split files but not on disk
    pairs: dict[str, tuple[int, int]] = field(default_factory=dict)  # class pairs reported separately
    grouped: bool = True      # the file names carry group ids (UCF gXX); False: one id per video
    decoding: dict = field(default_factory=dict)  # filled by ``decode_all``: decoder, frames, hash


def _read_split(root: Path, split: int) -> Split:
    if (root / "ucfTrainTestlist").is_dir():
        return read_ucf_layout(root / "ucfTrainTestlist", split)
    if (root / "testTrainMulti_7030_splits").is_dir():
        return read_hmdb51(root / "testTrainMulti_7030_splits", split)
    raise DatasetError(
        f"{root}: no ucfTrainTestlist/ or testTrainMulti_7030_splits/ folder; "
        f"valid datasets: {EMBEDDED}, or a PATH laid out like UCF101 or HMDB51")


def resolve_root(name_or_path: str, profile: str, cache: Cache, progress: bool = False) -> tuple[str, Path]:
    from benchmark.pipeline.config import PROFILES

    if name_or_path == EMBEDDED:
        return EMBEDDED, synthetic.ensure_dataset(PROFILES[profile].synthetic, cache.root, progress)
    root = Path(name_or_path).expanduser()
    if not root.is_dir():
        raise DatasetError(
            f"unknown dataset {name_or_path!r}; valid: {EMBEDDED}, or a PATH to a UCF101-layout "
            f"or HMDB51-layout folder")
    return root.resolve().name, root.resolve()


def open_split(name_or_path: str, split: int, profile: str, cache: Cache | None = None,
               progress: bool = False) -> DatasetSplit:
    from benchmark.pipeline.config import PROFILES

    cache = cache or Cache()
    name, root = resolve_root(name_or_path, profile, cache, progress)
    lists = _read_split(root, split)
    both = overlap(lists)
    if both:
        print(f"warning: {len(both)} videos of {root} split {split} are listed for training and for testing: "
              f"{', '.join(both[:3])}{' ...' if len(both) > 3 else ''}", file=sys.stderr)
    spec = FrameSpec() if name == EMBEDDED else PROFILES[profile].real_frames

    missing: list[str] = []

    def videoset(entries) -> VideoSet:
        present = [e for e in entries if (root / e.relpath).is_file()]
        missing.extend(e.relpath for e in entries if not (root / e.relpath).is_file())
        return VideoSet(
            paths=tuple(root / e.relpath for e in present),
            labels=np.array([e.label for e in present], dtype=int),
            groups=np.array([e.group for e in present], dtype=int),
            class_names=lists.class_names, frame_spec=spec, cache=cache)

    train, test = videoset(lists.train), videoset(lists.test)
    if missing:
        print(f"warning: {len(missing)} videos listed in the split files of {root} are missing "
              f"and left out: {', '.join(missing[:5])}{' ...' if len(missing) > 5 else ''}", file=sys.stderr)
    pairs = {}
    if name == EMBEDDED:
        index = {c: i for i, c in enumerate(lists.class_names)}
        pairs = {p: (index[a], index[b]) for p, (a, b) in synthetic.PAIRS.items()}
    grouped = all(GROUP_PATTERN.search(e.relpath) for e in lists.train + lists.test)
    return DatasetSplit(name, root, split, train, test, tuple(missing), pairs, grouped)


def load_dataset(name_or_path: str, split: int = 1, profile: str = "quick",
                 cache: Cache | None = None) -> tuple[VideoSet, VideoSet]:
    """(train, test) VideoSets of one split; the embedded dataset is generated on first use."""
    data = open_split(name_or_path, split, profile, cache)
    return data.train, data.test
