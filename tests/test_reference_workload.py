"""The reference workloads the speed gate divides by: they must not change a job's results, and the training
one must see a shared core that the single-threaded one cannot."""
from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from benchmark.pipeline import reference_workload


def test_the_training_reference_leaves_the_jobs_random_stream_alone(monkeypatch):
    monkeypatch.setattr(reference_workload, "_NET", None)   # built here, as at a worker's first job
    torch.manual_seed(3)
    expected = torch.rand(4)
    torch.manual_seed(3)
    assert reference_workload.training_reference_seconds(steps=2, warmup=1) > 0
    assert torch.equal(torch.rand(4), expected)


def test_both_references_are_positive_seconds():
    assert 0 < reference_workload.reference_seconds(repeats=3) < 5
    assert 0 < reference_workload.training_reference_seconds(steps=3, warmup=1) < 5


@pytest.mark.perf
def test_shared_cores_slow_the_training_reference_and_not_the_single_threaded_one():
    """Needs an otherwise idle 2-core machine (`pytest -m perf tests/test_reference_workload.py`): two
    busy-loop processes share the cores with the job's one thread (as ``--workers 1`` pins it)."""
    torch.set_num_threads(1)
    reference_workload.training_reference_seconds()      # builds the net and warms the allocator
    idle = (reference_workload.reference_seconds(), reference_workload.training_reference_seconds(steps=24))
    # each busy loop ends by itself within a minute, so a killed test run cannot leave it spinning
    loop = "import time\nend = time.monotonic() + 60\nwhile time.monotonic() < end: pass"
    busy = [subprocess.Popen([sys.executable, "-c", loop]) for _ in range(2)]
    try:
        loaded = (reference_workload.reference_seconds(), reference_workload.training_reference_seconds(steps=24))
    finally:
        for process in busy:
            process.kill()
            process.wait(timeout=10)
    assert loaded[0] / idle[0] < 1.3
    assert loaded[1] / idle[1] > 1.25


def test_a_jobs_reference_fields_are_the_ones_the_speed_gate_reads():
    """The runner stores what the gate divides by; a renamed field would leave the gate 'host speed unknown'."""
    from benchmark.analysis.check import REFERENCE_KEYS, TRAINING_REFERENCE_KEYS

    fields = reference_workload.reference_timings((0.010, 0.20), (0.012, 0.30))
    assert set(REFERENCE_KEYS + TRAINING_REFERENCE_KEYS) <= set(fields)
    assert [fields[k] for k in REFERENCE_KEYS] == [0.010, 0.012]
    assert [fields[k] for k in TRAINING_REFERENCE_KEYS] == [0.20, 0.30]
    assert fields["reference_s"] == 0.011
