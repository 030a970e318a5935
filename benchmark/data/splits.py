"""Readers for the original split files users have on disk: UCF101 (and any UCF101-layout folder), HMDB51."""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

# Official UCF101 split sizes (train, test), asserted when the 101 official classes are present.
UCF101_COUNTS = {1: (9537, 3783), 2: (9586, 3734), 3: (9624, 3696)}
HMDB51_COUNTS = (3570, 1530)  # per split
GROUP_PATTERN = re.compile(r"_g(\d+)_c\d+", re.IGNORECASE)


class SplitFileError(ValueError):
    """A split file that is missing or malformed (the message names the file and line)."""


@dataclass(frozen=True)
class VideoEntry:
    relpath: str       # "<Class>/<file>.avi", relative to the dataset root
    label: int         # 0-based class index
    group: int         # UCF gXX; for datasets without groups, a unique id per video


@dataclass(frozen=True)
class Split:
    class_names: tuple[str, ...]
    train: tuple[VideoEntry, ...]
    test: tuple[VideoEntry, ...]


def _lines(path: Path) -> list[tuple[int, str]]:
    """Non-blank lines with their 1-based numbers. A UTF-8 byte-order mark is dropped; bytes that are
    not UTF-8 are kept as surrogate escapes, so a file name in another encoding still finds its file."""
    if not path.is_file():
        raise SplitFileError(f"{path}: split file not found")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SplitFileError(f"{path}: cannot read the split file ({exc.strerror or exc})") from None
    text = data.decode("utf-8-sig", errors="surrogateescape")
    return [(n, line.strip()) for n, line in enumerate(text.splitlines(), 1) if line.strip()]


def _ascii_digits(text: str) -> bool:
    return text.isascii() and text.isdecimal()


def read_class_index(path: Path) -> tuple[str, ...]:
    """classInd.txt: '1 ApplyEyeMakeup' per line, 1-based and contiguous, each id and name once."""
    names: dict[int, str] = {}
    line_of: dict[str, int] = {}
    for n, line in _lines(path):
        parts = line.split()
        if len(parts) != 2 or not _ascii_digits(parts[0]):
            raise SplitFileError(f"{path}:{n}: expected '<index> <ClassName>', got {line!r}")
        index, name = int(parts[0]), parts[1]
        if index in names:
            raise SplitFileError(f"{path}:{n}: class index {index} given twice ({names[index]!r} and {name!r})")
        if name in line_of:
            raise SplitFileError(f"{path}:{n}: class {name!r} listed twice (also on line {line_of[name]})")
        if "/" in name or "\\" in name or name in (".", ".."):
            raise SplitFileError(f"{path}:{n}: class name {name!r} cannot be a folder name")
        names[index] = name
        line_of[name] = n
    if not names:
        raise SplitFileError(f"{path}: no classes (the file is empty)")
    if sorted(names) != list(range(1, len(names) + 1)):
        raise SplitFileError(f"{path}: class indices are not 1..{len(names)}")
    return tuple(names[i] for i in range(1, len(names) + 1))


def _video_path(path: Path, n: int, raw: str) -> tuple[str, str]:
    """('<Class>/<...>/<video>', '<Class>') of a split line's path; it must stay inside its class folder."""
    relpath = raw.replace("\\", "/")
    parts = relpath.split("/")
    if "\x00" in relpath:
        raise SplitFileError(f"{path}:{n}: {raw!r} holds a NUL byte")
    if relpath.startswith("/") or len(parts) < 2 or any(p in ("", ".", "..") for p in parts):
        raise SplitFileError(f"{path}:{n}: {raw!r} must be '<Class>/<video>' inside its class folder "
                             f"(no absolute path, no '.' or '..', no empty part)")
    return relpath, parts[0]


def _group_of(relpath: str, fallback: int) -> int:
    match = GROUP_PATTERN.search(relpath)
    return int(match.group(1)) if match else fallback


