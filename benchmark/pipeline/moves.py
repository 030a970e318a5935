"""The modules moved into packages (issue 25), and hashed source text as it read before the move.

Job keys hash the source of the harness and of each method (``plan.code_version``). Moving a file, or renaming
the modules its import lines name, would change every key and rerun every stored job; hashing each file as it
read before the move (moved modules and renamed names spelt as before, files in the order of their old paths)
keeps the keys of a pure move. Any other edit still changes the hashed text and so the key.

Only this table says what counts as a pure move: add a row when a module moves, never edit a row.
"""
from __future__ import annotations

import re

MOVED = {   # new path -> path before the move, relative to the project root
    "benchmark/common/cache.py": "benchmark/cache.py",
    "benchmark/common/progress.py": "benchmark/progress.py",
    "benchmark/common/threads.py": "benchmark/threads.py",
    "benchmark/common/provenance.py": "benchmark/provenance.py",
    "benchmark/common/timing.py": "benchmark/timing.py",
    "benchmark/common/plotting.py": "benchmark/figures.py",
    "benchmark/pipeline/config.py": "benchmark/config.py",
    "benchmark/pipeline/plan.py": "benchmark/plan.py",
    "benchmark/pipeline/run.py": "benchmark/run.py",
    "benchmark/pipeline/runner.py": "benchmark/runner.py",
    "benchmark/pipeline/executors.py": "benchmark/executors.py",
    "benchmark/pipeline/dask_executor.py": "benchmark/dask_executor.py",
    "benchmark/pipeline/store.py": "benchmark/store.py",
    "benchmark/pipeline/outcome.py": "benchmark/outcome.py",
    "benchmark/pipeline/estimate.py": "benchmark/estimate.py",
    "benchmark/pipeline/protocol.py": "benchmark/protocol.py",
    "benchmark/pipeline/validation.py": "benchmark/validation.py",
    "benchmark/pipeline/decoding.py": "benchmark/decoding.py",
    "benchmark/pipeline/metrics.py": "benchmark/metrics.py",
    "benchmark/pipeline/generative_suite.py": "benchmark/generative_suite.py",
    "benchmark/pipeline/reference_workload.py": "benchmark/reference_workload.py",
    "benchmark/analysis/stats.py": "benchmark/stats.py",
    "benchmark/analysis/findings.py": "benchmark/findings.py",
    "benchmark/analysis/check.py": "benchmark/check.py",
    "benchmark/analysis/coverage.py": "benchmark/coverage.py",
    "benchmark/analysis/sizing.py": "benchmark/sizing.py",
    "benchmark/analysis/host_speed.py": "benchmark/host_speed.py",
    "benchmark/analysis/tolerances.py": "benchmark/tolerances.py",
    "benchmark/analysis/plan_cli.py": "benchmark/plan_cli.py",
    "benchmark/reports/report.py": "benchmark/report.py",
    "benchmark/reports/cli.py": "benchmark/report_cli.py",
    "benchmark/reports/figures.py": "benchmark/report_figures.py",
    "benchmark/reports/html.py": "benchmark/report_html.py",
    "benchmark/reports/costs.py": "benchmark/costs.py",
    "benchmark/audits/memorisation.py": "benchmark/memorisation.py",
    "benchmark/audits/planted_copies.py": "benchmark/planted_copies.py",
    "benchmark/tools/scale_bench.py": "benchmark/scale_bench.py",
    "benchmark/tools/clip_read_bench.py": "benchmark/clip_read_bench.py",
    "benchmark/tools/gpu_check.py": "benchmark/gpu_check.py",
    "benchmark/common/processes.py": "benchmark/executors.py",   # die_with_driver, out of the executors
}
RENAMED = {"GROUP_PATTERN": "_GROUP", "features_cache_key": "_features_key"}   # imported by other modules: public


def _dotted(path: str) -> str:
    return path.removesuffix(".py").replace("/", ".")


_OLD = {**{_dotted(new): _dotted(old) for new, old in MOVED.items()}, **MOVED, **RENAMED}
_NEW = b"|".join(re.escape(new.encode()) for new in sorted(_OLD, key=len, reverse=True))   # longest first
_PATTERN = re.compile(rb"(?<![\w./])(" + _NEW + rb")(?![\w])")


def old_path(relpath: str) -> str:
    """Where the file ``relpath`` (relative to the project root) was before the move."""
    return MOVED.get(relpath, relpath)


def as_before_move(source: bytes) -> bytes:
    """``source`` with every moved module (dotted or as a path) and renamed name spelt as before the move."""
    return _PATTERN.sub(lambda match: _OLD[match.group(1).decode()].encode(), source)
