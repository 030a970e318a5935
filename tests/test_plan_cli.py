"""``bench plan``: the run-design tools (``benchmark.analysis.coverage``, ``benchmark.analysis.sizing``) under the ``bench`` CLI."""
from __future__ import annotations

import re
import subprocess
import sys

import pytest

from benchmark.cli import main as bench


def _bench(capsys, *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = bench(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def _help(capsys, *args: str) -> str:
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_:
        bench([*args, "--help"])
    assert exit_.value.code == 0
    return capsys.readouterr().out


def test_bench_help_lists_plan(capsys):
    assert re.search(r"^\s+plan\s+design a run from a stored one", _help(capsys), re.MULTILINE)


def test_plan_help_lists_its_tools(capsys):
    text = _help(capsys, "plan")
    assert re.search(r"^\s+coverage\s+simulated coverage", text, re.MULTILINE)
    assert re.search(r"^\s+sizing\s+seeds per split", text, re.MULTILINE)


@pytest.mark.parametrize("tool, options", [("coverage", ["--designs", "SxRxA", "--sims"]),
                                           ("sizing", ["--half-width", "--splits", "--actors", "--sims"])])
def test_each_tool_carries_its_module_options(capsys, tool, options):
    text = _help(capsys, "plan", tool)
    assert all(option in text for option in ["--out", *options])


def test_the_parser_does_not_import_the_tools():
    """`bench --help` and every other command stay free of scipy and pandas, which the tools import."""
    code = ("import sys; from benchmark.cli import build_parser; build_parser(); "
            "print(sorted({'scipy', 'pandas'} & set(sys.modules)))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout == "[]\n", done.stdout + done.stderr


@pytest.mark.parametrize("tool, options", [("coverage", ["--designs", "3x2x4", "--sims", "5"]),
                                           ("sizing", ["--actors", "4", "--sims", "10"])])
def test_plan_prints_what_the_module_prints(two_seed_smoke_run, capsys, tool, options):
    module = __import__(f"benchmark.{tool}", fromlist=["main"])
    argv = ["--out", str(two_seed_smoke_run), *options]
    code, out, err = _bench(capsys, "plan", tool, *argv)
    capsys.readouterr()
    assert module.main(argv) == 0
    assert code == 0 and err == ""
    assert out == capsys.readouterr().out and "\nfeature-histograms | " in out


@pytest.mark.parametrize("argv, message", [
    (["coverage", "--out", "{missing}"], "no results store at"),
    (["sizing", "--out", "{missing}"], "no results store at"),
    (["coverage", "--out", "{missing}", "--designs", "3x5"], "a design is SPLITSxSEEDSxACTORS"),
    (["coverage", "--out", "{missing}", "--designs", "3x0x4"], "a design is SPLITSxSEEDSxACTORS"),
    (["coverage", "--out", "{missing}", "--sims", "0"], "--sims must be at least 1"),
    (["sizing", "--out", "{missing}", "--half-width", "0"], "--half-width must be > 0"),
])
def test_a_bad_input_is_one_line(tmp_path, capsys, argv, message):
    argv = [arg.format(missing=tmp_path / "no-such-run") for arg in argv]
    code, out, err = _bench(capsys, "plan", *argv)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("bench: error: ") and message in err, err


def test_a_run_without_two_seeds_is_one_line(capsys, tmp_path):
    out_dir = tmp_path / "one-seed"
    assert bench(["run", "--profile", "smoke", "--methods", "feature-histograms", "--out", str(out_dir),
                  "--workers", "1"]) == 0
    code, out, err = _bench(capsys, "plan", "sizing", "--out", str(out_dir))
    assert code == 2 and out == ""
    assert err == f"bench: error: {out_dir}: no row has two seeds of a split\n"
