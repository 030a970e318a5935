"""Named run designs (``bench run --design NAME``) and the measured spreads they are sized on.

A design fixes the profile, the splits and the seeds per split of a video run on the embedded dataset.
It is sized on each row's seed and actor spreads measured in a stored run with two or more seeds
(``benchmark.analysis.coverage.run_components``) and on that run's minutes per (split, seed) unit
(``benchmark.analysis.sizing.minutes_per_run``), committed as ``docs/measurements/PROFILE-spreads.csv``
(row, p, seed_sd, actor_sd, videos_per_actor; probability scale) and ``PROFILE-spreads.json`` (where and
how long). ``bench plan spreads --out DIR [--to PATH]`` (or ``python -m benchmark.analysis.designs``)
writes both from a run; ``check_design`` simulates each row's 95% interval on a design from them.
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

MEASUREMENTS = Path(__file__).resolve().parents[2] / "docs" / "measurements"
SPREAD_COLUMNS = ("row", "p", "seed_sd", "actor_sd", "videos_per_actor")
HALF_WIDTH, COVERAGE = 0.06, 0.93


@dataclass(frozen=True)
class RunDesign:
    name: str
    profile: str
    splits: tuple[int, ...]
    seeds: int              # per split: seeds 0..seeds-1
    description: str

    @property
    def runs(self) -> int:
        """(split, seed) units: each runs every method once."""
        return len(self.splits) * self.seeds


DESIGNS = {
    "confirm": RunDesign(
        "confirm", "quick", (1, 2, 3),
        7,   # `bench plan sizing` on the committed 3 x 3 quick run: the widest rows (early and slow fusion, LRCN,
             # dt-fv-svm/hog) need 7 seeds a split at the embedded dataset's 4 test actors
        "every row's 95% interval within +-6 points at >= 93% simulated coverage, on the measured spreads"),
}


def design_named(name: str) -> RunDesign:
    if name not in DESIGNS:
        raise UsageError(f"unknown design {name!r}; valid: {', '.join(DESIGNS)}")
    return DESIGNS[name]


@dataclass(frozen=True)
class Measurement:
    """The run the spreads were measured on, and its wall minutes per (split, seed) unit."""

    profile: str
    dataset: str
    splits: tuple[int, ...]
    seeds: int
    first_minutes: float     # the first unit, which also extracted the features every later one reads
    later_minutes: float     # the median of the later units
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
            writer.writerow([row, f"{c.p:.4f}", f"{c.seed_sd:.4f}", f"{c.actor_sd:.4f}", c.videos_per_actor])
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
                                               int(line["videos_per_actor"])) for line in reader}
    fields = json.loads(path.with_suffix(".json").read_text())
    return components, Measurement(**{**fields, "splits": tuple(fields["splits"])})


def spreads_for(design: RunDesign) -> tuple[dict[str, Components], Measurement]:
    """The committed spreads of the design's profile, measured on the embedded dataset the design runs."""
    from benchmark.data.datasets import EMBEDDED

    path = spreads_path(design.profile)
    components, measurement = read_spreads(path)
    if (measurement.profile, measurement.dataset) != (design.profile, EMBEDDED):
        raise ValueError(f"{path} was measured on {measurement.dataset}, {measurement.profile} profile; design "
                         f"{design.name} runs {EMBEDDED}, {design.profile} profile")
    return components, measurement


def projected_minutes(design: RunDesign, measurement: Measurement) -> float:
    """Wall minutes of the design from scratch at the measured run's speed (as ``bench plan sizing`` projects)."""
    return measurement.first_minutes + (design.runs - 1) * measurement.later_minutes


@dataclass(frozen=True)
class RowCheck:
    coverage: float      # simulated share of 95% intervals that hold the true value
    half_width: float    # their mean half-width, probability scale
    ok: bool


def check_design(design: RunDesign, components: dict[str, Components], half_width: float = HALF_WIDTH,
                 coverage: float = COVERAGE, n_sims: int = 200) -> dict[str, RowCheck]:
    """Each row's simulated interval on the design: its splits and seeds, the profile's embedded test actors."""
    from benchmark.analysis.coverage import Design, simulate_row

    actors = PROFILES[design.profile].synthetic.test_groups_per_split
    checks = {}
    for row, c in components.items():
        covered, half = simulate_row(c, Design(len(design.splits), design.seeds, actors, c.videos_per_actor), n_sims)
        checks[row] = RowCheck(covered, half, covered >= coverage and half <= half_width)
    return checks


