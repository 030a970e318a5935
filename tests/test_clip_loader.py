"""The deep input pipeline of the paper profile: a clip is read from its chunks alone, loader processes
give the batches of the in-process path, data waits are measured, and loaders die with their driver."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from dataclasses import replace

import numpy as np
import pytest
import torch

from benchmark.data.clipstore import CHUNK
from benchmark.data.video import VideoSet
from deep.train import ClipSource, ClipSpec, TrainConfig, _batches, init_weights, train_batch, train_model
from deep.video import fusion
from test_deep_models import write_videos
from sessions import kill_session, session_processes, survivors_of_kill_9

FRAMES = 40   # 5 chunks of 8


@pytest.fixture(scope="module")
def compact(tmp_path_factory) -> VideoSet:
    return replace(write_videos(tmp_path_factory.mktemp("clip-videos"), size=48, frames=FRAMES), compact=True)


@pytest.fixture
def members_read(monkeypatch) -> list[str]:
    """Names of the .npz members decompressed (np.load's lazy NpzFile reads a member only when indexed)."""
    read: list[str] = []
    original = np.lib.npyio.NpzFile.__getitem__

    def spy(self, key):
        read.append(key)
        return original(self, key)

    monkeypatch.setattr(np.lib.npyio.NpzFile, "__getitem__", spy)
    return read


def test_a_clip_reads_exactly_its_frames_from_its_chunks_alone(compact, members_read):
    whole = compact.frames(0)
    flow = compact.flow(0)
    assert len(whole) == FRAMES
    start, length = 13, 6                                  # rows 13..18: chunks 1 and 2 of 5
    members_read.clear()
    rows = compact.frame_rows(0, np.arange(start, start + length))
    np.testing.assert_array_equal(rows, whole[start:start + length])
    chunks = sorted(m for m in members_read if m.startswith("c0"))
    assert chunks == ["c00001", "c00002"], members_read
    members_read.clear()
    np.testing.assert_array_equal(compact.flow_rows(0, np.array([0, 38])), flow[[0, 38]])
    assert sorted(m for m in members_read if m.startswith("c0")) == ["c00000", "c00004"], members_read
    members_read.clear()
    compact.frames(0)                                      # a whole-video load reads every chunk
    assert len([m for m in members_read if m.startswith("c0")]) == FRAMES // CHUNK


@pytest.mark.parametrize("spec", [ClipSpec(frames=4, size=24, step=3, short_side=36),
                                  ClipSpec(frames=5, size=24, modality="flow", short_side=32)],
                         ids=["rgb-resized", "flow-resized"])
def test_clips_read_by_rows_equal_clips_cut_from_preloaded_videos(compact, spec, monkeypatch):
    preloaded = ClipSource(compact, spec, preload=True, colour_augment=True)
    lazy = ClipSource(compact, spec, preload=False, colour_augment=True)

    def no_whole_video(*_):
        raise AssertionError("a training clip loaded its whole video")

    monkeypatch.setattr(VideoSet, "frames", no_whole_video)
    monkeypatch.setattr(VideoSet, "flow", no_whole_video)
    for step in range(3):
        a, la = train_batch(preloaded, 4, step, seed=7)
        b, lb = train_batch(lazy, 4, step, seed=7)
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(la, lb)


def test_loader_processes_give_the_batches_of_the_in_process_path(compact):
    source = ClipSource(compact, ClipSpec(frames=4, size=24, short_side=36), preload=False, colour_augment=True)
    cfg = TrainConfig(steps=5, batch_size=3, lr=1e-2)
    expected = list(_batches(source, cfg, 1, 11, 0, "cpu"))
    for workers in (1, 2):
        got = list(_batches(source, cfg, 1, 11, workers, "cpu"))
        assert len(got) == len(expected) == 4
        for (a, la), (b, lb) in zip(expected, got):
            np.testing.assert_array_equal(a, np.asarray(b))
            np.testing.assert_array_equal(la, np.asarray(lb))


def test_training_with_loader_processes_equals_training_without(compact):
    arch = fusion.PROFILES["smoke"]
    spec = replace(fusion.clip_spec("early-fusion", arch), short_side=None)
    source = ClipSource(compact, spec, preload=False)
    cfg = TrainConfig(steps=3, batch_size=4, lr=1e-2)
    results = []
    for workers in (0, 2):
        torch.manual_seed(0)
        model = init_weights(fusion.make_net("early-fusion", arch, 3))
        results.append((train_model(model, source, cfg, seed=0, loader_workers=workers), model.state_dict()))
    (first, weights_a), (second, weights_b) = results
    assert first.losses == second.losses
    for name in weights_a:
        assert torch.equal(weights_a[name], weights_b[name]), name


class _Labels:
    labels = np.zeros(4, int)


class _SlowSource:
    """A source whose clips take ``delay`` seconds each: the loop must wait for its batches.

    With ``marks``, each process that starts a clip leaves a file named by its pid there.
    """

    usable = None

    def __init__(self, delay: float, marks: str | None = None):
        self.delay, self.videos, self.marks = delay, _Labels(), marks

    def __len__(self) -> int:
        return 4

    def train_clip(self, i, rng):
        if self.marks is not None:
            open(os.path.join(self.marks, str(os.getpid())), "w").close()
        time.sleep(self.delay)
        return np.zeros((1, 1, 2, 2), np.float32)


@pytest.mark.parametrize("workers", [0, 1])
def test_data_wait_is_the_time_the_loop_waited_for_batches(workers):
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4, 2))
    cfg = TrainConfig(steps=4, batch_size=2, lr=1e-3)
    slow = train_model(model, _SlowSource(0.25), cfg, seed=0, loader_workers=workers)
    assert 0.0 <= slow.data_wait_s <= slow.loop_s
    # a step computes in about no time here, so after the first batch the loop waits for nearly all of
    # 3 batches x 2 clips x 0.25 s; the first batch (with the loader's start-up) is a figure of its own
    assert slow.data_wait_s > 0.8 * 3 * 2 * 0.25
    assert slow.data_wait_s / slow.loop_s > 0.8
    assert slow.first_batch_s > 0.9 * 2 * 0.25
    fast = train_model(model, _SlowSource(0.0), cfg, seed=0, loader_workers=workers)
    assert fast.data_wait_s < slow.data_wait_s / 3


