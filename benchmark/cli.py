"""The ``bench`` command."""
from __future__ import annotations

import argparse
import os
import shlex
import sqlite3
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from benchmark.analysis.designs import DESIGNS, design_named
from benchmark.common.errors import UsageError
from benchmark.pipeline.config import DEFAULT_OUT, PROFILES, SUITES, RunConfig

DESCRIPTION = ("Benchmark classical computer vision against deep learning on the same data splits: "
               "`bench run` runs a suite, `bench results` / `bench report` show it, `bench check` gates CI.")
if TYPE_CHECKING:  # pandas is imported where a table is printed: `bench --help` stays fast
    import pandas as pd

    from benchmark.analysis.designs import RunDesign

NOT_APPLICABLE = "–"   # a figure the row has no value for (clip hit@1 of a classical method, a failed job)


@dataclass(frozen=True)
class SummaryColumn:
    """One column of the summary `bench run` prints after a run."""
    name: str              # the results column
    header: str
    kind: str = "text"     # text | percent | count | seconds | a format such as "{:.2f}"
    job: bool = False      # a figure of the whole job: printed once, on its method's line, not per variant


SUMMARY_COLUMNS = {
    "video": (
        SummaryColumn("dataset", "dataset", job=True), SummaryColumn("method", "method"),
        SummaryColumn("split", "split", "count", job=True), SummaryColumn("seed", "seed", "count", job=True),
        SummaryColumn("status", "status", job=True),
        SummaryColumn("video_hit1", "video hit@1", "percent"), SummaryColumn("clip_hit1", "clip hit@1", "percent"),
        SummaryColumn("video_hit5", "video hit@5", "percent"),
        SummaryColumn("mean_class_acc", "mean class acc", "percent"),
        SummaryColumn("n_unscorable", "unscorable", "count"), SummaryColumn("n_tied_top", "tied top", "count"),
        SummaryColumn("extract_s", "extract (s)", "seconds", job=True),
        SummaryColumn("train_s", "train (s)", "seconds", job=True),
        SummaryColumn("infer_s", "infer (s)", "seconds", job=True),
    ),
    "generative": (
        SummaryColumn("dataset", "dataset", job=True), SummaryColumn("method", "method"),
        SummaryColumn("seed", "seed", "count", job=True), SummaryColumn("status", "status", job=True),
        SummaryColumn("kind", "kind"), SummaryColumn("nll_nats", "NLL (nats)", "{:.1f}"),
        SummaryColumn("bits_per_dim", "bits/dim", "{:.3f}"), SummaryColumn("gap_nats", "gap (nats)", "{:.2f}"),
        SummaryColumn("train_s", "train (s)", "seconds", job=True),
        SummaryColumn("infer_s", "infer (s)", "seconds", job=True),
    ),
}
# `bench results` csv / json: these first (where present), then every other column in the store's order
RESULT_COLUMNS_FIRST = ("method", "variant", "suite", "dataset", "profile", "split", "seed", "status",
                        "video_hit1", "clip_hit1", "video_hit5", "mean_class_acc", "kind", "nll_nats",
                        "bits_per_dim", "gap_nats", "extract_s", "train_s", "infer_s", "error")


def _parse_splits(text: str) -> tuple[int, ...]:
    if text == "all":
        return (1, 2, 3)
    if text in ("1", "2", "3"):
        return (int(text),)
    raise UsageError(f"unknown split {text!r}; valid: 1, 2, 3, all")


def _choice(value: str, valid, kind: str) -> str:
    if value not in valid:
        raise UsageError(f"unknown {kind} {value!r}; valid: {', '.join(valid)}")
    return value


def _format(frame: pd.DataFrame, fmt: str) -> str:
    import pandas as pd

    if frame.empty:
        return "(no results)"
    if fmt == "csv":
        return frame.to_csv(index=False)
    if fmt == "json":
        return frame.to_json(orient="records", indent=1)
    with pd.option_context("display.max_rows", 500, "display.max_columns", 50, "display.width", 200,
                           "display.float_format", "{:.4g}".format):
        return frame.to_string(index=False, na_rep="")


def _missing(value) -> bool:
    import pandas as pd

    return value is None or (not isinstance(value, (list, dict)) and bool(pd.isna(value)))


def _seconds(value: float) -> str:
    if value == 0:
        return "0"
    if value < 0.01:
        return "<0.01"
    return f"{value:.2f}" if value < 100 else f"{value:.0f}"


