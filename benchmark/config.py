"""Profiles and run configuration: frozen dataclasses, stored resolved with every run."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

from benchmark.data.synthetic import SyntheticParams
from benchmark.data.video import FrameSpec

SUITES = ("video", "generative", "all")
DEFAULT_OUT = Path("runs/latest")


@dataclass(frozen=True)
class Profile:
    """How big a run is. Method hyper-parameters live in each method's own per-profile table."""

    name: str
    description: str
    synthetic: SyntheticParams     # the embedded video dataset at this profile's size
    real_frames: FrameSpec         # how real videos (UCF101, HMDB51, ...) are decoded


PROFILES: dict[str, Profile] = {
    "smoke": Profile(
        "smoke", "whole suite in seconds: checks the path end to end, numbers mean little",
        SyntheticParams(size=32, n_frames=16, n_groups=6, clips_per_group=1, test_groups_per_split=2),
        FrameSpec(short_side=32, max_frames=16),
    ),
    "quick": Profile(
        "quick", "default: every method on 2 CPU cores within minutes",
        SyntheticParams(size=48, n_frames=32, n_groups=12, clips_per_group=2, test_groups_per_split=4),
        FrameSpec(short_side=64, max_frames=64, stride=2),
    ),
    "paper": Profile(
        "paper", "paper-sized inputs and models: for GPUs and real data",
        SyntheticParams(size=112, n_frames=48, n_groups=25, clips_per_group=4, test_groups_per_split=7),
        FrameSpec(short_side=128),
    ),
}


@dataclass(frozen=True)
class RunConfig:
    suite: str
    dataset: str | None          # None: the suite's embedded default
    splits: tuple[int, ...]
    methods: tuple[str, ...]     # empty: every registered method of the suite
    profile: str
    seeds: int
    out: Path
    device: str                  # resolved: "cpu" or "cuda"
    executor: str
    workers: int
    scheduler: str | None = None
    allow_group_overlap: bool = False   # run a split whose test list shares groups with its train list
    validation: bool = False     # evaluate on validation groups carved from the training set (tuning)

    def to_json(self) -> dict:
        data = asdict(self)
        data["out"] = str(self.out)
        return data