def test_default_loader_workers_do_not_oversubscribe(monkeypatch):
    from deep.train import default_loader_workers

    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    torch_threads = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        assert default_loader_workers(2, "cpu") == 0           # a 2-core job trains on both cores
        assert default_loader_workers(2, "cuda") == 1          # the GPU trains; one core loads
        assert default_loader_workers(16, "cuda") == 1         # never more than the machine's cores
        torch.set_num_threads(1)
        assert default_loader_workers(2, "cpu") == 1
    finally:
        torch.set_num_threads(torch_threads)


_DRIVER = textwrap.dedent("""
    import sys, time
    import numpy as np
    sys.path.insert(0, {tests!r})
    from test_clip_loader import _SlowSource
    from deep.train import TrainConfig, _batches
    if __name__ == "__main__":   # loaders start from a forkserver, which imports this script
        source = _SlowSource(60.0, marks={marks!r})
        batches = _batches(source, TrainConfig(steps=4, batch_size=2, lr=1e-3), 0, 0, 2, "cpu")
        next(batches)   # blocks: each clip takes a minute
""")


_WARM_DRIVER = textwrap.dedent("""
    import tempfile
    from dataclasses import replace
    from pathlib import Path
    from benchmark.common.cache import Cache
    from benchmark.pipeline.config import frame_spec_for
    from benchmark.data.datasets import open_split
    from benchmark.data.generate import write_dataset
    from benchmark.methods import MethodContext
    from benchmark.registry import video_methods
    from benchmark.pipeline.run import decode_all, with_frames
    if __name__ == "__main__":   # a paper-profile C3D job as the harness runs it, with two loader processes
        root = write_dataset(Path({out!r}) / "set", actors=4, clips=1, width=320, height=240, frames=16,
                             progress=False, classes=2)
        opened = open_split(str(root), 1, "paper", Cache(Path({out!r}) / "cache"))
        data = decode_all(with_frames(opened, frame_spec_for("paper", "c3d", False), compact=True), 2)
        ctx = MethodContext(profile="paper", seed=0, device="cpu", n_classes=2, workers=2,
                            artefact_dir={out!r} + "/a")
        method = video_methods()["c3d"].build(ctx)
        method.train = replace(method.train, steps=2, batch_size=2, checkpoint_every=10**9, loader_workers=2)
        method.fit(data.train)
        print("trained")
""")


@pytest.mark.slow
def test_loaders_start_cleanly_after_the_parent_used_its_thread_pools(tmp_path):
    """Loaders forked (not forkserver) from this process waited forever for their first batch."""
    script = tmp_path / "warm.py"
    script.write_text(_WARM_DRIVER.format(out=str(tmp_path)))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([os.getcwd(), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen([sys.executable, str(script)], env=env, start_new_session=True, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        out, err = proc.communicate(timeout=300)
    finally:
        kill_session(proc)   # a hung run leaves none of its processes behind
    assert proc.returncode == 0 and "trained" in out, err[-2000:]


def test_loader_processes_exit_when_the_driver_is_killed(tmp_path):
    script = tmp_path / "driver.py"
    marks = tmp_path / "marks"
    marks.mkdir()
    script.write_text(_DRIVER.format(tests=os.path.dirname(__file__), marks=str(marks)))
    env = {**os.environ, "OMP_NUM_THREADS": "1",
           "PYTHONPATH": os.pathsep.join([os.getcwd(), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen([sys.executable, str(script)], env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while len(list(marks.iterdir())) < 2:                 # both loaders inside a (minute-long) clip
            assert proc.poll() is None, "the driver ended before its loaders started"
            assert time.monotonic() < deadline, "no two loaders started a clip within 60 s"
            time.sleep(0.05)
        loaders = {int(mark.name) for mark in marks.iterdir()}
        assert loaders <= set(session_processes(proc.pid)) and proc.pid not in loaders
        left = survivors_of_kill_9(proc, within_s=3)      # torch's own watchdog would take a minute here
        assert not left, f"loader processes outlived their killed driver: {left}"
    finally:
        kill_session(proc)
