"""Bad input, two ways.

1. Property tests: whatever bytes the split files or a video hold, the user gets a one-line error, not a
   traceback. Allowed outcomes: a parsed result, or SplitFileError / VideoReadError / DatasetError.
2. A corpus of named bad inputs (split files, classInd, videos, results stores, baselines, arguments), each
   run through the ``bench`` command: exit code 2, exactly one ``bench: error:`` line that names the file
   (and line) at fault, no traceback, and every file that existed before is still there, byte for byte. A
   failed ``bench run`` also leaves no file or folder behind that it created (output folder, lock, store).
"""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from benchmark.common.cache import Cache
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


# --- the corpus: named bad inputs through the `bench` command ----------------------------------

import sys  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from typing import Callable  # noqa: E402

from benchmark import cli  # noqa: E402
from benchmark.analysis.check import FORMAT  # noqa: E402

GOOD_CLASSES = "1 Red\n2 Blue\n"
GOOD_TRAIN = "Red/v_Red_g01_c01.avi 1\nBlue/v_Blue_g01_c01.avi 2\n"
GOOD_TEST = "Red/v_Red_g02_c01.avi\nBlue/v_Blue_g02_c01.avi\n"
DIRECTORY = object()   # "a folder where the file should be"


@dataclass(frozen=True)
class Case:
    name: str
    build: Callable[[Path], list[str]]   # writes the inputs under tmp_path, returns the bench arguments
    expect: tuple[str, ...]              # what the error line must name (the file, the line, the flag)
    hide: tuple[str, ...] = ()           # modules that do not import (an optional dependency not installed)


