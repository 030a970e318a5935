"""Split readers on the real UCF101 / HMDB51 split files (skipped when ../shared/data is absent)."""
from __future__ import annotations

import os
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


# --- what the readers accept and what they warn about ---------------------------------------------

def _ucf_folder(root: Path, class_ind: bytes, train: bytes, test: bytes) -> Path:
    lists = root / "ucfTrainTestlist"
    lists.mkdir(parents=True)
    (lists / "classInd.txt").write_bytes(class_ind)
    (lists / "trainlist01.txt").write_bytes(train)
    (lists / "testlist01.txt").write_bytes(test)
    return lists


def test_a_utf8_byte_order_mark_is_accepted(tmp_path):
    bom = b"\xef\xbb\xbf"
    lists = _ucf_folder(tmp_path, bom + b"1 Red\r\n2 Blue\r\n", bom + b"Red/a.avi 1\r\nBlue/b.avi 2\r\n",
                        bom + b"Red/c.avi\r\n")
    split = read_ucf_layout(lists, 1)
    assert split.class_names == ("Red", "Blue")
    assert [e.relpath for e in split.train] == ["Red/a.avi", "Blue/b.avi"] and split.test[0].relpath == "Red/c.avi"


def test_a_file_name_that_is_not_utf8_finds_its_file(tmp_path, capsys):
    from benchmark.data.datasets import open_split

    name = b"Red/v_caf\xe9_g01_c01.avi"                       # Latin-1 on disk, as old archives have it
    _ucf_folder(tmp_path / "ds", b"1 Red\n2 Blue\n", name + b" 1\nBlue/b.avi 2\n", b"Red/c.avi\n")
    for rel in (name, b"Blue/b.avi", b"Red/c.avi"):
        path = os.fsencode(tmp_path / "ds") + b"/" + rel
        os.makedirs(os.path.dirname(path), exist_ok=True)
        open(path, "wb").close()
    data = open_split(str(tmp_path / "ds"), 1, "smoke")
    assert data.missing == () and len(data.train) == 2
    assert os.fsencode(data.train.paths[0]).endswith(name)
    assert "missing" not in capsys.readouterr().err


def test_a_video_in_train_and_test_is_warned_about(tmp_path, capsys):
    from benchmark.data.datasets import open_split

    _ucf_folder(tmp_path / "ds", b"1 Red\n2 Blue\n", b"Red/a.avi 1\nBlue/b.avi 2\n", b"Red/a.avi\nBlue/c.avi\n")
    open_split(str(tmp_path / "ds"), 1, "smoke")
    err = capsys.readouterr().err
    assert "warning: 1 videos of" in err and "listed for training and for testing: Red/a.avi" in err


def test_a_path_that_leaves_its_class_folder_is_refused(tmp_path):
    lists = _ucf_folder(tmp_path, b"1 Bowling\n2 IceDancing\n",
                        b"Bowling/../IceDancing/v_IceDancing_g03_c01.avi 1\n", b"Bowling/x.avi\n")
    with pytest.raises(SplitFileError, match=r"trainlist01.txt:1: .* inside its class folder"):
        read_ucf_layout(lists, 1)
