"""Simulation of the report's interval procedure on a run design: how often the 95% interval of a row's
video hit@1 covers the true value, and how wide it is.

A simulated run: per split, ``test_actors`` actors with ``videos_per_actor`` test videos each; each actor
has a random effect (logit scale, sd ``actor_sd``), each (split, seed) training run one (sd ``seed_sd``),
and a video is right with probability expit(logit(p) + actor + seed), its uniform draw made afresh by each seed
for a share ``seed_share`` of the videos and once per split for the rest (measured: a video one seed gets wrong,
most seeds get wrong; a simulation that redrew every video per seed counted seeds as new test videos and fell
0.3-2.7 points short of the measured half-widths, docs/statistics.md). The true value is the expected
accuracy over actors and training seeds. The interval is made exactly as ``bench report`` makes it
(``stats.bootstrap_replicates`` per job, ``stats.pooled_over_runs`` over splits and seeds).

``bench plan coverage --out DIR [--designs SxRxA ...]`` (or ``python -m benchmark.coverage``) prints it for every
row of a stored run, with the spreads measured from the run and how alike a seed scores on every split
(``seed_correlation``; the simulation, like the report, takes the splits' seeds as independent).
"""
from __future__ import annotations

import sys
from dataclasses import dataclass
from itertools import combinations

import numpy as np
from scipy.special import expit, logit

from benchmark.analysis import stats
from benchmark.common.errors import UsageError, tool_main


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
             n_boot: int = 400, rng_seed: int = 0, seed_share: float = 1.0) -> tuple[float, float]:
    """(coverage, mean half-width) of the 95% interval over ``n_sims`` simulated runs. ``seed_share``: the share of
    a test video's outcome that each seed draws afresh; the rest is one draw per video that every seed of the split
    reuses (0: a video comes out alike for every seed, so more seeds add no test videos)."""
    rng = np.random.default_rng(rng_seed)
    truth = true_accuracy(p, actor_sd, seed_sd)
    groups = np.repeat(np.arange(design.test_actors), design.videos_per_actor)
    covered, widths = 0, []
    for sim in range(n_sims):
        estimates, replicates = {}, {}
        for split in range(1, design.splits + 1):
            actors = rng.normal(0, actor_sd, design.test_actors)[groups]
            # shared by the seeds of a split; one (n_boot, videos) array: every actor has as many videos
            resamples = np.stack(stats.group_resamples(groups, n_boot, seed=split))
            kept = rng.random(len(groups)) if seed_share < 1 else None   # each video's draw, shared by the seeds
            for seed in range(design.seeds):
                draws = rng.random(len(groups))
                if kept is not None:
                    draws = np.where(rng.random(len(groups)) < seed_share, draws, kept)
                right = (draws < expit(logit(p) + actors + rng.normal(0, seed_sd))).astype(float)
                estimates[(split, seed)] = float(right.mean())
                replicates[(split, seed)] = right[resamples].mean(axis=1)
        interval = stats.percentile_interval(*stats.pooled_over_runs(replicates, estimates, n_boot, seed=sim))
        covered += interval.low <= truth <= interval.high
        widths.append((interval.high - interval.low) / 2)
    return covered / n_sims, float(np.mean(widths))


# --- the variance components of a stored run, and the design they call for ------------------------------
@dataclass(frozen=True)
class Components:
    """Method-of-moments variance components of one row's video hit@1, on the probability scale."""

    p: float            # mean accuracy
    seed_sd: float      # between training seeds of one split
    actor_sd: float     # between test actors, beyond their videos' own spread
    videos_per_actor: int
    seed_share: float = 1.0   # of a video's outcome variance, the share that changes from seed to seed

    def logit_scale(self) -> tuple[float, float]:
        """(actor_sd, seed_sd) on the logit scale, as ``simulate`` takes them (delta method)."""
        slope = max(self.p * (1 - self.p), 0.05)
        return self.actor_sd / slope, self.seed_sd / slope