def _put(path: Path, content) -> None:
    """content: str/bytes to write, DIRECTORY for a folder, None for nothing."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if content is DIRECTORY:
        path.mkdir()
    elif isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        path.write_text(content, encoding="utf-8", errors="surrogateescape")


def _run_argv(tmp: Path, dataset: Path, *extra: str) -> list[str]:
    return ["run", "--dataset", str(dataset), "--profile", "smoke", "--methods", "feature-histograms",
            "--workers", "1", "--out", str(tmp / "out"), *extra]


def _ucf(classes=GOOD_CLASSES, train=GOOD_TRAIN, test=GOOD_TEST):
    def build(tmp: Path) -> list[str]:
        lists = tmp / "ds" / "ucfTrainTestlist"
        lists.mkdir(parents=True)
        _put(lists / "classInd.txt", classes)
        _put(lists / "trainlist01.txt", train)
        _put(lists / "testlist01.txt", test)
        return _run_argv(tmp, tmp / "ds")
    return build


def _garbage(seed: int, n: int = 300) -> bytes:
    return np.random.default_rng(seed).integers(0, 256, n, np.uint8).tobytes()


CLASS_INDEX_CASES = {
    "empty": (b"", "classInd.txt: no classes"),
    "blank lines only": ("\n \n\t\n", "classInd.txt: no classes"),
    "byte-order mark only": (b"\xef\xbb\xbf", "classInd.txt: no classes"),
    "index only": ("1\n", "classInd.txt:1"),
    "name first": ("Red 1\n", "classInd.txt:1"),
    "three fields": ("1 Red Blue\n", "classInd.txt:1"),
    "starts at 0": ("0 Red\n1 Blue\n", "classInd.txt: class indices are not 1..2"),
    "duplicate id": ("1 Red\n1 Blue\n", "classInd.txt:2: class index 1 given twice"),
    "class under two ids": ("1 Red\n2 Red\n", "classInd.txt:2: class 'Red' listed twice"),
    "gap": ("1 Red\n3 Blue\n", "classInd.txt: class indices are not 1..2"),
    "starts at 2": ("2 Red\n3 Blue\n", "classInd.txt: class indices are not 1..2"),
    "negative id": ("-1 Red\n2 Blue\n", "classInd.txt:1"),
    "decimal id": ("1.5 Red\n", "classInd.txt:1"),
    "arabic-indic digit": ("\u0663 Red\n", "classInd.txt:1"),
    "superscript digit": ("\u00b2 Red\n", "classInd.txt:1"),
    "slash in name": ("1 Red\n2 a/b\n", "classInd.txt:2"),
    "backslash in name": ("1 Red\n2 a\\b\n", "classInd.txt:2"),
    "dot-dot name": ("1 Red\n2 ..\n", "classInd.txt:2"),
    "dot name": ("1 Red\n2 .\n", "classInd.txt:2"),
    "word id on line 3": ("1 Red\n2 Blue\nthree Green\n", "classInd.txt:3"),
    "duplicate id on line 3": ("1 Red\n2 Blue\n2 Green\n", "classInd.txt:3: class index 2 given twice"),
    "name repeated on line 3": ("1 Red\n2 Blue\n3 Red\n", "classInd.txt:3: class 'Red' listed twice"),
    "control bytes": (b"\x00\x01\x02\n", "classInd.txt:1"),
    "mid-file byte-order mark": ("1 Red\n\ufeff2 Blue\n", "classInd.txt:2"),
    "tab then missing name": ("1\tRed\n2\n", "classInd.txt:2"),
    "gap at the end": ("1 Red\n2 Blue\n4 Green\n", "classInd.txt: class indices are not 1..3"),
    "missing": (None, "classInd.txt: split file not found"),
    "a directory": (DIRECTORY, "classInd.txt: split file not found"),
    "latin-1 name, lists in UTF-8": (b"1 Rouge\xe9\n2 Blue\n", "trainlist01.txt:1"),
    **{f"random bytes {seed}": (_garbage(seed), "classInd.txt") for seed in range(5)},
}

TRAIN_LINE_CASES = {   # line 2 of trainlist01.txt, after a good line 1
    "no label": "Red/v.avi",
    "word label": "Red/v.avi x",
    "label disagrees with folder": "Blue/v.avi 1",
    "label 0": "Red/v.avi 0",
    "label past the classes": "Red/v.avi 3",
    "extra field": "Red/v.avi 1 1",
    "no class folder": "v.avi 1",
    "unknown class folder": "Green/v.avi 1",
    "absolute path": "/Red/v.avi 1",
    "escapes into another class": "Red/../Blue/v.avi 2",
    "escapes, label of the first folder": "Red/../Blue/v.avi 1",
    "dot part": "Red/./v.avi 1",
    "empty part": "Red//v.avi 1",
    "folder only": "Red/ 1",
    "starts with dot-dot": "../Red/v.avi 1",
    "backslash escape": "Red\\..\\Blue\\v.avi 2",
    "starts with dot": "./Red/v.avi 1",
    "arabic-indic label": "Red/v.avi \u0663",
    "superscript label": "Red/v.avi \u00b9",
    "negative label": "Red/v.avi -1",
    "decimal label": "Red/v.avi 1.0",
    "plus label": "Red/v.avi +1",
    "folder in other case": "red/v.avi 1",
    "space in path": "Red /v.avi 1",
    "climbs out of the dataset": "Red/sub/../../../etc/passwd 1",
    "dot-dot as the video": "Red/.. 1",
    "NUL byte in path": "Red/v\x00.avi 1",
    "comment after label": "Red/v.avi 1 # comment",
    "tab-separated extra": "Red/v.avi\t1\tx",
    "byte-order mark before path": "\ufeffRed/v.avi 1",
}

TEST_LINE_CASES = {    # line 2 of testlist01.txt, after a good line 1
    "a label": "Red/v.avi 1",
    "unknown class folder": "Green/v.avi",
    "no class folder": "v.avi",
    "escapes into another class": "Red/../Blue/v.avi",
    "absolute path": "/data/Red/v.avi",
    "empty part": "Red//v.avi",
    "two extra words": "Red/v.avi extra words",
    "backslash escape": "Red\\..\\x.avi",
    "starts with dot-dot": "../x.avi",
    "dot as the video": "Red/.",
    "NUL byte": "Red/\x00",
}


def _split_cases() -> list[Case]:
    cases = [Case(f"classInd: {name}", _ucf(classes=content), (expect,))
             for name, (content, expect) in CLASS_INDEX_CASES.items()]
    cases += [Case(f"trainlist: {name}", _ucf(train=f"Red/v_Red_g01_c01.avi 1\n{line}\n"), ("trainlist01.txt:2",))
              for name, line in TRAIN_LINE_CASES.items()]
    cases += [Case(f"testlist: {name}", _ucf(test=f"Red/v_Red_g02_c01.avi\n{line}\n"), ("testlist01.txt:2",))
              for name, line in TEST_LINE_CASES.items()]
    cases += [
        Case("trainlist: bad line 5 after four good ones",
             _ucf(train="".join(f"Red/v_Red_g0{g}_c01.avi 1\n" for g in range(1, 5)) + "Red/v.avi 2\n"),
             ("trainlist01.txt:5",)),
        Case("trainlist: random bytes", _ucf(train=_garbage(11)), ("trainlist01.txt",)),
        Case("trainlist: missing", _ucf(train=None), ("trainlist01.txt: split file not found",)),
        Case("trainlist: a directory", _ucf(train=DIRECTORY), ("trainlist01.txt: split file not found",)),
        Case("trainlist: empty", _ucf(train=""), ("split 1 has no readable train video",)),
        Case("testlist: random bytes", _ucf(test=_garbage(12)), ("testlist01.txt",)),
        Case("testlist: missing", _ucf(test=None), ("testlist01.txt: split file not found",)),
        Case("testlist: empty", _ucf(test=""), ("split 1 has no readable",)),
        Case("every listed video missing", _ucf(), ("split 1 has no readable train video",)),
    ]
    return cases


def _hmdb(files: dict[str, object]):
    def build(tmp: Path) -> list[str]:
        lists = tmp / "hmdb" / "testTrainMulti_7030_splits"
        lists.mkdir(parents=True)
        for name, content in files.items():
            _put(lists / name, content)
        return _run_argv(tmp, tmp / "hmdb")
    return build


HMDB_CASES = {
    "no split files": ({"readme.txt": "x"}, "no '*_test_split1.txt' files"),
    "flag 3": ({"brush_hair_test_split1.txt": "v.avi 3\n"}, "brush_hair_test_split1.txt:1"),
    "no flag": ({"brush_hair_test_split1.txt": "v.avi 1\nw.avi\n"}, "brush_hair_test_split1.txt:2"),
    "path in the name": ({"brush_hair_test_split1.txt": "a/v.avi 1\n"}, "brush_hair_test_split1.txt:1"),
    "dot-dot in the name": ({"brush_hair_test_split1.txt": "../v.avi 1\n"}, "brush_hair_test_split1.txt:1"),
    "dot-dot as the name": ({"brush_hair_test_split1.txt": ".. 2\n"}, "brush_hair_test_split1.txt:1"),
    "three fields": ({"cartwheel_test_split1.txt": "v.avi 1 2\n"}, "cartwheel_test_split1.txt:1"),
    "random bytes": ({"cartwheel_test_split1.txt": _garbage(13)}, "cartwheel_test_split1.txt"),
    "every video missing": ({"cartwheel_test_split1.txt": "v.avi 1\nw.avi 2\n"}, "has no readable train video"),
}


def _video_bytes() -> bytes:
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "good.avi"
        writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 25, (40, 32))
        rng = np.random.default_rng(0)
        for _ in range(8):
            writer.write(rng.integers(0, 256, (32, 40, 3), np.uint8))
        writer.release()
        return path.read_bytes()


def _bad_videos(kind: str, part: str):
    """Every train (or test) video of a valid split is bad in the same way; the other part is fine."""
    def build(tmp: Path) -> list[str]:
        from test_faults import make_bad_video

        argv = _ucf()(tmp)
        good = _video_bytes()
        for line in (GOOD_TRAIN if part == "train" else GOOD_TEST).split("\n"):
            if line:
                path = tmp / "ds" / line.split()[0]
                if kind != "missing":
                    make_bad_video(path, kind, good)
        for line in (GOOD_TEST if part == "train" else GOOD_TRAIN).split("\n"):
            if line:
                _put(tmp / "ds" / line.split()[0], good)
        return argv
    return build


VIDEO_KINDS = ("corrupt", "truncated", "zero-frame", "empty", "unsupported-codec", "not-a-video", "unreadable",
               "directory", "missing")


def _video_cases() -> list[Case]:
    cases = [Case(f"hmdb: {name}", _hmdb(files), (expect,)) for name, (files, expect) in HMDB_CASES.items()]
    cases += [Case(f"videos: every {part} video {kind}", _bad_videos(kind, part),
                   (f"split 1 has no readable {part} video",))
              for part in ("train", "test") for kind in VIDEO_KINDS]

    def one_class(tmp: Path) -> list[str]:
        argv = _ucf(train="Red/v_Red_g01_c01.avi 1\nRed/v_Red_g03_c01.avi 1\n")(tmp)
        for rel in ("Red/v_Red_g01_c01.avi", "Red/v_Red_g03_c01.avi", "Red/v_Red_g02_c01.avi"):
            _put(tmp / "ds" / rel, _video_bytes())
        return argv
    cases.append(Case("videos: train videos of one class only", one_class, ("only 1 class",)))
    return cases


# --- results stores ---

def _valid_store(out: Path) -> None:
    from test_check import _write_store

    _write_store(out)


def _store(kind: str):
    """A results.sqlite of the given damage in tmp/out."""
    def make(tmp: Path) -> Path:
        out = tmp / "out"
        path = out / "results.sqlite"
        out.mkdir(parents=True)
        if kind == "zero-byte":
            path.write_bytes(b"")
        elif kind == "random bytes":
            path.write_bytes(_garbage(21, 8192))
        elif kind == "text file":
            path.write_text("job,status\na,done\n")
        elif kind == "directory":
            path.mkdir()
        elif kind in ("truncated to half", "truncated to a page", "corrupt pages"):
            _valid_store(out)
            data = path.read_bytes()
            if kind == "truncated to half":
                data = data[: len(data) // 2]
            elif kind == "truncated to a page":
                data = data[:4096]
            else:
                data = data[:8192] + _garbage(22, 4096 * 4) + data[8192 + 4096 * 4:]
            path.write_bytes(data)
        elif kind in ("newer schema", "schema not a number", "no jobs table"):
            import sqlite3

            conn = sqlite3.connect(path)
            conn.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
            version = {"newer schema": "99", "schema not a number": "abc", "no jobs table": "1"}[kind]
            conn.execute("INSERT INTO meta VALUES ('schema_version', ?)", (version,))
            conn.commit()
            conn.close()
        elif kind == "foreign sqlite":
            import sqlite3

            conn = sqlite3.connect(path)
            conn.execute("CREATE TABLE photos (id INTEGER, name TEXT)")
            conn.execute("INSERT INTO photos VALUES (1, 'cat')")
            conn.commit()
            conn.close()
        else:
            raise ValueError(kind)
        return out
    return make


STORE_KINDS = ("zero-byte", "random bytes", "text file", "directory", "truncated to half", "truncated to a page",
               "corrupt pages", "newer schema", "schema not a number", "no jobs table", "foreign sqlite")


def _store_case(kind: str, command: str) -> Case:
    def build(tmp: Path) -> list[str]:
        out = _store(kind)(tmp)
        if command == "results":
            return ["results", "--out", str(out)]
        if command == "report":
            return ["report", "--out", str(out), "--to", str(tmp / "reports")]
        if command == "check --update":
            return ["check", "--update", "--baseline", str(tmp / "baseline.json"), "--out", str(out)]
        return ["run", "--dataset", str(tmp / "no-such-dataset"), "--profile", "smoke", "--workers", "1",
                "--out", str(out)]
    return Case(f"store {kind}: {command}", build, ("results.sqlite",))


def _store_cases() -> list[Case]:
    return [_store_case(kind, command) for kind in STORE_KINDS
            for command in ("results", "report", "check --update", "run")
            if not (kind == "zero-byte" and command == "run")]   # an empty file is a new store to `bench run`


# --- baselines ---

def _baseline(content):
    if isinstance(content, str):
        content = content.replace('"F"', f'"{FORMAT}"')

    def build(tmp: Path) -> list[str]:
        _valid_store(tmp / "run")
        _put(tmp / "baseline.json", content)
        return ["check", "--baseline", str(tmp / "baseline.json"), "--out", str(tmp / "run")]
    return build


def _row(**change) -> str:
    import json

    row = {"suite": "video", "method": "alpha", "status": "done", "metric": "video_hit1", "value": 0.5,
           "items": {"item": ["v000"], "group": [1], "label": [0], "pred": [0]}}
    row.update(change)
    return json.dumps({"format": FORMAT, "rows": {"video|toy|smoke|split 1|seed 0|alpha": row}, "jobs": {}})


BASELINE_CASES = {
    "empty list": ("[]", "not a bench baseline (a JSON list"),
    "empty object": ("{}", "baseline.json: baseline format None"),
    "null": ("null", "not a bench baseline"),
    "number": ("42", "not a bench baseline"),
    "string": ('"rows"', "not a bench baseline"),
    "empty file": ("", "baseline.json:1:1: not valid JSON"),
    "truncated JSON": ('{"format": "F", "rows": {', "baseline.json:1:"),
    "trailing comma": ('{"format": "F",\n "rows": {},\n}', "baseline.json:3:"),
    "single quotes": ("{'format': 1}", "baseline.json:1:2: not valid JSON"),
    "broken on line 4": ('{\n "format": 1,\n "rows": {},\n "jobs": [,]\n}', "baseline.json:4:"),
    "binary": (_garbage(31), "baseline.json"),
    "latin-1 text": (b'{"format": 1, "rows": {}, "x": "\xe9"}', "baseline.json: not UTF-8"),
    "no rows": ('{"format": "F", "jobs": {}}', "no 'rows' object"),
    "rows a list": ('{"format": "F", "rows": []}', "no 'rows' object"),
    "wrong format": ('{"format": "cvbench-baseline/0", "rows": {}}', "baseline format 'cvbench-baseline/0'"),
    "jobs a list": ('{"format": "F", "rows": {}, "jobs": []}', "'jobs' is not an object"),
    "job not an object": ('{"format": "F", "rows": {}, "jobs": {"k": 3}}', "job 'k'"),
    "job seconds a list": ('{"format": "F", "rows": {}, "jobs": {"k": {"seconds": []}}}', "job 'k'"),
    "row a number": ('{"format": "F", "rows": {"video|toy|smoke|split 1|seed 0|alpha": 1}}', "is not an object"),
    "row without status": (_row(status=None), "lacks a 'status'"),
    "row of an unknown suite": (_row(suite="audio"), "lacks a 'status' or a 'suite'"),
    "row key of three parts": ('{"format": "F", "rows": {"a|b|c": {"suite": "video", "status": "done"}}}',
                               "row key 'a|b|c'"),
    "value a string": (_row(value="high"), "value 'high' that is not a number"),
    "value a boolean": (_row(value=True), "that is not a number"),
    "items of unequal length": (_row(items={"item": ["a", "b"], "group": [1], "label": [0], "pred": [0]}),
                                "'items' that are not equal-length lists"),
    "items a list": (_row(items=[1, 2]), "'items' that are not equal-length lists"),
    "items without group": (_row(items={"item": ["a"], "label": [0], "pred": [0]}), "'items'"),
    "shares no row with the run": (_row().replace("|alpha", "|omega"), "baseline.json: the run shares no result row"),
    "deeply nested": ("[" * 100_000 + "]" * 100_000, "baseline.json"),
    "a directory": (DIRECTORY, "no baseline at"),
    "missing": (None, "no baseline at"),
}


def _baseline_cases() -> list[Case]:
    cases = [Case(f"baseline: {name}", _baseline(content), (expect,))
             for name, (content, expect) in BASELINE_CASES.items()]

    def update_into_directory(tmp: Path) -> list[str]:
        _valid_store(tmp / "run")
        (tmp / "baseline.json").mkdir()
        return ["check", "--update", "--baseline", str(tmp / "baseline.json"), "--out", str(tmp / "run")]
    cases.append(Case("baseline: --update onto a directory", update_into_directory, ("baseline.json",)))
    return cases


# --- arguments ---

def _args(*argv: str, file: str | None = None, run: bool = False):
    def build(tmp: Path) -> list[str]:
        if file:
            _put(tmp / file, "precious\n")
        if run:
            _valid_store(tmp / "run")
        return [a.replace("TMP", str(tmp)) for a in argv]
    return build


ARG_CASES = [
    Case("--workers -2", _args("run", "--workers", "-2", "--out", "TMP/out"), ("--workers must be at least 1",)),
    Case("--workers 0", _args("run", "--workers", "0", "--out", "TMP/out"), ("--workers must be at least 1",)),
    Case("--seeds 0", _args("run", "--seeds", "0", "--out", "TMP/out"), ("--seeds must be at least 1",)),
    Case("run --out a file", _args("run", "--out", "TMP/precious.txt", file="precious.txt"),
         ("--out", "precious.txt", "directory")),
    Case("results --out a file", _args("results", "--out", "TMP/precious.txt", file="precious.txt"),
         ("precious.txt",)),
    Case("report --out a file", _args("report", "--out", "TMP/precious.txt", "--to", "TMP/r", file="precious.txt"),
         ("precious.txt",)),
    Case("report --to a file", _args("report", "--out", "TMP/run", "--to", "TMP/precious.txt", file="precious.txt",
                                     run=True), ("--to", "precious.txt")),
    Case("check --out a file", _args("check", "--update", "--baseline", "TMP/b.json", "--out", "TMP/precious.txt",
                                     file="precious.txt"), ("precious.txt",)),
    Case("--classes 0", _args("list", "methods", "--costs", "--classes", "0"), ("--classes must be at least 2",)),
    Case("--classes 1", _args("list", "methods", "--costs", "--classes", "1"), ("--classes must be at least 2",)),
    Case("--split 0", _args("run", "--split", "0", "--out", "TMP/out"), ("unknown split '0'",)),
    Case("--split x", _args("run", "--split", "x", "--out", "TMP/out"), ("unknown split 'x'",)),
    Case("--profile huge", _args("run", "--profile", "huge", "--out", "TMP/out"), ("unknown profile 'huge'",)),
    Case("--methods nope,nope", _args("run", "--methods", "nope,nope", "--out", "TMP/out"),
         ("unknown method 'nope'",)),
    Case("--executor spark", _args("run", "--executor", "spark", "--out", "TMP/out"), ("unknown executor 'spark'",)),
    Case("--dataset missing folder", _args("run", "--dataset", "TMP/none", "--out", "TMP/out"),
         ("unknown dataset", "none")),
    Case("--dataset a file", _args("run", "--dataset", "TMP/precious.txt", "--out", "TMP/out", file="precious.txt"),
         ("unknown dataset", "precious.txt")),
    Case("--dataset a folder of nothing", _args("run", "--dataset", "TMP", "--methods", "feature-histograms",
                                                "--out", "TMP/out"), ("no ucfTrainTestlist/",)),
    Case("list what?", _args("list", "nothing"), ("unknown list 'nothing'",)),
    Case("results --format xml", _args("results", "--out", "TMP/run", "--format", "xml", run=True),
         ("unknown format 'xml'",)),
    Case("results of no run", _args("results", "--out", "TMP/nothing"), ("no results store at", "nothing")),
    Case("run --executor dask without dask", _args("run", "--executor", "dask", "--out", "TMP/new/out"),
         ("--executor dask needs dask", "pip install -e '.[dask]'"), hide=("dask",)),
    Case("run --executor dask without dask into a run", _args("run", "--executor", "dask", "--out", "TMP/run",
                                                             run=True),
         ("--executor dask needs dask",), hide=("dask",)),
]

CORPUS = _split_cases() + _video_cases() + _store_cases() + _baseline_cases() + ARG_CASES


def _snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and not p.is_symlink()}


def _paths(root: Path) -> set[str]:
    """Every file and folder under root but the artefact cache."""
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.relative_to(root).parts[0] != "cache"}


def test_the_corpus_is_large_and_its_names_are_distinct():
    assert len({case.name for case in CORPUS}) == len(CORPUS) >= 150


@pytest.mark.parametrize("case", CORPUS, ids=[c.name for c in CORPUS])
def test_bad_input_gives_exit_2_one_line_naming_the_fault_and_loses_nothing(tmp_path, capsys, monkeypatch, case):
    monkeypatch.setenv("BENCH_CACHE", str(tmp_path / "cache"))
    for module in case.hide:
        monkeypatch.setitem(sys.modules, module, None)   # `import module` now fails as if not installed
    argv = case.build(tmp_path)
    before, paths_before = _snapshot(tmp_path), _paths(tmp_path)
    code = cli.main(argv)      # an uncaught exception (a traceback for the user) fails the test here
    captured = capsys.readouterr()
    lines = [line for line in captured.err.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("bench: error: ")]
    assert code == 2, (code, lines)
    assert len(errors) == 1 and lines[-1] == errors[0], lines
    assert all(line.startswith(("warning:", "bench: error: ")) for line in lines), lines
    assert "Traceback" not in captured.err + captured.out
    for expected in case.expect:
        assert expected in errors[0], (expected, errors[0])
    after = _snapshot(tmp_path)
    lost = [name for name, data in before.items() if after.get(name) != data]
    assert not lost, f"changed or removed: {lost}"
    if argv[0] == "run":
        assert _paths(tmp_path) <= paths_before, f"left behind: {sorted(_paths(tmp_path) - paths_before)}"