def describe(design: RunDesign, methods: tuple[str, ...], n_sims: int = 100) -> str:
    """What ``bench run --design`` prints before it starts: the size, and from the committed spreads the
    projected wall time and each row's simulated interval (or that they are missing)."""
    lines = [f"design {design.name}: {design.description}",
             f"{design.profile} profile, splits {','.join(map(str, design.splits))} x {design.seeds} seeds = "
             f"{design.runs} (split, seed) runs x {len(methods)} methods = {design.runs * len(methods)} jobs"]
    try:
        components, measured = spreads_for(design)
    except MissingSpreads as exc:
        return "\n".join([*lines, f"projected time and coverage: none, {exc}"])
    lines.append(f"projected wall time from scratch at the measured run's speed: about "
                 f"{projected_minutes(design, measured):.0f} min ({measured.first_minutes:.1f} min for its first "
                 f"(split, seed), {measured.later_minutes:.1f} per later one, on {measured.machine}); jobs already "
                 f"done in --out are skipped")
    rows = {row: c for row, c in components.items() if row.split("/")[0] in methods}
    checks = check_design(design, rows, n_sims=n_sims)
    actors = PROFILES[design.profile].synthetic.test_groups_per_split
    meeting = sum(c.ok for c in checks.values())
    lines += [f"simulated 95% intervals ({n_sims} runs, {actors} test actors per split) on the spreads of "
              f"{len(measured.splits)} x {measured.seeds} runs at {measured.commit}; target +-{100 * HALF_WIDTH:g} "
              f"points at >= {COVERAGE:.0%} coverage: {meeting} of {len(checks)} rows meet it",
              "row | coverage | half-width (points) | meets"]
    lines += [f"{row} | {c.coverage:.2f} | {100 * c.half_width:.2f} | {'yes' if c.ok else 'NO'}"
              for row, c in checks.items()]
    unmeasured = [m for m in methods if m not in {row.split("/")[0] for row in components}]
    if unmeasured:
        lines.append(f"not in the measurement (no projection): {', '.join(unmeasured)}")
    return "\n".join(lines)


# --- bench plan spreads --------------------------------------------------------------------------------
def measure(out_dir: str) -> tuple[dict[str, Components], Measurement]:
    """Every video row's components and the run's minutes per (split, seed), from a stored run."""
    from benchmark.analysis.check import collect
    from benchmark.analysis.coverage import run_components
    from benchmark.analysis.sizing import minutes_per_run

    components = run_components(out_dir)
    if not components:
        raise ValueError(f"{out_dir}: no row has two seeds of a split")
    jobs = collect([out_dir])
    jobs = jobs[(jobs["suite"] == "video") & (jobs["status"] == "done")]
    for column in ("profile", "dataset"):
        if jobs[column].nunique() > 1:
            raise ValueError(f"{out_dir}: its video jobs mix {column}s ({', '.join(sorted(jobs[column].unique()))}); "
                             f"spreads are measured on one")
    first, later = minutes_per_run(out_dir)
    return components, Measurement(
        jobs["profile"].iloc[0], jobs["dataset"].iloc[0], tuple(sorted(int(s) for s in jobs["split"].unique())),
        int(jobs.groupby("split")["seed"].nunique().min()), round(float(first), 2), round(float(later), 2),
        ", ".join(sorted(jobs["machine"].dropna().unique())), ", ".join(sorted(jobs["commit"].dropna().unique())))


def add_arguments(parser) -> None:
    """The options of ``python -m benchmark.analysis.designs`` and ``bench plan spreads``."""
    parser.add_argument("--out", required=True, help="a video run directory with >= 2 seeds of some split")
    parser.add_argument("--to", default=None,
                        help="the CSV to write, a .json beside it (default: docs/measurements/PROFILE-spreads.csv)")


def run(args) -> int:
    """Write the run's spreads and minutes where ``bench run --design`` reads them; print what was written."""
    components, measured = measure(args.out)
    path = Path(args.to) if args.to else spreads_path(measured.profile)
    if path.suffix != ".csv":
        raise UsageError(f"--to {path}: the spreads are a .csv file (the measurement goes beside it as .json)")
    write_spreads(path, components, measured)
    print(f"{path}: {len(components)} rows of {measured.dataset}, {measured.profile} profile, splits "
          f"{','.join(map(str, measured.splits))} x {measured.seeds} seeds; {measured.first_minutes:.1f} min for the "
          f"first (split, seed), {measured.later_minutes:.1f} per later one ({path.with_suffix('.json')})")
    return 0


def main(argv: list[str] | None = None) -> int:
    return tool_main("python -m benchmark.analysis.designs", "Write a stored run's per-row seed and actor spreads "
                     "and its minutes per (split, seed), as `bench run --design` reads them.",
                     add_arguments, run, argv)


if __name__ == "__main__":
    sys.exit(main())
