"""How large a video run must be for every row's interval to be tight, and what that costs at a run's speed.

``bench plan sizing --out DIR [--half-width 6] [--actors A ...]`` (or ``python -m benchmark.sizing``) reads a
run with two or more seeds of some split (``benchmark.analysis.coverage`` estimates each row's seed and actor spreads
from it) and prints, per row:

* a bound that no test set can beat: the mean of n training runs (splits x seeds) varies by the seed
  spread / sqrt(n) whatever is tested, and a normal interval that covers ``coverage`` of the time is at
  least z * that wide, so n >= (z * seed_sd / half_width)^2;
* by simulation of the report's interval procedure (``benchmark.analysis.coverage.simulate``), the fewest seeds per
  split that give coverage >= 0.93 and a half-width <= the target, for each number of test actors asked;

and the run's own cost per (split, seed), measured from its jobs' start and end times, projected to the
design the widest row needs; then the seeds each method needs (its widest row's) and that design's time from
the run's job times per method (``benchmark.analysis.designs``: how ``bench run --design`` is sized).
"""
from __future__ import annotations

import math
import sys

import numpy as np
from scipy.stats import norm

from benchmark.analysis.coverage import Components, Design, run_components, simulate_row
from benchmark.common.errors import UsageError, tool_main

COVERAGE = 0.93
MAX_SEEDS = 40      # seeds per split the search tries at most


def runs_lower_bound(seed_sd: float, half_width: float, coverage: float = COVERAGE) -> int:
    """Fewest training runs whose mean can carry a ``coverage`` interval of at most +-``half_width``."""
    z = norm.ppf(0.5 + coverage / 2)
    return max(1, math.ceil((z * seed_sd / half_width) ** 2))


def meets(c: Components, design: Design, half_width: float, n_sims: int) -> bool:
    coverage, half = simulate_row(c, design, n_sims)
    return coverage >= COVERAGE and half <= half_width


def fewest_seeds(c: Components, splits: int, actors: int, half_width: float, n_sims: int = 100,
                 max_seeds: int = MAX_SEEDS) -> int | None:
    """Fewest seeds per split (>= 2, so seed variance is in the interval) meeting the target on ``splits``
    x seeds x ``actors``, searched upward from the bound (doubling, then bisection); None beyond max_seeds."""
    def ok(seeds: int) -> bool:
        return meets(c, Design(splits, seeds, actors, c.videos_per_actor), half_width, n_sims)

    low = max(2, math.ceil(runs_lower_bound(c.seed_sd, half_width) / splits))   # below it: cannot meet
    if low > max_seeds:
        return None
    if ok(low):
        return low
    high = low
    while not ok(high := min(2 * high, max_seeds)):
        if high == max_seeds:
            return None
        low = high
    while high - low > 1:      # low fails, high meets
        mid = (low + high) // 2
        low, high = (low, mid) if ok(mid) else (mid, high)
    return high


def minutes_per_run(out_dir: str) -> tuple[float, float]:
    """(first, median of the others) wall minutes of the run's (split, seed) units: the sum of their jobs'
    start-to-end times. The first unit also extracted the features every later one reads from the cache."""
    from benchmark.analysis.check import collect
    from benchmark.analysis.designs import job_seconds

    jobs = collect([out_dir]).drop_duplicates("job_key")
    jobs = jobs[(jobs["status"] == "done") & (jobs["suite"] == "video")]
    seconds = job_seconds(jobs)
    per_unit = seconds.groupby([jobs["split"], jobs["seed"]]).sum()
    order = jobs.groupby(["split", "seed"])["started"].min().sort_values().index
    first = per_unit[order[0]] / 60
    rest = per_unit.drop(order[0])
    return first, (float(np.median(rest)) / 60 if len(rest) else first)