def _cell(value, kind: str) -> str:
    if _missing(value):
        return NOT_APPLICABLE
    if kind == "text":
        return str(value)
    if kind == "percent":
        return f"{100 * value:.1f}%"
    if kind == "count":
        return str(int(value))
    if kind == "seconds":
        return _seconds(float(value))
    return kind.format(value)


def _aligned(header: list[str], lines: list[list[str]], left: list[bool]) -> str:
    widths = [max(len(line[i]) for line in (header, *lines)) for i in range(len(header))]

    def render(cells: list[str]) -> str:
        return "  ".join(c.ljust(w) if lft else c.rjust(w) for c, w, lft in zip(cells, widths, left)).rstrip()
    return "\n".join(render(line) for line in (header, *lines))


def summary(frame: pd.DataFrame, suite: str) -> str:
    """The suite's results as a person reads them: one line per job (its method, status and timings), the
    job's variants (channels, fusions, bounds) indented under it with their own figures."""
    rows = frame[frame["suite"] == suite] if "suite" in frame else frame.iloc[:0]
    if rows.empty:
        return "(no results)"
    columns = [c for c in SUMMARY_COLUMNS[suite]
               if c.name == "method" or (c.name in rows and rows[c.name].map(lambda v: not _missing(v)).any())]
    lines = [line for _, job in rows.groupby("job_key", sort=False)
             for line in _job_lines(job.to_dict("records"), columns)]
    return _aligned([c.header for c in columns], lines, [c.kind == "text" for c in columns])


def _job_lines(records: list[dict], columns: list[SummaryColumn]) -> list[list[str]]:
    """The method's line (the job's figures, and the row's own if the job has a row without variant), then
    one indented line per variant with only the variant's figures."""
    main = next((r for r in records if not r.get("variant")), None)
    variant = records[0].get("variant") or ""
    method = records[0]["method"][: -len(variant) - 1] if variant else records[0]["method"]
    head = []
    for c in columns:
        if c.name == "method":
            head.append(method)
        elif c.job:
            head.append(_cell(records[0].get(c.name), c.kind))
        else:   # blank, not "–", when the figures are on the variant lines below
            head.append(_cell(main.get(c.name), c.kind) if main is not None else "")
    variants = [[f"  {r['variant']}" if c.name == "method" else "" if c.job else _cell(r.get(c.name), c.kind)
                 for c in columns] for r in records if r is not main]
    return [head, *variants]


def next_commands(out: Path) -> str:
    """What to do with a finished run, one command a line."""
    out = shlex.quote(str(out))
    commands = [(f"bench report --out {out}", "tables, figures and Findings"),
                (f"bench check --baseline FILE --out {out}",
                 "regression gate against a baseline (--update writes FILE from this run)"),
                (f"bench results --out {out} --format csv", "every result row, for a spreadsheet")]
    width = max(len(command) for command, _ in commands)
    return "\n".join(f"{'next:' if i == 0 else '':5s} {command:{width}s}  {what}"
                     for i, (command, what) in enumerate(commands))


def run_design(args: argparse.Namespace) -> RunDesign | None:
    """The named design of `bench run --design NAME` (None without it). It fixes the profile, the splits and the
    seeds: one of them given with another value is an error, and so is any other suite, dataset or evaluation
    than the one its spreads were measured on (the video suite, the embedded dataset's test actors)."""
    if args.design is None:
        return None
    design = design_named(args.design)
    conflicts = [f"{option} {text}" for option, text, value, fixed in (
        ("--profile", args.profile, args.profile, design.profile),
        ("--split", args.split, args.split and _parse_splits(args.split), design.splits),
        ("--seeds", args.seeds, args.seeds, None if design.method_seeds else design.seeds))
        if text is not None and value != fixed]
    conflicts += [option for option, given in (("--suite " + args.suite, args.suite != "video"),
                                               (f"--dataset {args.dataset}", args.dataset is not None),
                                               ("--validation", args.validation)) if given]
    if conflicts:
        raise UsageError(f"--design {design.name} runs the video suite on the embedded dataset, {design.profile} "
                         f"profile, splits {','.join(map(str, design.splits))}, "
                         f"{'its own seeds per method' if design.method_seeds else f'{design.seeds} seeds'}: drop "
                         f"{', '.join(conflicts)}")
    return design


