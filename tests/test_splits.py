"""Split readers on the real UCF101 / HMDB51 split files (skipped when ../shared/data is absent)."""
from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path

import pytest

from benchmark.data.splits import SplitFileError, read_hmdb51, read_ucf_layout


@pytest.fixture(scope="module")
def ucf_lists(shared_data) -> Path:
    return shared_data / "splits" / "ucf101"


@pytest.mark.parametrize("split, counts", [(1, (9537, 3783)), (2, (9586, 3734)), (3, (9624, 3696))])
def test_ucf101_official_counts(ucf_lists, split, counts):
    data = read_ucf_layout(ucf_lists, split)
    assert (len(data.train), len(data.test)) == counts
    assert len(data.class_names) == 101


def test_ucf101_files_are_crlf_as_distributed(ucf_lists):
    assert b"\r\n" in (ucf_lists / "trainlist01.txt").read_bytes()


def test_ucf101_labels_come_from_folder_not_file_name(ucf_lists):
    data = read_ucf_layout(ucf_lists, 1)
    index = data.class_names.index("HandstandPushups")
    entries = [e for e in data.train + data.test if e.label == index]
    assert entries and all(e.relpath.startswith("HandstandPushups/v_HandStandPushups_") for e in entries)


@pytest.mark.parametrize("split, first, last", [(1, 1, 7), (2, 8, 14), (3, 15, 21)])
def test_ucf101_test_groups(ucf_lists, split, first, last):
    data = read_ucf_layout(ucf_lists, split)
    assert {e.group for e in data.test} == set(range(first, last + 1))
    assert not {e.group for e in data.train} & {e.group for e in data.test}


def test_ucf101_wrong_count_is_an_error(ucf_lists, tmp_path):
    copy = tmp_path / "lists"
    shutil.copytree(ucf_lists, copy)
    lines = (copy / "testlist01.txt").read_text().splitlines(keepends=True)
    (copy / "testlist01.txt").write_text("".join(lines[:-1]))
    with pytest.raises(SplitFileError, match="official UCF101 has 9537 / 3783"):
        read_ucf_layout(copy, 1)


def _write_original_hmdb51(shared_data: Path, root: Path) -> None:
    """Rebuild HMDB51's original per-class split files from the re-written lists."""
    for split in (1, 2, 3):
        status: dict[str, dict[str, str]] = {}
        for part, code in (("train", "1"), ("test", "2")):
            for line in (shared_data / "splits" / "hmdb51" / f"hmdb51_split{split}_{part}.txt").read_text().splitlines():
                relpath = line.split()[0]
                cls, video = relpath.split("/")
                status.setdefault(cls, {})[video] = code
        for cls, videos in status.items():
            lines = [f"{v} {c} \n" for v, c in sorted(videos.items())] + [f"unused_{cls}_clip.avi 0 \n"]
            (root / f"{cls}_test_split{split}.txt").write_text("".join(lines))


@pytest.mark.parametrize("split", [1, 2, 3])
def test_hmdb51_original_format(shared_data, tmp_path, split):
    _write_original_hmdb51(shared_data, tmp_path)
    data = read_hmdb51(tmp_path, split)
    assert (len(data.train), len(data.test)) == (3570, 1530)
    assert list(data.class_names) == sorted(data.class_names) and len(data.class_names) == 51
    per_class = Counter(e.label for e in data.test)
    assert set(per_class.values()) == {30}
    assert not any("unused_" in e.relpath for e in data.train + data.test)
    # labels name the class given in the re-written lists (whose own indices are not sorted order)
    reference = {}
    for line in (shared_data / "splits" / "hmdb51" / f"hmdb51_split{split}_train.txt").read_text().splitlines():
        relpath, cls, _ = line.split()
        reference[relpath] = cls
    assert all(reference[e.relpath] == data.class_names[e.label] for e in data.train)


def _generic(tmp_path: Path, train: str, test: str, classes: str = "1 Walk\n2 Run\n") -> Path:
    lists = tmp_path / "ucfTrainTestlist"
    lists.mkdir()
    (lists / "classInd.txt").write_text(classes)
    (lists / "trainlist01.txt").write_text(train)
    (lists / "testlist01.txt").write_text(test)
    return lists


def test_generic_layout_reads_any_classes(tmp_path):
    lists = _generic(tmp_path, "Walk/person01_walk.avi 1\r\nRun/person02_run.avi 2\r\n", "Run/person03_run.avi\r\n")
    data = read_ucf_layout(lists, 1)
    assert data.class_names == ("Walk", "Run")
    assert [e.label for e in data.train] == [0, 1] and data.test[0].label == 1


@pytest.mark.parametrize("train, message", [
    ("Walk/a.avi 2\n", "disagrees with folder"),
    ("Jump/a.avi 1\n", "not under a class folder"),
    ("Walk/a.avi\n", "expected '<Class>/<video> <label>'"),
])
def test_generic_layout_bad_lines_name_file_and_line(tmp_path, train, message):
    lists = _generic(tmp_path, train, "Walk/b.avi\n")
    with pytest.raises(SplitFileError, match=message) as info:
        read_ucf_layout(lists, 1)
    assert "trainlist01.txt:1" in str(info.value)
