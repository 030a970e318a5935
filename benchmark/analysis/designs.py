"""Named run designs (``bench run --design NAME``) and the measured spreads they are sized on.

A design fixes the profile, the splits and the seeds per split of each method of a video run on the
embedded dataset. It is sized on each row's seed and actor spreads measured in a stored run with two or more
seeds (``benchmark.analysis.coverage.run_components``): a method runs as many seeds as its widest row needs,
not as many as the widest row of the table. Its time is projected from the same run's job times per method
and its time outside the jobs. Both are committed, as package data, as
``benchmark/analysis/measurements/PROFILE-spreads.csv`` (row, p, seed_sd, actor_sd, videos_per_actor, seed_share;
probability scale) and ``PROFILE-spreads.json`` (where and how long).
``bench plan spreads --out DIR [--to PATH]`` (or ``python -m benchmark.analysis.designs``) writes both from
a run; ``check_design`` simulates each row's 95% interval on a design from them.
"""
from __future__ import annotations

import csv
import json
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from benchmark.common.errors import UsageError, tool_main
from benchmark.pipeline.config import PROFILES

if TYPE_CHECKING:   # numpy and scipy are imported where a design is simulated: the `bench` parser lists designs
    from benchmark.analysis.coverage import Components

# package data: `bench run --design` reads them from an installed (not only an editable) package
MEASUREMENTS = Path(__file__).resolve().parent / "measurements"
SPREAD_COLUMNS = ("row", "p", "seed_sd", "actor_sd", "videos_per_actor", "seed_share")
HALF_WIDTH, COVERAGE = 0.06, 0.93


@dataclass(frozen=True)
class RunDesign:
    name: str
    profile: str
    splits: tuple[int, ...]
    seeds: int              # per split: seeds 0..seeds-1 of every method not in method_seeds
    description: str
    method_seeds: tuple[tuple[str, int], ...] = ()   # (method, seeds per split): methods sized apart
    sized_on: str | None = None   # the profile whose measured spreads size it (None: its own); it must train alike

    @property
    def spreads_profile(self) -> str:
        return self.sized_on or self.profile

    def seeds_of(self, method: str) -> int:
        return dict(self.method_seeds).get(method, self.seeds)

    def jobs(self, methods: tuple[str, ...]) -> int:
        """Jobs the design runs for ``methods``: each one once per split and seed."""
        return len(self.splits) * sum(self.seeds_of(m) for m in methods)


DESIGNS = {
    "confirm": RunDesign(
        "confirm", "confirm", (1, 2, 3),
        1,   # seeds per split of a method not sized below (none today)
        "every row's 95% interval within +-6 points at >= 93% simulated coverage, on the measured spreads",
        # Sized with `check_design` (300 simulated runs a row) on the spreads of the 3 x 7 quick run at 6152443,
        # at the confirm profile's 40 test videos an actor: each method's fewest seeds at which all its rows meet
        # the target, one more where a row then sat at +-5.9 or wider (single-frame, early fusion, slow fusion,
        # dt-fv-svm). On quick's 20 test videos an actor, 18 of 30 rows missed +-6 at 7 seeds of every method:
        # more test videos, not more seeds, was what the wide rows needed (docs/statistics.md).
        method_seeds=(("c3d", 6), ("lrcn", 5), ("early-fusion", 6), ("dt-fv-svm", 6), ("gru-rcn", 4),
                      ("late-fusion", 4), ("slow-pooling", 4), ("late-pooling", 3), ("slow-fusion", 3),
                      ("two-stream", 2), ("single-frame", 2), ("conv-pooling", 1), ("dt-bow-svm", 1),
                      ("idt-bow-svm", 1), ("feature-histograms", 1)),
        sized_on="quick"),
}


def design_named(name: str) -> RunDesign:
    if name not in DESIGNS:
        raise UsageError(f"unknown design {name!r}; valid: {', '.join(DESIGNS)}")
    return DESIGNS[name]


@dataclass(frozen=True)
class Measurement:
    """The run the spreads were measured on, and what its time went to."""

    profile: str
    dataset: str
    splits: tuple[int, ...]
    seeds: int                  # per split, the fewest any measured method ran
    overhead_minutes: float     # the run's wall time outside its jobs: data generation, decoding, optical flow
    # (method, its first seed's job, a later seed's job): wall minutes, each the mean over splits; the first seed's
    # jobs also extract what the later ones read from the cache
    job_minutes: tuple[tuple[str, float, float], ...]
    machine: str
    commit: str


