"""Property tests: whatever bytes the split files or a video hold, the user gets a one-line error, not a traceback.

Allowed outcomes: a parsed result, or SplitFileError / VideoReadError / DatasetError with a message.
"""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from benchmark.cache import Cache
from benchmark.data.datasets import DatasetError, open_split
from benchmark.data.splits import SplitFileError, read_class_index, read_hmdb51, read_ucf_layout
from benchmark.data.video import FrameSpec, VideoReadError, read_video

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

# lines that look almost right: the shapes real split files have, with the usual mistakes mixed in
tokens = st.sampled_from(["1", "2", "0", "3", "-1", "10", "²", "٣", "1.5", "", " ", "\t", "A", "B", "Unknown",
                          "A/v_A_g01_c01.avi", "B/v_B_g02_c01.avi", "C/x.avi", "A\\v_A_g03_c02.avi", "/abs.avi",
                          "v.avi", "a b", "\x00", "é", "\ufeff"])
near_lines = st.lists(tokens, min_size=0, max_size=4).map(" ".join)
any_text = st.one_of(st.text(max_size=200), st.lists(near_lines, max_size=8).map("\n".join))
any_bytes = st.one_of(st.binary(max_size=200), any_text.map(lambda t: t.encode("utf-8", "surrogatepass")))


def _message_of(exc: Exception) -> str:
    message = str(exc)
    assert message.strip(), f"{type(exc).__name__} without a message"
    return message


def write_ucf_lists(root: Path, class_ind: bytes, train: bytes, test: bytes) -> Path:
    lists = root / "ucfTrainTestlist"
    lists.mkdir(parents=True, exist_ok=True)
    (lists / "classInd.txt").write_bytes(class_ind)
    (lists / "trainlist01.txt").write_bytes(train)
    (lists / "testlist01.txt").write_bytes(test)
    return lists


@FUZZ
@given(class_ind=any_bytes)
def test_class_index_reader(tmp_path, class_ind):
    path = tmp_path / "classInd.txt"
    path.write_bytes(class_ind)
    try:
        names = read_class_index(path)
    except SplitFileError as exc:
        assert str(path) in _message_of(exc)
    else:
        assert all(isinstance(n, str) and n for n in names)


@FUZZ
@given(class_ind=st.one_of(st.just(b"1 A\n2 B\n"), any_bytes), train=any_bytes, test=any_bytes)
def test_ucf_layout_reader(tmp_path, class_ind, train, test):
    lists = write_ucf_lists(tmp_path / "ucf", class_ind, train, test)
    try:
        split = read_ucf_layout(lists, 1)
    except SplitFileError as exc:
        _message_of(exc)
    else:
        for entry in split.train + split.test:
            assert 0 <= entry.label < len(split.class_names)
            assert entry.relpath.split("/")[0] == split.class_names[entry.label]


hmdb_line = st.lists(st.sampled_from(["v.avi", "w.avi", "x y.avi", "0", "1", "2", "3", "", "é"]),
                     max_size=3).map(" ".join)


@FUZZ
@given(names=st.lists(st.sampled_from(["brush_hair", "cartwheel", "a", "x_test_split1"]), max_size=3, unique=True),
       contents=st.lists(st.one_of(st.lists(hmdb_line, max_size=5).map("\n".join).map(str.encode), any_bytes),
                         min_size=3, max_size=3))
def test_hmdb51_reader(tmp_path, names, contents):
    lists = tmp_path / "hmdb" / "testTrainMulti_7030_splits"
    lists.mkdir(parents=True, exist_ok=True)
    for old in lists.iterdir():
        old.unlink()
    for name, content in zip(names, contents):
        (lists / f"{name}_test_split1.txt").write_bytes(content)
    try:
        split = read_hmdb51(lists, 1)
    except SplitFileError as exc:
        _message_of(exc)
    else:
        assert len(split.class_names) == len(names)
        assert all(0 <= e.label < len(names) for e in split.train + split.test)


@FUZZ
@given(class_ind=st.one_of(st.just(b"1 A\n2 B\n"), any_bytes), train=any_bytes, test=any_bytes)
def test_open_split_on_a_fuzzed_dataset_folder(tmp_path, class_ind, train, test):
    root = tmp_path / "ds"
    write_ucf_lists(root, class_ind, train, test)
    try:
        data = open_split(str(root), 1, "smoke", Cache(tmp_path / "cache"))
    except (SplitFileError, DatasetError) as exc:
        _message_of(exc)
    else:
        assert len(data.train) == 0 and len(data.test) == 0  # no video files exist: all reported missing


# --- the video reader ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def good_video(tmp_path_factory) -> bytes:
    path = tmp_path_factory.mktemp("fuzz-video") / "good.avi"
    rng = np.random.default_rng(0)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 25, (24, 16))
    for _ in range(6):
        writer.write(rng.integers(0, 256, (16, 24, 3), np.uint8))
    writer.release()
    return path.read_bytes()


def _check_read(path: Path, spec: FrameSpec) -> None:
    try:
        frames = read_video(path, spec)
    except VideoReadError as exc:
        assert str(path.name) in _message_of(exc)
    else:
        assert frames.dtype == np.uint8 and frames.ndim == 4 and frames.shape[-1] == 3 and len(frames) >= 1
        if spec.short_side:
            assert min(frames.shape[1:3]) == spec.short_side


mutation = st.tuples(st.sampled_from(["flip", "cut", "insert", "truncate", "zero"]),
                     st.integers(0, 10**6), st.integers(1, 64), st.binary(min_size=1, max_size=64))


def _mutate(data: bytes, mutations) -> bytes:
    out = bytearray(data)
    for kind, where, length, junk in mutations:
        at = where % max(len(out), 1)
        if kind == "flip":
            out[at:at + len(junk)] = junk
        elif kind == "cut":
            del out[at:at + length]
        elif kind == "insert":
            out[at:at] = junk
        elif kind == "truncate":
            del out[at:]
        else:
            out[at:at + length] = bytes(min(length, len(out) - at))
    return bytes(out)


@FUZZ
@given(mutations=st.lists(mutation, min_size=1, max_size=4),
       spec=st.sampled_from([FrameSpec(), FrameSpec(short_side=8), FrameSpec(short_side=32, max_frames=3, stride=2)]))
def test_video_reader_on_mutated_files(tmp_path, good_video, mutations, spec):
    path = tmp_path / "mutated.avi"
    path.write_bytes(_mutate(good_video, mutations))
    _check_read(path, spec)


@FUZZ
@given(data=st.binary(max_size=4096), suffix=st.sampled_from([".avi", ".mp4", ".mkv", ".txt", ""]))
def test_video_reader_on_arbitrary_bytes(tmp_path, data, suffix):
    path = tmp_path / f"random{suffix}"
    path.write_bytes(data)
    _check_read(path, FrameSpec(short_side=16))
