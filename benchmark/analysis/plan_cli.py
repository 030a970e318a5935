"""The ``plan`` subcommand: design tools that size a run from a stored one (wiring only; the work and the
options are in coverage.py, sizing.py and designs.py, whose own ``python -m`` entry points take the same options).

Not to be confused with ``benchmark.pipeline.plan``, the job list of one ``bench run``.
"""
from __future__ import annotations

import argparse
import importlib

# subcommand -> (module offering add_arguments(parser) and run(args), help line)
TOOLS = {
    "coverage": ("benchmark.analysis.coverage",
                 "simulated coverage and half-width of each row's 95% interval on run designs (SxRxA)"),
    "sizing": ("benchmark.analysis.sizing",
               "seeds per split each row needs for a target interval half-width, and what that costs"),
    "spreads": ("benchmark.analysis.designs",
                "write each row's seed and actor spreads and the minutes per (split, seed) where `bench run "
                "--design` reads them"),
}


class _ToolParser(argparse.ArgumentParser):
    """A tool's parser whose options its module adds when the subcommand is parsed or its help is shown:
    the modules import numpy, scipy and pandas, which every other `bench` command would pay for."""

    def __init__(self, *args, module: str | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self._module = module

    def _load(self) -> None:
        if self._module is not None:
            module, self._module = self._module, None
            importlib.import_module(module).add_arguments(self)

    def parse_known_args(self, args=None, namespace=None):
        self._load()
        return super().parse_known_args(args, namespace)

    def format_help(self) -> str:
        self._load()
        return super().format_help()


def _run_tool(args: argparse.Namespace) -> int:
    return importlib.import_module(TOOLS[args.plan_command][0]).run(args)


def register_plan_command(subparsers) -> None:
    plan = subparsers.add_parser(
        "plan", help="design a run from a stored one: interval coverage per design, seeds a target width needs",
        description="Measure each row's seed and actor spreads in a stored run with two or more seeds of some "
                    "split, simulate the report's 95% intervals on other run designs, and write the spreads "
                    "`bench run --design` is sized on.")
    tools = plan.add_subparsers(dest="plan_command", required=True, metavar="{" + ",".join(TOOLS) + "}",
                                parser_class=_ToolParser)
    for name, (module, help_line) in TOOLS.items():
        tool = tools.add_parser(name, help=help_line.replace("%", "%%"), description=help_line, module=module)
        tool.set_defaults(func=_run_tool)
