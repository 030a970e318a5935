"""The ``bench`` command."""
from __future__ import annotations

import argparse
import os
import sqlite3
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from benchmark.config import DEFAULT_OUT, PROFILES, SUITES, RunConfig

DESCRIPTION = ("Benchmark classical computer vision against deep learning on the same data splits: "
               "`bench run` runs a suite, `bench results` / `bench report` show it, `bench check` gates CI.")
if TYPE_CHECKING:  # pandas is imported where a table is printed: `bench --help` stays fast
    import pandas as pd

SUMMARY_COLUMNS = {
    "video": ["dataset", "method", "split", "seed", "status", "video_hit1", "clip_hit1", "video_hit5",
              "mean_class_acc", "n_unscorable", "n_tied_top", "extract_s", "train_s", "infer_s"],
    "generative": ["dataset", "method", "seed", "status", "kind", "nll_nats", "bits_per_dim", "gap_nats", "train_s",
                   "infer_s"],
}


class UsageError(ValueError):
    """A bad command line: printed as one line, exit code 2."""


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
        return frame.to_string(index=False)


def summary(frame: pd.DataFrame, suite: str) -> pd.DataFrame:
    rows = frame[frame["suite"] == suite]
    return rows[[c for c in SUMMARY_COLUMNS[suite] if c in rows.columns]]


def cmd_run(args: argparse.Namespace) -> int:
    from benchmark import run as run_module
    from benchmark.provenance import resolve_device
    from benchmark.registry import methods_of
    from benchmark.store import Store

    suite = _choice(args.suite, SUITES, "suite")
    profile = _choice(args.profile, tuple(PROFILES), "profile")
    executor = _choice(args.executor, ("local", "dask"), "executor")
    methods = tuple(dict.fromkeys(m.strip() for m in (args.methods or "").split(",") if m.strip()))  # a,a -> a
    if suite == "all" and (methods or args.dataset):
        raise UsageError("--methods and --dataset name one suite's methods/data: use --suite video or generative")
    if methods:
        from benchmark.plan import select_methods

        select_methods(methods_of(suite), methods)  # unknown names fail here, before any work
    if args.seeds < 1:
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
        suite=suite, dataset=args.dataset, splits=_parse_splits(args.split or "1"), methods=methods, profile=profile,
        seeds=args.seeds, out=Path(args.out), device=resolve_device(args.device), executor=executor,
        workers=args.workers or os.cpu_count() or 1, scheduler=args.scheduler,
        allow_group_overlap=args.allow_group_overlap, validation=args.validation)
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
        print(_format(summary(frame, name), "table"))
    if failed:
        print(f"\n{failed} job(s) failed; see the error column of `bench results --out {config.out}`. "
              f"Rerunning the same command retries them.", file=sys.stderr)
    return 1 if failed else 0


def cmd_list(args: argparse.Namespace) -> int:
    from benchmark.registry import density_methods, video_methods

    what = _choice(args.what, ("methods", "datasets", "suites", "profiles"), "list")
    if what == "methods":
        if args.costs:
            from benchmark.costs import FLOPS_NOTE, costs_table

            profile = _choice(args.profile or "quick", tuple(PROFILES), "profile")
            if args.classes is not None and args.classes < 2:
                raise UsageError(f"--classes must be at least 2, got {args.classes}")
            n_classes = args.classes or (101 if profile == "paper" else 10)
            print(f"{profile} profile, {n_classes} classes; {FLOPS_NOTE}")
            print(_format(costs_table(profile, n_classes), "table"))
            return 0
        if args.profile is not None:
            from benchmark.config import frame_spec_for

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


def cmd_results(args: argparse.Namespace) -> int:
    from benchmark.store import Store

    store = Store(args.out, readonly=True)
    try:
        frame = store.results(history=args.history)
    finally:
        store.close()
    if args.format == "table" and not frame.empty and not args.all_columns:
        keep = ["suite", "dataset", "split", "method", "seed", "status", "video_hit1", "clip_hit1",
                "mean_class_acc", "kind", "nll_nats", "bits_per_dim", "extract_s", "train_s", "infer_s",
                "train_clips_per_s", "infer_clips_per_s", "decoder", "group_protocol", "commit", "device_name",
                "finished", "error"]
        frame = frame[[c for c in keep if c in frame.columns]]
    print(_format(frame, _choice(args.format, ("table", "csv", "json"), "format")))
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
    run.add_argument("--profile", default="quick", help="smoke | quick | paper (default: quick)")
    run.add_argument("--seeds", type=int, default=1, help="seeds 0..N-1 per method (default: 1)")
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

    res = sub.add_parser("results", help="print the tidy result rows of a run")
    res.add_argument("--out", default=str(DEFAULT_OUT))
    res.add_argument("--format", default="table", help="table | csv | json")
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
        from benchmark.report_cli import register_report_commands

        registrars.append(register_report_commands)
    except ImportError as exc:
        registrars.append(_unavailable(("report", "check"), exc))
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
    from benchmark.store import StoreBusyError

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