class MissingSpreads(FileNotFoundError):
    """No measured spreads committed for the profile."""


def spreads_path(profile: str) -> Path:
    return MEASUREMENTS / f"{profile}-spreads.csv"


def write_spreads(path: Path, components: dict[str, Components], measurement: Measurement) -> None:
    """``path`` (one line per row) and, beside it with the suffix .json, the measurement."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(SPREAD_COLUMNS)
        for row, c in components.items():
            writer.writerow([row, f"{c.p:.4f}", f"{c.seed_sd:.4f}", f"{c.actor_sd:.4f}", c.videos_per_actor,
                             f"{c.seed_share:.4f}"])
    path.with_suffix(".json").write_text(json.dumps(asdict(measurement), indent=1) + "\n")


def read_spreads(path: Path) -> tuple[dict[str, Components], Measurement]:
    """The rows' components and the measurement written by ``write_spreads``."""
    from benchmark.analysis.coverage import Components

    if not path.is_file() or not path.with_suffix(".json").is_file():
        raise MissingSpreads(f"no measured spreads at {path} (and its .json): run `bench run --split all --seeds 3 "
                             f"--out DIR` with the design's profile, then `bench plan spreads --out DIR`")
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        if tuple(reader.fieldnames or ()) != SPREAD_COLUMNS:
            raise ValueError(f"{path}: columns {reader.fieldnames}, expected {', '.join(SPREAD_COLUMNS)}")
        components = {line["row"]: Components(float(line["p"]), float(line["seed_sd"]), float(line["actor_sd"]),
                                               int(line["videos_per_actor"]), float(line["seed_share"]))
                      for line in reader}
    fields = json.loads(path.with_suffix(".json").read_text())
    if "job_minutes" not in fields:
        raise MissingSpreads(f"{path.with_suffix('.json')} has no per-method job minutes (written by an older "
                             f"`bench plan spreads`): run it again on the measured run")
    job_minutes = tuple((method, first, later) for method, first, later in fields["job_minutes"])
    return components, Measurement(**{**fields, "splits": tuple(fields["splits"]), "job_minutes": job_minutes})


def spreads_for(design: RunDesign) -> tuple[dict[str, Components], Measurement]:
    """The committed spreads the design is sized on, measured on the embedded dataset the design runs."""
    from benchmark.common.settings import SETTINGS_FALLBACK
    from benchmark.data.datasets import EMBEDDED

    if len({SETTINGS_FALLBACK.get(p, p) for p in (design.profile, design.spreads_profile)}) > 1:
        raise ValueError(f"design {design.name} is sized on the {design.spreads_profile} profile, which trains with "
                         f"other settings than its {design.profile} profile: its seed spreads do not carry over")
    path = spreads_path(design.spreads_profile)
    components, measurement = read_spreads(path)
    if (measurement.profile, measurement.dataset) != (design.spreads_profile, EMBEDDED):
        raise ValueError(f"{path} was measured on {measurement.dataset}, {measurement.profile} profile; design "
                         f"{design.name} is sized on {EMBEDDED}, {design.spreads_profile} profile")
    return components, measurement


def videos_per_test_actor(profile: str) -> int:
    """Test videos of one actor in the profile's embedded dataset: every class, its test clips each."""
    from benchmark.data.synthetic import CLASSES

    return len(CLASSES) * PROFILES[profile].synthetic.test_clips


def projected_minutes(design: RunDesign, measurement: Measurement, methods: tuple[str, ...]) -> float:
    """Wall minutes of the design's ``methods`` from scratch at the measured run's speed: its time outside the
    jobs, and per method and split the first seed's job and each later seed's (methods not measured count 0)."""
    jobs = {method: (first, later) for method, first, later in measurement.job_minutes}
    return measurement.overhead_minutes + sum(
        len(design.splits) * (jobs[m][0] + (design.seeds_of(m) - 1) * jobs[m][1]) for m in methods if m in jobs)


@dataclass(frozen=True)
class RowCheck:
    coverage: float      # simulated share of 95% intervals that hold the true value
    half_width: float    # their mean half-width, probability scale
    ok: bool