def cmd_run(args: argparse.Namespace) -> int:
    from benchmark.pipeline import run as run_module
    from benchmark.common.provenance import resolve_device
    from benchmark.registry import methods_of
    from benchmark.pipeline.store import Store

    design = run_design(args)
    suite = _choice(args.suite, SUITES, "suite")
    profile = _choice(design.profile if design else args.profile or "quick", tuple(PROFILES), "profile")
    seeds = design.seeds if design else 1 if args.seeds is None else args.seeds
    splits = design.splits if design else _parse_splits(args.split or "1")
    executor = _choice(args.executor, ("local", "dask"), "executor")
    methods = tuple(dict.fromkeys(m.strip() for m in (args.methods or "").split(",") if m.strip()))  # a,a -> a
    if suite == "all" and (methods or args.dataset):
        raise UsageError("--methods and --dataset name one suite's methods/data: use --suite video or generative")
    if methods:
        from benchmark.pipeline.plan import select_methods

        select_methods(methods_of(suite), methods)  # unknown names fail here, before any work
    if seeds < 1:
        raise UsageError("--seeds must be at least 1")
    if args.workers is not None and args.workers < 1:
        raise UsageError(f"--workers must be at least 1, got {args.workers}")
    if Path(args.out).exists() and not Path(args.out).is_dir():
        raise UsageError(f"--out {args.out} is an existing file; it must be a directory")
    if args.split is not None and suite == "generative":
        raise UsageError("--split applies to the video suite: the generative suite has one fixed "
                         "train / validation / test split")
    if args.validation and suite != "video":
        raise UsageError("--validation applies to the video suite (the generative suite has its own "
                         "validation images)")
    if args.split is not None and suite == "all":
        print("note: --split applies to the video suite; the generative suite has one fixed split",
              file=sys.stderr)
    config = RunConfig(
        suite=suite, dataset=args.dataset, splits=splits, methods=methods, profile=profile,
        seeds=seeds, out=Path(args.out), device=resolve_device(args.device), executor=executor,
        workers=args.workers or os.cpu_count() or 1, scheduler=args.scheduler,
        allow_group_overlap=args.allow_group_overlap, validation=args.validation,
        method_seeds=design.method_seeds if design else ())
    if design is not None:
        from benchmark.analysis.designs import describe

        print(describe(design, methods or tuple(methods_of("video"))), flush=True)
    if args.dry_run:
        run_module.dry_run(config)
        return 0
    failed = run_module.run(config, sys.argv[1:] if args.argv is None else args.argv)
    store = Store(config.out, readonly=True)
    try:
        frame = store.results()
    finally:
        store.close()
    for name in (["video", "generative"] if suite == "all" else [suite]):
        print(f"\n== {name} suite, {config.profile} profile, results in {config.out} ==")
        print(summary(frame, name))
    print("\n" + next_commands(config.out))
    if failed:
        print(f"\n{failed} job(s) failed; see the error column of `bench results --out {config.out}`. "
              f"Rerunning the same command retries them.", file=sys.stderr)
    return 1 if failed else 0


def cmd_list(args: argparse.Namespace) -> int:
    from benchmark.registry import density_methods, video_methods

    what = _choice(args.what, ("methods", "datasets", "suites", "profiles"), "list")
    if what == "methods":
        if args.costs:
            from benchmark.reports.costs import FLOPS_NOTE, costs_table

            profile = _choice(args.profile or "quick", tuple(PROFILES), "profile")
            if args.classes is not None and args.classes < 2:
                raise UsageError(f"--classes must be at least 2, got {args.classes}")
            n_classes = args.classes or (101 if profile == "paper" else 10)
            print(f"{profile} profile, {n_classes} classes; {FLOPS_NOTE}")
            print(_format(costs_table(profile, n_classes), "table"))
            return 0
        if args.profile is not None:
            from benchmark.pipeline.config import frame_spec_for

            profile = _choice(args.profile, tuple(PROFILES), "profile")
            print(f"video methods, {profile} profile: frames decoded as (embedded dataset / real videos)")
            for name in video_methods():
                embedded = frame_spec_for(profile, name, embedded=True).describe()
                real = frame_spec_for(profile, name, embedded=False).describe()
                print(f"  {name:24s} {embedded if embedded == real else embedded + ' / ' + real}")
            return 0
        for suite, registry in (("video", video_methods()), ("generative", density_methods())):
            print(f"{suite}:")
            for name, spec in registry.items():
                print(f"  {name:24s} {spec.family:9s} {spec.modality:12s} {spec.description}")
    elif what == "datasets":
        from benchmark.data.datasets import DATASETS

        print("video:")
        for name, text in DATASETS.items():
            print(f"  {name:36s} {text}")
        try:
            from benchmark.data.images import IMAGE_DATASETS
        except ImportError:
            IMAGE_DATASETS = {}
        print("generative:")
        for name, source in IMAGE_DATASETS.items():
            print(f"  {name:36s} {getattr(source, 'description', source)}")
    elif what == "suites":
        print("video       classical and deep action recognition on the same splits")
        print("generative  likelihoods, bounds and memorisation checks of generative models")
        print("all         both")
    else:
        for profile in PROFILES.values():
            print(f"  {profile.name:6s} {profile.description}")
    return 0


