"""Profiles and run configuration: frozen dataclasses, stored resolved with every run."""
from __future__ import annotations

from dataclasses import asdict, dataclass, replace
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


# the quick profile's data, which the confirm profile extends with more test clips only
_QUICK_DATA = SyntheticParams(size=48, n_frames=32, n_groups=12, clips_per_group=2, test_groups_per_split=4)
_QUICK_FRAMES = FrameSpec(short_side=64, max_frames=64, stride=2)

PROFILES: dict[str, Profile] = {
    "smoke": Profile(
        "smoke", "whole suite in seconds: checks the path end to end, numbers mean little",
        # 40 px and 12 actors (was 32 px, 6): on the smaller data no model was clearly above chance on the
        # validation actors (2 training actors per split after the carve).
        SyntheticParams(size=40, n_frames=16, n_groups=12, clips_per_group=1, test_groups_per_split=4),
        FrameSpec(short_side=32, max_frames=16),
    ),
    "ci": Profile(
        "ci", "CI's gate: the whole suite in minutes, every row clearly above chance so a regression can fail it",
        # The CI variant of the embedded data: a still camera, flat backgrounds and upright objects (camera=0,
        # clutter=0, pose=0; spinning classes still spin), same classes, files and UCF101 layout. On the full data
        # no deep model left chance within the CI budget (validation actors: 6-150 steps 8-19%; 400-600 steps
        # 12-36% at 10-50 s per split), so CI could not see most of them fail; on this variant they learn in
        # seconds. Methods read their "ci" settings row, else their "smoke" row (benchmark.common.settings).
        # Its numbers gate CI, they are not findings (camera motion is what several classic claims are about).
        SyntheticParams(size=40, n_frames=16, n_groups=12, clips_per_group=1, test_groups_per_split=4,
                        camera=0.0, clutter=0.0, pose=0.0),
        FrameSpec(short_side=32, max_frames=16),
    ),
    "quick": Profile(
        "quick", "default: every method on 2 CPU cores within minutes",
        _QUICK_DATA, _QUICK_FRAMES,
    ),
    "confirm": Profile(
        "confirm", "the confirmation design's: the quick profile's models and training videos, twice its test videos",
        # Quick's settings rows (SETTINGS_FALLBACK), training lists and pixels; each test actor has 4 clips per
        # class instead of 2 (40 test videos an actor). 80 test videos a split left 18 of 30 rows wider than +-6
        # at any affordable number of seeds (docs/statistics.md, "Sizing a design").
        replace(_QUICK_DATA, test_clips_per_group=4), _QUICK_FRAMES,
    ),
    "paper": Profile(
        "paper", "paper-sized inputs and models: for GPUs and real data",
        SyntheticParams(size=112, n_frames=48, n_groups=25, clips_per_group=4, test_groups_per_split=7),
        FrameSpec(short_side=128),
    ),
}


# Paper profile: each method decodes at its own paper's input size (quick and smoke decode every method
# alike, at their profile's size). The deep methods' crops are taken from frames of exactly these sizes,
# so nothing is upsampled after decoding, and flow is computed at the resolution its network sees.
PAPER_FRAMES: dict[str, FrameSpec] = {
    "feature-histograms": FrameSpec(short_side=128),    # ours, no paper: small frames suffice
    "dt-bow-svm": FrameSpec(),                           # Wang et al.: the video's native resolution
    "dt-fv-svm": FrameSpec(),
    "idt-bow-svm": FrameSpec(),
    "single-frame": FrameSpec(short_side=178),           # Karpathy et al. 2014: 178 px frames, 170 crops
    "early-fusion": FrameSpec(short_side=178),
    "late-fusion": FrameSpec(short_side=178),
    "slow-fusion": FrameSpec(short_side=178),
    "c3d": FrameSpec(resize=(171, 128)),                 # Tran et al. 2015: 128x171, 112 crops
    "two-stream": FrameSpec(short_side=256),             # Simonyan & Zisserman 2014: short side 256, 224 crops
    "lrcn": FrameSpec(short_side=240),                   # Donahue et al. 2015: 240x320 frames, 227 crops
    "gru-rcn": FrameSpec(short_side=256),                # Ballas et al. 2016: VGG-16 input, 224 crops
    "conv-pooling": FrameSpec(short_side=240),           # Ng et al. 2015: AlexNet frames, 227 crops as LRCN
    "late-pooling": FrameSpec(short_side=240),
    "slow-pooling": FrameSpec(short_side=240),
}


def frame_spec_for(profile: str, method: str, embedded: bool) -> FrameSpec:
    """How ``method``'s videos are decoded in ``profile``: per method in paper, per profile otherwise."""
    if profile == "paper":
        if method not in PAPER_FRAMES:
            raise KeyError(f"no paper-profile frame size for method {method!r}; add it to PAPER_FRAMES")
        return PAPER_FRAMES[method]
    return FrameSpec() if embedded else PROFILES[profile].real_frames


@dataclass(frozen=True)
class RunConfig:
    suite: str
    dataset: str | None          # None: the suite's embedded default
    splits: tuple[int, ...]
    methods: tuple[str, ...]     # empty: every registered method of the suite
    profile: str
    seeds: int                   # per split: seeds 0..seeds-1 of every method not in method_seeds
    out: Path
    device: str                  # resolved: "cpu" or "cuda"
    executor: str
    workers: int
    scheduler: str | None = None
    allow_group_overlap: bool = False   # run a split whose test list shares groups with its train list
    validation: bool = False     # evaluate on validation groups carved from the training set (tuning)
    method_seeds: tuple[tuple[str, int], ...] = ()   # (method, seeds per split) where a design sizes it apart

    def seeds_of(self, method: str) -> int:
        """Seeds per split the run trains ``method`` with."""
        return dict(self.method_seeds).get(method, self.seeds)

    def to_json(self) -> dict:
        data = asdict(self)
        data["out"] = str(self.out)
        return data