def check_design(design: RunDesign, components: dict[str, Components], half_width: float = HALF_WIDTH,
                 coverage: float = COVERAGE, n_sims: int = 200) -> dict[str, RowCheck]:
    """Each row's simulated interval on the design: its splits and seeds, the profile's embedded test actors and
    their test videos (which may be more than the measured run had: the spreads are per actor and per seed)."""
    from benchmark.analysis.coverage import Design, simulate_row

    actors = PROFILES[design.profile].synthetic.test_groups_per_split
    videos = videos_per_test_actor(design.profile)
    checks = {}
    for row, c in components.items():
        seeds = design.seeds_of(row.split("/")[0])
        covered, half = simulate_row(c, Design(len(design.splits), seeds, actors, videos), n_sims)
        checks[row] = RowCheck(covered, half, covered >= coverage and half <= half_width)
    return checks


def seeds_text(design: RunDesign, methods: tuple[str, ...]) -> str:
    """``7 (c3d, lrcn), 2 (feature-histograms)``: seeds per split, most first, with the methods that run them."""
    by_seeds: dict[int, list[str]] = {}
    for method in methods:
        by_seeds.setdefault(design.seeds_of(method), []).append(method)
    return ", ".join(f"{n} ({', '.join(names)})" for n, names in sorted(by_seeds.items(), reverse=True))


def describe(design: RunDesign, methods: tuple[str, ...], n_sims: int = 200) -> str:
    """What ``bench run --design`` prints before it starts: the size, and from the committed spreads the
    projected wall time and each row's simulated interval (or that they are missing)."""
    lines = [f"design {design.name}: {design.description}",
             f"{design.profile} profile, splits {','.join(map(str, design.splits))}; seeds per split: "
             f"{seeds_text(design, methods)}; {design.jobs(methods)} jobs"]
    try:
        components, measured = spreads_for(design)
    except MissingSpreads as exc:
        return "\n".join([*lines, f"projected time and coverage: none, {exc}"])
    lines.append(f"projected wall time from scratch at the measured run's speed: about "
                 f"{projected_minutes(design, measured, methods):.0f} min ({measured.overhead_minutes:.1f} min of it "
                 f"outside the jobs, on {measured.machine}); jobs already done in --out are skipped")
    if measured.profile != design.profile:
        lines.append(f"(timed on the {measured.profile} profile's test set, not the {design.profile} profile's: "
                     f"its extra test videos' generation, decoding and evaluation are not in the projection)")
    rows = {row: c for row, c in components.items() if row.split("/")[0] in methods}
    checks = check_design(design, rows, n_sims=n_sims)
    actors = PROFILES[design.profile].synthetic.test_groups_per_split
    meeting = sum(c.ok for c in checks.values())
    lines += [f"simulated 95% intervals ({n_sims} runs, {actors} test actors per split with "
              f"{videos_per_test_actor(design.profile)} test videos each) on the spreads of "
              f"{len(measured.splits)} x {measured.seeds}+ {measured.profile} runs at {measured.commit}; target "
              f"+-{100 * HALF_WIDTH:g} points at >= {COVERAGE:.0%} coverage: {meeting} of {len(checks)} rows meet it",
              "row | seeds | coverage | half-width (points) | meets"]
    lines += [f"{row} | {design.seeds_of(row.split('/')[0])} | {c.coverage:.2f} | {100 * c.half_width:.2f} | "
              f"{'yes' if c.ok else 'NO'}" for row, c in checks.items()]
    measured_methods = {method for method, _, _ in measured.job_minutes}
    unmeasured = [m for m in methods if m not in {row.split("/")[0] for row in components} | measured_methods]
    if unmeasured:
        lines.append(f"not in the measurement (no projection): {', '.join(unmeasured)}")
    return "\n".join(lines)


# --- bench plan spreads --------------------------------------------------------------------------------
def job_seconds(jobs):
    """Each job's wall seconds, from its start and end times (a Series on ``jobs``' index)."""
    import pandas as pd

    return (pd.to_datetime(jobs["finished"]) - pd.to_datetime(jobs["started"])).dt.total_seconds()