def _ucf_entries(path: Path, class_names: tuple[str, ...], labelled: bool) -> list[VideoEntry]:
    index = {name: i for i, name in enumerate(class_names)}
    entries = []
    for n, line in _lines(path):
        parts = line.split()
        if "/" not in parts[0] and "\\" not in parts[0]:
            raise SplitFileError(f"{path}:{n}: {parts[0]!r} is not under a class folder named in classInd.txt")
        relpath, folder = _video_path(path, n, parts[0])
        if folder not in index:  # the class comes from the folder, never from the file name
            raise SplitFileError(f"{path}:{n}: {relpath!r} is not under a class folder named in classInd.txt")
        label = index[folder]
        if labelled:
            if len(parts) != 2 or not _ascii_digits(parts[1]):
                raise SplitFileError(f"{path}:{n}: expected '<Class>/<video> <label>', got {line!r}")
            if int(parts[1]) - 1 != label:
                raise SplitFileError(f"{path}:{n}: label {parts[1]} disagrees with folder {folder!r}")
        elif len(parts) != 1:
            raise SplitFileError(f"{path}:{n}: test lines hold only '<Class>/<video>', got {line!r}")
        entries.append(VideoEntry(relpath, label, _group_of(relpath, fallback=10_000 + len(entries))))
    return entries


def read_ucf_layout(lists_dir: Path, split: int, check_official_counts: bool | None = None) -> Split:
    """UCF101-layout lists: classInd.txt, trainlist0k.txt ('<Class>/<v>.avi <label>'), testlist0k.txt.

    With the 101 official classes the official per-split counts are asserted (pass False to skip,
    e.g. for a subset); other datasets laid out the same way (KTH, Weizmann, your own) are read as is.
    """
    class_names = read_class_index(lists_dir / "classInd.txt")
    train = _ucf_entries(lists_dir / f"trainlist0{split}.txt", class_names, labelled=True)
    test = _ucf_entries(lists_dir / f"testlist0{split}.txt", class_names, labelled=False)
    if check_official_counts is None:
        check_official_counts = len(class_names) == 101
    if check_official_counts:
        expected = UCF101_COUNTS[split]
        if (len(train), len(test)) != expected:
            raise SplitFileError(
                f"{lists_dir}: split {split} has {len(train)} train / {len(test)} test videos; "
                f"official UCF101 has {expected[0]} / {expected[1]}")
    return Split(class_names, tuple(train), tuple(test))


def overlap(split: Split) -> list[str]:
    """Videos listed both for training and for testing (a leak the user should hear about)."""
    test = {e.relpath for e in split.test}
    return sorted({e.relpath for e in split.train if e.relpath in test})


def read_hmdb51(lists_dir: Path, split: int, check_official_counts: bool | None = None) -> Split:
    """HMDB51's original files: '<class>_test_split<k>.txt' with lines '<video>.avi <0|1|2>'.

    1 = train, 2 = test, 0 = unused. Class index = position in the sorted class names.
    """
    files = sorted(lists_dir.glob(f"*_test_split{split}.txt"))
    if not files:
        raise SplitFileError(f"{lists_dir}: no '*_test_split{split}.txt' files")
    suffix = f"_test_split{split}.txt"
    class_names = tuple(sorted(f.name[: -len(suffix)] for f in files))
    train: list[VideoEntry] = []
    test: list[VideoEntry] = []
    for label, name in enumerate(class_names):
        path = lists_dir / f"{name}{suffix}"
        for n, line in _lines(path):
            parts = line.split()
            if len(parts) != 2 or parts[1] not in ("0", "1", "2"):
                raise SplitFileError(f"{path}:{n}: expected '<video>.avi <0|1|2>', got {line!r}")
            if "/" in parts[0] or "\\" in parts[0] or "\x00" in parts[0] or parts[0] in (".", ".."):
                raise SplitFileError(f"{path}:{n}: {parts[0]!r} must be a file name inside the class folder")
            entry = VideoEntry(f"{name}/{parts[0]}", label, group=len(train) + len(test))
            if parts[1] == "1":
                train.append(entry)
            elif parts[1] == "2":
                test.append(entry)
    if check_official_counts is None:
        check_official_counts = len(class_names) == 51
    if check_official_counts and (len(train), len(test)) != HMDB51_COUNTS:
        raise SplitFileError(
            f"{lists_dir}: split {split} has {len(train)} train / {len(test)} test videos; "
            f"official HMDB51 has {HMDB51_COUNTS[0]} / {HMDB51_COUNTS[1]}")
    return Split(class_names, tuple(train), tuple(test))