def add_arguments(parser) -> None:
    """The options of ``python -m benchmark.sizing`` and ``bench plan sizing``."""
    parser.add_argument("--out", required=True, help="a video run directory with >= 2 seeds of some split")
    parser.add_argument("--half-width", type=float, default=6.0, help="target half-width in points (default 6)")
    parser.add_argument("--splits", type=int, default=3, help="splits of the design (default 3, all)")
    parser.add_argument("--actors", type=int, nargs="+", default=[4, 12], help="test actors per split to try")
    parser.add_argument("--sims", type=int, default=100, help="simulated runs per design tried")


def run(args) -> int:
    """Print the seeds per split each row needs and the run's cost at that design. A bad option raises
    ``UsageError``; a run without a row that has two seeds of a split raises ``ValueError``."""
    if args.half_width <= 0 or args.splits < 1 or min(args.actors) < 1 or args.sims < 10:
        raise UsageError("--half-width must be > 0, --splits and --actors >= 1, --sims >= 10")
    components = run_components(args.out)
    if not components:
        raise ValueError(f"{args.out}: no row has two seeds of a split")
    h = args.half_width / 100
    print(f"target: 95% interval within +-{args.half_width:g} points covering >= {COVERAGE:.0%}, "
          f"{args.splits} split(s); seeds per split needed (simulated, {args.sims} runs per design)")
    print("row | p | seed sd | actor sd | runs >= (seed spread alone) | "
          + " | ".join(f"{a} test actors" for a in args.actors))
    needed = {a: 0 for a in args.actors}
    per_method: dict[int, dict[str, int | None]] = {a: {} for a in args.actors}   # a method's widest row
    for method, c in components.items():
        cells = []
        for a in args.actors:
            seeds = fewest_seeds(c, args.splits, a, h, args.sims)
            needed[a] = None if seeds is None or needed[a] is None else max(needed[a], seeds)
            name, widest = method.split("/")[0], per_method[a].get(method.split("/")[0], 0)
            per_method[a][name] = None if seeds is None or widest is None else max(widest, seeds)
            cells.append(f"> {MAX_SEEDS}" if seeds is None else str(seeds))
        print(f"{method} | {100 * c.p:.1f} | {100 * c.seed_sd:.1f} | {100 * c.actor_sd:.1f} | "
              f"{runs_lower_bound(c.seed_sd, h)} | " + " | ".join(cells))
    first, per_run = minutes_per_run(args.out)
    print(f"this run: {first:.1f} min for its first (split, seed) (features extracted), {per_run:.1f} min per "
          f"later one (median); more test actors cost more than this")
    for a, seeds in needed.items():
        if seeds is None:
            print(f"every row at {a} test actors: more than {MAX_SEEDS} seeds per split")
            continue
        runs = args.splits * seeds
        print(f"every row at {a} test actors: {args.splits} x {seeds} = {runs} runs, about "
              f"{first + (runs - 1) * per_run:.0f} min at this run's cost")
    for a, methods in per_method.items():
        print(f"seeds per method at {a} test actors (its widest row): "
              + ", ".join(f"{m} {f'> {MAX_SEEDS}' if n is None else n}" for m, n in methods.items())
              + _per_method_minutes(args.out, args.splits, methods))
    return 0


def _per_method_minutes(out_dir: str, splits: int, seeds: dict[str, int | None]) -> str:
    """``; about N min at this run's job times`` for a design that runs each method its own seeds (empty where a
    method has no size; the reason where the run's time is unknown)."""
    from benchmark.analysis.designs import RunDesign, measure_time, projected_minutes

    if None in seeds.values():
        return ""
    try:
        measured = measure_time(out_dir)
    except ValueError as exc:
        return f"; its time is unknown ({exc})"
    design = RunDesign("sized", measured.profile, tuple(range(1, splits + 1)), 1, "", method_seeds=tuple(seeds.items()))
    return f"; about {projected_minutes(design, measured, tuple(seeds)):.0f} min at this run's job times"


def main(argv: list[str] | None = None) -> int:
    return tool_main("python -m benchmark.sizing", __doc__.split("\n\n")[0], add_arguments, run, argv)


if __name__ == "__main__":
    sys.exit(main())