def estimate_components(correct: dict[tuple[int, int], np.ndarray], groups: dict[int, np.ndarray]) -> Components:
    """Components from per-video correctness: ``correct[(split, seed)]`` (0/1 per test video, the same
    videos in the same order for every seed of a split) and ``groups[split]`` (each video's actor).

    Seed: var over seeds of a split's accuracy, less the per-video seed-to-seed noise / n (needs >= 2 seeds
    in some split). Actor: var over actors of their seed-averaged accuracy, less the within-actor video
    spread / videos per actor. Both are floored at 0 and pooled over splits. Seed share: from the per-video
    seed-to-seed variance over p(1 - p), pooled over splits (``simulate``'s share s gives the ratio s(2 - s)).
    """
    splits = sorted({split for split, _ in correct})
    seed_vars, actor_vars, accs, counts, within, bernoulli = [], [], [], [], [], []
    for split in splits:
        c = np.stack([correct[key] for key in sorted(correct) if key[0] == split]).astype(float)  # (R, N)
        accs.append(c.mean())
        r, n = c.shape
        if r >= 2:
            within_video = c.var(axis=0, ddof=1).mean()
            seed_vars.append(max(c.mean(axis=1).var(ddof=1) - within_video / n, 0.0))
            within.append(within_video)
            bernoulli.append(c.mean() * (1 - c.mean()))
        per_video = c.mean(axis=0)
        actors, per_actor = np.unique(groups[split], return_counts=True)
        counts.extend(per_actor)
        means = np.array([per_video[groups[split] == a].mean() for a in actors])
        spread = np.mean([per_video[groups[split] == a].var(ddof=1) / (groups[split] == a).sum()
                          for a in actors if (groups[split] == a).sum() > 1])
        actor_vars.append(max(means.var(ddof=1) - spread, 0.0))
    if not seed_vars:
        raise ValueError("the seed component needs at least two seeds of one split")
    # a video redrawn with probability s per seed varies over seeds by p(1 - p) * s(2 - s): solve for s
    ratio = min(float(np.mean(within) / np.mean(bernoulli)), 1.0) if np.mean(bernoulli) > 0 else 1.0
    share = 1.0 - float(np.sqrt(1.0 - ratio))
    return Components(float(np.mean(accs)), float(np.sqrt(np.mean(seed_vars))),
                      float(np.sqrt(np.mean(actor_vars))), int(np.median(counts)), share)


def simulate_row(c: Components, design: Design, n_sims: int = 100) -> tuple[float, float]:
    """``simulate`` with one row's measured components (its p kept off 0 and 1, where the logit is infinite)."""
    actor_sd, seed_sd = c.logit_scale()
    return simulate(design, p=min(max(c.p, 0.02), 0.98), actor_sd=actor_sd, seed_sd=seed_sd, n_sims=n_sims,
                    seed_share=c.seed_share)


def run_components(out_dir: str) -> dict[str, Components]:
    """Components of every video row (method or method/variant) stored in ``out_dir``."""
    from benchmark.analysis.check import collect, predictions

    frame = collect([out_dir])
    frame = frame[(frame["status"] == "done") & frame["video_hit1"].notna()]
    out = {}
    for method, rows in frame.groupby("method", sort=False):
        correct, groups = {}, {}
        for _, row in rows.iterrows():
            preds = predictions(row["out_dir"], row["job_key"], row.get("variant") or "").sort_values("item")
            correct[(int(row["split"]), int(row["seed"]))] = (preds["pred"] == preds["label"]).to_numpy()
            groups[int(row["split"])] = preds["group"].astype(str).to_numpy()
        if len({seed for _, seed in correct}) >= 2:
            out[method] = estimate_components(correct, groups)
    return out


