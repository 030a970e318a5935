"""The ``python -m benchmark.X`` commands of the flat layout still run: shims at the old paths call the tools."""
from __future__ import annotations

import subprocess
import sys

import pytest

OLD_PATHS = ("benchmark.coverage", "benchmark.sizing", "benchmark.gpu_check", "benchmark.scale_bench",
             "benchmark.clip_read_bench")


@pytest.mark.parametrize("module", OLD_PATHS)
def test_the_old_python_m_path_runs_the_tool(module):
    done = subprocess.run([sys.executable, "-m", module, "--help"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.startswith("usage:")
