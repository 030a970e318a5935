"""The two contracts a method implements, and the registry entries that describe methods.

Video method (classical or deep), scikit-learn style::

    method = spec.build(ctx)               # ctx: MethodContext (profile, seed, device, ...)
    method.fit(train: VideoSet) -> method
    method.predict_scores(test: VideoSet) -> dict[variant, Scores]

``predict_scores`` returns one entry per result row the job produces: a plain method returns
``{"": Scores(...)}``; a method whose one training yields several table rows (the dense-trajectory
channels, the two streams and their fusions) returns one entry per row, e.g. ``{"hog": ..., "mbh": ...}``.
Optional: ``extract(videos)`` precomputes cached features (timed as extraction, not training);
``costs() -> dict`` with params / flops_per_view / views / flops_convention; attributes
``n_train_clips_`` / ``n_test_clips_`` for throughput. The harness times every phase and computes
every metric; methods never time themselves.

Density model::

    model = spec.build(ctx)
    model.fit(train: uint8 array (N, C, H, W) of levels 0..K-1, levels: int) -> model
    model.nll(x) -> NLL(nats=(N,) per image, kind="exact" | "dequantised-bound" | "-elbo" | "-iwae-k=K")
    model.sample(n, seed) -> uint8 array (n, C, H, W)    (raise NotImplementedError if it cannot)
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np


@dataclass(frozen=True)
class MethodContext:
    profile: str                 # "smoke" | "quick" | "paper"
    seed: int
    device: str                  # "cpu" | "cuda" (resolved, never "auto")
    n_classes: int
    workers: int = 1             # processes a method may use for per-video extraction
    artefact_dir: str | None = None  # where a job may write figures (sample grids, ...)
    split: int | None = None     # the video split the job trains on (None: no splits)

    @property
    def split_seed(self) -> int:
        """A random seed of this (split, seed) pair, for what a seed draws afresh on each split.

        With ``seed`` alone, seed s started every split from the same initial weights, so a seed that
        trained badly did so on every split (confirmation run at 3537377: C3D's per-seed scores correlate
        +0.70 across splits, late fusion's +0.80), while the report's intervals redraw seeds within each
        split independently. Derived seeds make the splits' seeds independent, as the intervals assume.
        """
        if self.split is None:
            return self.seed
        return int(np.random.SeedSequence([self.seed, self.split]).generate_state(1)[0])


@dataclass
class Scores:
    """Class scores of one result row: per video, and per clip where the method has clips."""

    video: np.ndarray                          # (n_videos, n_classes), rows sum to 1
    clips: list[np.ndarray] | None = None      # per video: (n_clips_i, n_classes)
    # videos the method could not score (index -> why, e.g. "no trajectories"): their rows are uniform
    # (a fusion row: scored without the stream that could not score them)
    unscorable: dict[int, str] = field(default_factory=dict)


@dataclass(frozen=True)
class NLL:
    nats: np.ndarray   # (N,) negative log-likelihood (or bound) per image, in nats
    kind: str          # "exact", "dequantised-bound", "-elbo", "-iwae-k=5000", ...


@dataclass(frozen=True)
class MethodSpec:
    """One registry entry: a stable name, a factory and what the tables need to describe it."""

    name: str
    build: Callable[[MethodContext], Any]
    family: str                     # "classical" | "deep"
    modality: str                   # video: "rgb", "flow", "rgb+flow", "trajectories"; generative: "density", "sampler"
    description: str
    code_files: tuple[str, ...] = field(default=())  # files ("deep/train.py") or modules the code version hashes
    variants: tuple[str, ...] = ("",)                # result rows one job produces


def lookup(registry: dict[str, Any], name: str, kind: str) -> Any:
    """registry[name], or a one-line error that lists the valid names."""
    try:
        return registry[name]
    except KeyError:
        valid = ", ".join(sorted(registry))
        raise KeyError(f"unknown {kind} {name!r}; valid: {valid}") from None

