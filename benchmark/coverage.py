"""Simulation of the report's interval procedure on a run design: how often the 95% interval of a row's
video hit@1 covers the true value, and how wide it is.

A simulated run: per split, ``test_actors`` actors with ``videos_per_actor`` test videos each; each actor
has a random effect (logit scale, sd ``actor_sd``), each (split, seed) training run one (sd ``seed_sd``),
and a video is right with probability expit(logit(p) + actor + seed). The true value is the expected
accuracy over actors and training seeds. The interval is made exactly as ``bench report`` makes it
(``stats.bootstrap_replicates`` per job, ``stats.pooled_over_runs`` over splits and seeds).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import expit, logit

from benchmark import stats


@dataclass(frozen=True)
class Design:
    splits: int
    seeds: int
    test_actors: int          # per split
    videos_per_actor: int     # test videos of one actor (classes x clips)


def true_accuracy(p: float, actor_sd: float, seed_sd: float, n: int = 400_000, rng_seed: int = 1) -> float:
    rng = np.random.default_rng(rng_seed)
    return float(expit(logit(p) + rng.normal(0, actor_sd, n) + rng.normal(0, seed_sd, n)).mean())


def simulate(design: Design, p: float = 0.5, actor_sd: float = 0.5, seed_sd: float = 0.35, n_sims: int = 200,
             n_boot: int = 400, rng_seed: int = 0) -> tuple[float, float]:
    """(coverage, mean half-width) of the 95% interval over ``n_sims`` simulated runs."""
    rng = np.random.default_rng(rng_seed)
    truth = true_accuracy(p, actor_sd, seed_sd)
    groups = np.repeat(np.arange(design.test_actors), design.videos_per_actor)
    covered, widths = 0, []
    for sim in range(n_sims):
        estimates, replicates = {}, {}
        for split in range(1, design.splits + 1):
            actors = rng.normal(0, actor_sd, design.test_actors)[groups]
            resamples = stats.group_resamples(groups, n_boot, seed=split)   # shared by the seeds of a split
            for seed in range(design.seeds):
                right = (rng.random(len(groups)) < expit(logit(p) + actors + rng.normal(0, seed_sd))).astype(float)
                estimates[(split, seed)] = float(right.mean())
                replicates[(split, seed)] = np.array([right[idx].mean() for idx in resamples])
        interval = stats.percentile_interval(*stats.pooled_over_runs(replicates, estimates, n_boot, seed=sim))
        covered += interval.low <= truth <= interval.high
        widths.append((interval.high - interval.low) / 2)
    return covered / n_sims, float(np.mean(widths))
