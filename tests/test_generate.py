"""`bench dataset synthetic-actions`: any size and count, UCF101 layout, readable by `bench run --dataset`."""
from __future__ import annotations

import cv2
import pytest
from test_cli import bench

from benchmark.data import synthetic
from benchmark.data.datasets import open_split
from benchmark.data.generate import held_out_per_split
from benchmark.data.splits import read_ucf_layout


def test_writes_the_requested_shape_and_count_in_ucf_layout(tmp_path):
    out = tmp_path / "set"
    code, stdout, stderr = bench("dataset", "synthetic-actions", "--out", str(out), "--actors", "5", "--clips", "2",
                                 "--size", "40x24", "--frames", "7")
    assert code == 0, stderr
    videos = sorted(out.glob("*/*.avi"))
    assert len(videos) == len(synthetic.CLASSES) * 5 * 2 and "wrote 100 videos" in stdout
    capture = cv2.VideoCapture(str(videos[0]))
    n = 0
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        assert frame.shape == (24, 40, 3)
        n += 1
    assert n == 7
    seen = set()
    for split in (1, 2, 3):
        lists = read_ucf_layout(out / "ucfTrainTestlist", split)
        test = {e.group for e in lists.test}
        assert test and not test & {e.group for e in lists.train} and not test & seen
        seen |= test
        assert len(lists.train) + len(lists.test) == 100
    data = open_split(str(out), 1, "smoke")
    assert len(data.train) + len(data.test) == 100 and data.train.n_classes == 10


def test_classes_writes_only_the_first_classes(tmp_path):
    out = tmp_path / "set"
    code, stdout, stderr = bench("dataset", "synthetic-actions", "--out", str(out), "--actors", "4", "--clips", "1",
                                 "--size", "32x24", "--frames", "3", "--classes", "2")
    assert code == 0, stderr
    assert sorted(p.name for p in out.iterdir() if p.is_dir() and p.name != "ucfTrainTestlist") == \
        sorted(c.name for c in synthetic.CLASSES[:2]) and "wrote 8 videos (2 classes" in stdout
    lists = read_ucf_layout(out / "ucfTrainTestlist", 1)
    assert len(lists.train) + len(lists.test) == 8 and {e.label for e in lists.train} == {0, 1}


def test_held_out_actors_follow_ucf101():
    assert held_out_per_split(25) == 7
    assert held_out_per_split(4) == 1
    assert all(3 * held_out_per_split(n) < n for n in range(4, 60))


@pytest.mark.parametrize("args, message", [
    (["--size", "40"], "expected WxH"), (["--actors", "3"], "at least 4"), (["--frames", "1"], "at least 2"),
    (["--classes", "11"], "between 2 and 10")])
def test_bad_arguments_are_one_line_errors(tmp_path, args, message):
    code, _, stderr = bench("dataset", "synthetic-actions", "--out", str(tmp_path / "x"), *args)
    assert code == 2 and message in stderr and len(stderr.strip().splitlines()) == 1


def test_refuses_a_non_empty_folder(tmp_path):
    (tmp_path / "keep.txt").write_text("mine")
    code, _, stderr = bench("dataset", "synthetic-actions", "--out", str(tmp_path), "--actors", "4", "--clips", "1",
                            "--size", "32x32", "--frames", "4")
    assert code == 2 and "not empty" in stderr and (tmp_path / "keep.txt").read_text() == "mine"