def structure_columns(frame: pd.DataFrame) -> list[str]:
    """Columns holding a whole list or mapping in a cell (confusion matrices, per-class or per-level lists)."""
    return [c for c in frame.columns if frame[c].map(lambda v: isinstance(v, (list, dict))).any()]


def results_for_export(frame: pd.DataFrame, fmt: str, wide: bool = False) -> pd.DataFrame:
    """Key and headline columns first; for csv, the structure columns left out (``wide``: kept, as JSON text)."""
    import json

    first = [c for c in RESULT_COLUMNS_FIRST if c in frame.columns]
    frame = frame[first + [c for c in frame.columns if c not in first]]
    if fmt != "csv":
        return frame
    structures = structure_columns(frame)
    if not wide:
        return frame.drop(columns=structures)
    return frame.assign(**{c: frame[c].map(lambda v: json.dumps(v) if isinstance(v, (list, dict)) else v)
                           for c in structures})


def cmd_results(args: argparse.Namespace) -> int:
    from benchmark.pipeline.store import Store

    fmt = _choice(args.format, ("table", "csv", "json"), "format")
    if args.wide and fmt != "csv":
        raise UsageError("--wide applies to --format csv (json always holds every column)")
    store = Store(args.out, readonly=True)
    try:
        frame = store.results(history=args.history)
    finally:
        store.close()
    if not frame.empty:
        frame = results_for_export(frame, fmt, args.wide)
    if fmt == "table" and not frame.empty and not args.all_columns:
        keep = ["suite", "dataset", "split", "method", "seed", "status", "video_hit1", "clip_hit1",
                "mean_class_acc", "kind", "nll_nats", "bits_per_dim", "extract_s", "train_s", "infer_s",
                "train_clips_per_s", "infer_clips_per_s", "decoder", "group_protocol", "commit", "device_name",
                "finished", "error"]
        frame = frame[[c for c in keep if c in frame.columns]]
    print(_format(frame, fmt))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="bench", description=DESCRIPTION)
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run a suite; rerunning skips done jobs and retries failed ones")
    run.add_argument("--suite", default="video", help="video | generative | all (default: video)")
    run.add_argument("--dataset", default=None,
                     help="a dataset name or PATH (default: synthetic-actions for video, digits for generative)")
    run.add_argument("--split", default=None, help="video suite: 1 | 2 | 3 | all (default: 1)")
    run.add_argument("--methods", default=None, help="comma-separated method names (default: all of the suite)")
    run.add_argument("--profile", default=None, help="smoke | quick | paper (default: quick)")
    run.add_argument("--seeds", type=int, default=None, help="seeds 0..N-1 per method (default: 1)")
    run.add_argument("--design", default=None,
                     help=f"a named video design ({' | '.join(DESIGNS)}): its profile, splits and seeds per method, "
                          "sized on the committed measured spreads; prints its size, projected time and coverage first")
    run.add_argument("--out", default=str(DEFAULT_OUT), help=f"output directory (default: {DEFAULT_OUT})")
    run.add_argument("--device", default="auto", help="auto | cpu | cuda (default: auto)")
    run.add_argument("--executor", default="local", help="local | dask (default: local)")
    run.add_argument("--scheduler", default=None, help="Dask scheduler address (default: start a LocalCluster)")
    run.add_argument("--workers", type=int, default=None, help="processes for per-video work (default: cores)")
    run.add_argument("--allow-group-overlap", action="store_true",
                     help="run a split whose test list shares group ids with its train list (tables say so)")
    run.add_argument("--validation", action="store_true",
                     help="tuning: train on the split's training actors minus every third, evaluate on those "
                          "(never on the test actors); rows are marked evaluated_on=validation")
    run.add_argument("--dry-run", action="store_true",
                     help="print the jobs with cache disk, time and memory estimated from a few videos; run nothing")
    run.set_defaults(func=cmd_run, argv=None)

    lst = sub.add_parser("list", help="list methods, datasets, suites or profiles")
    lst.add_argument("what", nargs="?", default="methods")
    lst.add_argument("--costs", action="store_true", help="with methods: parameters and FLOPs per view")
    lst.add_argument("--profile", default=None,
                     help="with methods: each method's decode size in this profile; with --costs: the "
                          "profile (default: quick)")
    lst.add_argument("--classes", type=int, default=None,
                     help="classes for --costs (default: 101 as UCF101 for paper, else 10)")
    lst.set_defaults(func=cmd_list)

    res = sub.add_parser(
        "results", help="print the tidy result rows of a run",
        description="One row per method (and variant), dataset, split and seed. csv and json start with the "
                    "key and headline columns (method, variant, suite, dataset, profile, split, seed, status, "
                    "video_hit1, clip_hit1, video_hit5, mean_class_acc, kind, nll_nats, bits_per_dim, ...), "
                    "then every other column. Columns holding a whole matrix or list per row (confusion "
                    "matrices, per-class or per-level lists) are left out of csv unless --wide; json always "
                    "holds them. Per-video predictions stay in the store (OUT/results.sqlite).")
    res.add_argument("--out", default=str(DEFAULT_OUT), help=f"run directory (default: {DEFAULT_OUT})")
    res.add_argument("--format", default="table", help="table | csv | json (default: table)")
    res.add_argument("--wide", action="store_true",
                     help="csv: also the matrix and list columns (e.g. confusion), each cell as JSON text")
    res.add_argument("--all-columns", action="store_true", help="table: every column, not a selection")
    res.add_argument("--history", action="store_true", help="also rows superseded by a newer config or code")
    res.set_defaults(func=cmd_results)

    for register in _optional_commands():
        register(sub)
    return parser


