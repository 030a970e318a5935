"""The embedded dataset: deterministic, UCF101 layout, and built the way its class design says."""
from __future__ import annotations

import numpy as np
import pytest

from benchmark.common.cache import Cache
from benchmark.data import synthetic
from benchmark.data.datasets import load_dataset, open_split
from benchmark.data.splits import read_ucf_layout

TINY = synthetic.SyntheticParams(size=32, n_frames=12, n_groups=3, clips_per_group=1, test_groups_per_split=1)


def test_rendering_is_deterministic():
    cls = synthetic.CLASSES[4]
    a = synthetic.render_video(cls, 2, 1, TINY)
    b = synthetic.render_video(cls, 2, 1, TINY)
    assert a.dtype == np.uint8 and a.shape == (12, 32, 32, 3)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, synthetic.render_video(cls, 3, 1, TINY))


def test_dataset_written_once_in_ucf_layout(tmp_path):
    root = synthetic.ensure_dataset(TINY, tmp_path, progress=False)
    videos = sorted(root.glob("*/*.avi"))
    assert len(videos) == len(synthetic.CLASSES) * TINY.n_groups * TINY.clips_per_group
    stamp = (root / "params.json").stat().st_mtime_ns
    assert synthetic.ensure_dataset(TINY, tmp_path, progress=False) == root
    assert (root / "params.json").stat().st_mtime_ns == stamp  # not regenerated
    other = synthetic.ensure_dataset(synthetic.SyntheticParams(**{**TINY.__dict__, "seed": 1}), tmp_path, False)
    assert other != root
    for split in (1, 2, 3):
        lists = read_ucf_layout(root / "ucfTrainTestlist", split)
        test_groups = {e.group for e in lists.test}
        assert test_groups == set(TINY.test_groups(split))
        assert not test_groups & {e.group for e in lists.train}
        assert len(lists.train) + len(lists.test) == len(videos)


def test_extra_test_clips_add_test_videos_only(tmp_path):
    """The confirm profile's data: more clips per (class, test actor) in the test lists, while the training lists,
    and the pixels of every video they name, are those of the dataset without them."""
    from dataclasses import replace

    wider = replace(TINY, test_clips_per_group=2)
    base, root = (synthetic.ensure_dataset(p, tmp_path, progress=False) for p in (TINY, wider))
    assert root != base
    for split in (1, 2, 3):
        lists, base_lists = (read_ucf_layout(r / "ucfTrainTestlist", split) for r in (root, base))
        assert [(e.relpath, e.label) for e in lists.train] == [(e.relpath, e.label) for e in base_lists.train]
        assert len(lists.test) == 2 * len(base_lists.test)
        assert {e.group for e in lists.test} == set(TINY.test_groups(split))
        for entry in lists.train:
            assert (root / entry.relpath).read_bytes() == (base / entry.relpath).read_bytes()
    assert "test_clips_per_group" not in TINY.identity()   # a dataset without extra clips keeps its name


def test_videos_read_back_through_the_real_data_path(tmp_path, monkeypatch):
    monkeypatch.setattr("benchmark.pipeline.config.PROFILES", {"tiny": _tiny_profile()})
    train, test = load_dataset("synthetic-actions", 1, "tiny", Cache(tmp_path))
    frames = train.frames(0)
    assert frames.shape == (12, 32, 32, 3)
    rendered = synthetic.render_video(synthetic.CLASSES[train.labels[0]], int(train.groups[0]), 1, TINY)
    assert np.abs(frames.astype(int) - rendered).mean() < 6  # MJPG is lossy, but it is this video
    data = open_split("synthetic-actions", 1, "tiny", Cache(tmp_path))
    assert set(data.pairs) == set(synthetic.PAIRS)


def _tiny_profile():
    from benchmark.pipeline.config import Profile
    from benchmark.data.video import FrameSpec

    return Profile("tiny", "test", TINY, FrameSpec())


@pytest.mark.parametrize("pair", list(synthetic.PAIRS.values()))
def test_motion_pairs_share_appearance(pair):
    by_name = {c.name: c for c in synthetic.CLASSES}
    a, b = by_name[pair[0]], by_name[pair[1]]
    assert a.shape == b.shape and a.motion != b.motion


def test_temporal_order_pair_has_the_same_steps_in_another_order():
    rng = np.random.default_rng(0)
    up_right, _ = synthetic._trajectory("up-right", 32, rng, span=20.0)
    right_up, _ = synthetic._trajectory("right-up", 32, rng, span=20.0)
    steps_a, steps_b = np.diff(up_right, axis=0), np.diff(right_up, axis=0)
    np.testing.assert_allclose(np.sort(steps_a, axis=0), np.sort(steps_b, axis=0), atol=1e-9)
    assert not np.allclose(steps_a, steps_b)
    assert np.all(steps_a[:15, 1] < 0) and np.all(steps_a[16:, 0] > 0)  # up first (image y down), then right


def test_the_ci_variant_has_a_still_camera_and_a_flat_scene():
    """camera=0, clutter=0 (the smoke profile): the background neither moves nor carries texture."""
    from dataclasses import replace

    frames = synthetic.render_video(synthetic.CLASSES[4], 1, 1, replace(TINY, camera=0.0, clutter=0.0)).astype(float)
    corner = frames[:, :6, :6].reshape(len(frames), -1, 3)   # (T, pixels, RGB)
    assert np.abs(np.diff(corner, axis=0)).max() <= 1.0 and corner.std(axis=1).max() <= 1.0


def test_every_video_has_camera_motion():
    """The scene itself moves: a static object class still changes from frame to frame everywhere."""
    frames = synthetic.render_video(synthetic.CLASSES[4], 1, 1, TINY).astype(float)
    corner = frames[:, :6, :6].reshape(len(frames), -1)  # background only
    assert np.abs(np.diff(corner, axis=0)).mean() > 1.0
