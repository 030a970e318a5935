"""The ``report`` and ``check`` subcommands (wiring only; the work is in report.py and check.py)."""
from __future__ import annotations

import argparse
from pathlib import Path

from benchmark.pipeline.config import DEFAULT_OUT


def _out_dirs(args: argparse.Namespace) -> list[Path]:
    return [Path(p) for p in (args.out or [str(DEFAULT_OUT)])]


def cmd_report(args: argparse.Namespace) -> int:
    from benchmark.reports.report import write_reports

    for path in write_reports(_out_dirs(args), Path(args.to) if args.to else None):
        print(path)
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    from benchmark.analysis.check import Tolerances, run_check

    tol = Tolerances(margin=args.margin, nll_margin=args.nll_margin, alpha=args.alpha,
                     speed_tolerance=args.speed_tolerance, min_seconds=args.min_seconds)
    return run_check(Path(args.baseline), _out_dirs(args), args.update, tol, show_all=args.all,
                     allow_dirty=args.allow_dirty, expect_planted=args.expect_planted)


def register_report_commands(subparsers) -> None:
    from benchmark.analysis.tolerances import Tolerances

    defaults = Tolerances()
    report = subparsers.add_parser("report", help="regenerate tables and figures from the results store")
    report.add_argument("--out", action="append", default=None,
                        help=f"run directory; repeat for several (default: {DEFAULT_OUT})")
    report.add_argument("--to", default=None,
                        help="where the reports go (default: OUT/reports, beside the first run's results)")
    report.set_defaults(func=cmd_report)

    check = subparsers.add_parser(
        "check", help="CI gate: fail on accuracy or speed regressions beyond noise",
        description="Compare a run with a baseline and fail on accuracy or speed regressions beyond noise. "
                    "A baseline gates runs of its own suite, dataset, profile, splits and seeds: "
                    "reports/baseline-ci.json is the ci profile on every split "
                    "(`bench run --suite all --profile ci --split all --workers 1`). To gate runs of "
                    "another profile or dataset, make a baseline of your own: run it once, then "
                    "`bench check --update --baseline FILE --out DIR`, and check later runs against FILE.")
    check.add_argument("--baseline", required=True, help="baseline JSON (written by --update)")
    check.add_argument("--out", action="append", default=None,
                       help=f"run directory; repeat for several (default: {DEFAULT_OUT})")
    check.add_argument("--update", action="store_true",
                       help="write the run as the baseline FILE instead of checking it: the way to make a "
                            "baseline of your own profile, dataset or machine (from committed code; see "
                            "--allow-dirty)")
    check.add_argument("--margin", type=float, default=defaults.margin,
                       help=f"tolerated drop of video hit@1, absolute (default: {defaults.margin})")
    check.add_argument("--nll-margin", type=float, default=defaults.nll_margin,
                       help=f"tolerated relative increase of test NLL (default: {defaults.nll_margin})")
    check.add_argument("--alpha", type=float, default=defaults.alpha,
                       help=f"level of the exact McNemar test (default: {defaults.alpha})")
    check.add_argument("--speed-tolerance", type=float, default=defaults.speed_tolerance,
                       help=f"tolerated relative slow-down (default: {defaults.speed_tolerance})")
    check.add_argument("--min-seconds", type=float, default=defaults.min_seconds,
                       help=f"phases shorter than this are not gated (default: {defaults.min_seconds})")
    check.add_argument("--all", action="store_true", help="also list the phases too short to be gated")
    check.add_argument("--allow-dirty", action="store_true",
                       help="with --update: write a baseline from a run of uncommitted code (marked +dirty)")
    check.add_argument("--expect-planted", default=None, metavar="METHOD:PHASE:FACTOR,...",
                       help="the gate's own mutation test: exit 0 only when each phase planted with "
                            "BENCH_PLANT_SLOWDOWN (same value) fails on CPU time and no other check fails")
    check.set_defaults(func=cmd_check)