def _unavailable(names: tuple[str, ...], exc: ImportError):
    """Register ``names`` as subcommands that say, in one line, why they cannot run (never vanish)."""
    missing = getattr(exc, "name", None) or str(exc)

    def register(subparsers) -> None:
        for name in names:
            parser = subparsers.add_parser(name, help=f"unavailable: needs {missing}", add_help=False)
            parser.set_defaults(func=lambda args, name=name: _fail_unavailable(name, missing), unavailable=True)
    return register


def _fail_unavailable(name: str, missing: str) -> int:
    print(f"bench: error: `bench {name}` needs {missing}, which does not import here; "
          f"reinstall with `pip install -e .`", file=sys.stderr)
    return 2


def _optional_commands():
    """Subcommands that live with the code they drive (features with the trajectories, report, check).
    One whose code does not import still appears and fails with one line naming what is missing."""
    from benchmark.data.generate import register_dataset_command

    registrars = [register_dataset_command]
    try:
        from baselines.video.dt.cli import register_features_command

        registrars.append(register_features_command)
    except ImportError as exc:
        registrars.append(_unavailable(("features",), exc))
    try:
        from benchmark.reports.cli import register_report_commands

        registrars.append(register_report_commands)
    except ImportError as exc:
        registrars.append(_unavailable(("report", "check"), exc))
    from benchmark.analysis.plan_cli import register_plan_command   # light: its tools import when run

    registrars.append(register_plan_command)
    return registrars


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra and not getattr(args, "unavailable", False):   # an unavailable command takes any arguments
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    if getattr(args, "argv", "unset") is None:
        args.argv = list(sys.argv[1:] if argv is None else argv)
    from benchmark.data.datasets import DatasetError
    from benchmark.data.splits import SplitFileError
    from benchmark.pipeline.store import StoreBusyError

    try:
        return int(args.func(args) or 0)
    except (UsageError, KeyError, DatasetError, SplitFileError, StoreBusyError, OSError, ValueError,
            sqlite3.Error) as exc:
        message = exc.args[0] if isinstance(exc, KeyError) and exc.args else str(exc)
        message = " ".join(str(message).split()) or type(exc).__name__   # always one line
        print(f"bench: error: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
