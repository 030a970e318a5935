"""A run is planned once: each (dataset, split) is opened once, and the guard, the disk check and the job grid
read that one plan."""
from __future__ import annotations

import dataclasses
from collections import Counter

import pytest

from benchmark.cli import main as bench
from benchmark.common.cache import Cache
from benchmark.data import datasets
from benchmark.pipeline.config import RunConfig
from benchmark.pipeline.plan import plan_run


@pytest.fixture
def opened(monkeypatch) -> Counter:
    """(dataset folder name, split) -> times its split files were read (what opening a split does)."""
    counts: Counter = Counter()
    read_split = datasets._read_split

    def counting(root, split):
        counts[(root.name, split)] += 1
        return read_split(root, split)
    monkeypatch.setattr(datasets, "_read_split", counting)
    return counts


def test_a_run_opens_each_split_once(opened, tmp_path):
    assert bench(["run", "--profile", "smoke", "--methods", "feature-histograms", "--split", "all",
                  "--out", str(tmp_path / "run"), "--workers", "1"]) == 0
    assert sorted(opened.values()) == [1, 1, 1] and {split for _, split in opened} == {1, 2, 3}


def test_the_plan_holds_the_opened_splits_and_cannot_be_changed(opened, tmp_path):
    config = RunConfig(suite="video", dataset=None, splits=(1, 2), methods=("feature-histograms",), profile="smoke",
                       seeds=1, out=tmp_path / "out", device="cpu", executor="local", workers=1)
    run_plan = plan_run(config, Cache(tmp_path / "cache"))
    assert sorted(run_plan.splits) == [1, 2] and [s.name for s in run_plan.methods["video"]] == ["feature-histograms"]
    assert sorted(opened.values()) == [1, 1]
    with pytest.raises(dataclasses.FrozenInstanceError):
        run_plan.config = config
    with pytest.raises(TypeError):
        run_plan.splits[3] = run_plan.splits[1]
