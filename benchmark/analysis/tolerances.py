"""The CI gate's tolerances (apart from ``benchmark.analysis.check``, so building the CLI parser needs no pandas)."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Tolerances:
    margin: float = 0.05             # accuracy: tolerated drop in video hit@1 (fraction of videos)
    nll_margin: float = 0.02         # density: tolerated relative increase of the mean test NLL
    alpha: float = 0.05              # McNemar level
    speed_tolerance: float = 0.25    # tolerated slow-down of a phase (ratio to the reference workload)
    min_seconds: float = 0.5         # phases shorter than this in either run are not gated
    n_boot: int = 2000
    seed: int = 0
    min_samples: int = 6             # repeats a side for the rank test (asv: 6)
    rank_alpha: float = 0.002        # one-sided Mann-Whitney U level (asv)