def job_minutes(jobs) -> tuple[tuple[str, float, float], ...]:
    """(method, first seed's job, a later seed's job) wall minutes of a run's jobs, each the mean over splits
    (a method with one seed: its first seed's for both)."""
    jobs = jobs.drop_duplicates("job_key")
    minutes = job_seconds(jobs) / 60
    out = []
    for method, seconds in minutes.groupby(jobs["method"].str.split("/").str[0], sort=False):
        seeds = jobs.loc[seconds.index, "seed"]
        first = float(seconds[seeds == 0].mean())
        later = float(seconds[seeds > 0].mean()) if (seeds > 0).any() else first
        out.append((method, round(first, 3), round(later, 3)))
    return tuple(out)


def overhead_minutes(out_dir: str, jobs) -> float:
    """Wall minutes of the run's `bench run` commands outside its jobs (one that did not end normally: an error)."""
    import pandas as pd

    from benchmark.pipeline.store import Store

    store = Store(out_dir, readonly=True)
    try:
        spans = store.run_spans()
    finally:
        store.close()
    if any(finished is None for _, finished in spans):
        raise ValueError(f"{out_dir}: a `bench run` into it did not end normally, so its wall time is unknown; "
                         f"measure a run that ended")
    wall = sum((pd.Timestamp(finished) - pd.Timestamp(started)).total_seconds() for started, finished in spans)
    return round(max(wall - job_seconds(jobs.drop_duplicates("job_key")).sum(), 0.0) / 60, 2)


def measure_time(out_dir: str) -> Measurement:
    """Where a stored video run ran, and its time per method and outside its jobs."""
    from benchmark.analysis.check import collect

    all_jobs = collect([out_dir])
    jobs = all_jobs[(all_jobs["suite"] == "video") & (all_jobs["status"] == "done")]
    for column in ("profile", "dataset"):
        if jobs[column].nunique() > 1:
            raise ValueError(f"{out_dir}: its video jobs mix {column}s ({', '.join(sorted(jobs[column].unique()))}); "
                             f"spreads are measured on one")
    seeds = jobs.assign(method=jobs["method"].str.split("/").str[0]).groupby(["method", "split"])["seed"].nunique()
    return Measurement(
        jobs["profile"].iloc[0], jobs["dataset"].iloc[0], tuple(sorted(int(s) for s in jobs["split"].unique())),
        int(seeds.min()), overhead_minutes(out_dir, all_jobs), job_minutes(jobs),
        ", ".join(sorted(jobs["machine"].dropna().unique())), ", ".join(sorted(jobs["commit"].dropna().unique())))


def measure(out_dir: str) -> tuple[dict[str, Components], Measurement]:
    """Every video row's components, and the run's time per method and outside its jobs, from a stored run."""
    from benchmark.analysis.coverage import run_components

    components = run_components(out_dir)
    if not components:
        raise ValueError(f"{out_dir}: no row has two seeds of a split")
    return components, measure_time(out_dir)


def add_arguments(parser) -> None:
    """The options of ``python -m benchmark.analysis.designs`` and ``bench plan spreads``."""
    parser.add_argument("--out", required=True, help="a video run directory with >= 2 seeds of some split")
    parser.add_argument("--to", default=None,
                        help="the CSV to write, a .json beside it "
                             "(default: benchmark/analysis/measurements/PROFILE-spreads.csv)")


def run(args) -> int:
    """Write the run's spreads and minutes where ``bench run --design`` reads them; print what was written."""
    components, measured = measure(args.out)
    path = Path(args.to) if args.to else spreads_path(measured.profile)
    if path.suffix != ".csv":
        raise UsageError(f"--to {path}: the spreads are a .csv file (the measurement goes beside it as .json)")
    write_spreads(path, components, measured)
    in_jobs = sum(len(measured.splits) * first for _, first, _ in measured.job_minutes)
    print(f"{path}: {len(components)} rows of {measured.dataset}, {measured.profile} profile, splits "
          f"{','.join(map(str, measured.splits))} x {measured.seeds}+ seeds; {measured.overhead_minutes:.1f} min "
          f"outside the jobs, {in_jobs:.1f} min in the first seed's jobs of every method "
          f"({path.with_suffix('.json')})")
    return 0


def main(argv: list[str] | None = None) -> int:
    return tool_main("python -m benchmark.analysis.designs", "Write a stored run's per-row seed and actor spreads "
                     "and its minutes per (split, seed), as `bench run --design` reads them.",
                     add_arguments, run, argv)


if __name__ == "__main__":
    sys.exit(main())
