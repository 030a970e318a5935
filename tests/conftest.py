"""Shared fixtures: the real data beside the project (skipped when absent) and a scratch cache."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

# CVBENCH_SHARED_DATA points elsewhere (e.g. from a git worktree, whose parent has no shared/)
SHARED_DATA = Path(os.environ.get("CVBENCH_SHARED_DATA")
                   or Path(__file__).resolve().parents[1].parent / "shared" / "data")


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data`` (real split files, clips and DenseTrack reference output), or skip."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real data folder {SHARED_DATA} is absent")
    return SHARED_DATA


@pytest.fixture(autouse=True, scope="session")
def _test_cache(tmp_path_factory):
    """Keep the tests' artefact cache out of the user's home."""
    os.environ.setdefault("BENCH_CACHE", str(tmp_path_factory.mktemp("bench-cache")))
    yield


@pytest.fixture(scope="session")
def two_seed_smoke_run(tmp_path_factory) -> Path:
    """A stored smoke run of the feature histograms on every split with two seeds (the variance tools' input)."""
    from benchmark.cli import main as bench

    out = tmp_path_factory.mktemp("two-seed-run")
    assert bench(["run", "--profile", "smoke", "--methods", "feature-histograms", "--split", "all", "--seeds", "2",
                  "--out", str(out), "--workers", "1"]) == 0
    return out