def seed_correlation(accuracy: dict[tuple[int, int], float]) -> float | None:
    """How alike seed s does on every split: the mean, over pairs of splits, of the correlation between the
    accuracies of the seeds both ran (``accuracy[(split, seed)]``); None when no pair of splits shares 3 seeds
    whose accuracies vary.

    The intervals redraw seeds within each split independently, so they assume about 0. Seeds that start
    every split from the same initial weights broke that (docs/statistics.md, "Seeds shared across splits").
    """
    by_split: dict[int, dict[int, float]] = {}
    for (split, seed), value in accuracy.items():
        by_split.setdefault(split, {})[seed] = value
    correlations = []
    for first, second in combinations(sorted(by_split), 2):
        common = sorted(set(by_split[first]) & set(by_split[second]))
        x = np.array([by_split[first][s] for s in common])
        y = np.array([by_split[second][s] for s in common])
        if len(common) >= 3 and x.std() > 0 and y.std() > 0:
            correlations.append(float(np.corrcoef(x, y)[0, 1]))
    return float(np.mean(correlations)) if correlations else None


def run_seed_correlations(out_dir: str) -> dict[str, float | None]:
    """``seed_correlation`` of every video row stored in ``out_dir``, from its jobs' video hit@1."""
    from benchmark.analysis.check import collect

    frame = collect([out_dir])
    frame = frame[(frame["status"] == "done") & frame["video_hit1"].notna()]
    return {method: seed_correlation({(int(split), int(seed)): float(hit) for split, seed, hit
                                      in zip(rows["split"], rows["seed"], rows["video_hit1"])})
            for method, rows in frame.groupby("method", sort=False)}


DEFAULT_DESIGNS = ("1x1x4", "3x3x4", "3x5x12")


def parse_design(text: str) -> tuple[int, int, int]:
    """``SPLITSxSEEDSxACTORS`` (e.g. 3x5x12) as a tuple of three positive ints."""
    parts = text.split("x")
    if len(parts) != 3 or not all(p.isdigit() and int(p) > 0 for p in parts):
        raise UsageError(f"{text!r}: a design is SPLITSxSEEDSxACTORS, e.g. 3x5x12")
    return tuple(map(int, parts))


def add_arguments(parser) -> None:
    """The options of ``python -m benchmark.coverage`` and ``bench plan coverage``."""
    parser.add_argument("--out", required=True, help="a run directory with >= 2 seeds of some split")
    # designs stay text here: ``run`` parses them, so a bad one is a one-line error under ``bench``
    parser.add_argument("--designs", nargs="+", default=list(DEFAULT_DESIGNS), metavar="SxRxA",
                        help="splits x seeds x test actors per split (videos per actor: as in the run; "
                             f"default: {' '.join(DEFAULT_DESIGNS)})")
    parser.add_argument("--sims", type=int, default=100, help="simulated runs per design (default 100)")


def run(args) -> int:
    """Print each row's components and its simulated coverage and half-width on each design. A bad option
    raises ``UsageError``; a run without a row that has two seeds of a split raises ``ValueError``."""
    designs = [parse_design(text) for text in args.designs]
    if args.sims < 1:
        raise UsageError(f"--sims must be at least 1, got {args.sims}")
    components = run_components(args.out)
    if not components:
        raise ValueError(f"{args.out}: no row has two seeds of a split")
    correlations = run_seed_correlations(args.out)
    print("row | p | seed sd | actor sd (points) | seed r across splits | " + " | ".join(
        f"{s}x{r}x{a}: coverage, ±" for s, r, a in designs))
    for method, c in components.items():
        cells = []
        for splits, seeds, actors in designs:
            coverage, half = simulate_row(c, Design(splits, seeds, actors, c.videos_per_actor), args.sims)
            cells.append(f"{coverage:.2f}, {100 * half:.1f}")
        r = correlations.get(method)
        print(f"{method} | {100 * c.p:.1f} | {100 * c.seed_sd:.1f} | {100 * c.actor_sd:.1f} | "
              f"{'' if r is None else f'{r:+.2f}'} | " + " | ".join(cells))
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python -m benchmark.coverage --out DIR [--designs SxRxA ...]``: each row's measured components and the
    simulated coverage and half-width of its 95% interval on each design (splits x seeds x test actors)."""
    return tool_main("python -m benchmark.coverage", None, add_arguments, run, argv)


if __name__ == "__main__":
    sys.exit(main())
