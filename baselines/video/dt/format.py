"""The text format of the authors' DenseTrack: one trajectory per line, tab-separated columns.

Columns (436 with the defaults): frameNum, mean_x, mean_y, var_x, var_y, length, scale, x_pos,
y_pos, t_pos, then Traj (2L), HOG, HOF, MBHx, MBHy. As the C++ ``printf`` calls: frameNum as an
integer, the header and trajectory with 6 decimals (``%f``), descriptors with 7 (``%.7f``), every
value followed by a tab, each line ended by a newline.
"""
from __future__ import annotations

import functools
import io
from pathlib import Path
from typing import IO, Iterable

import numpy as np

N_HEADER = 10


def _row_format(n_columns: int, n_traj: int) -> str:
    n_desc = n_columns - N_HEADER - n_traj
    return "%d\t" + "%f\t" * (N_HEADER - 1 + n_traj) + "%.7f\t" * n_desc + "\n"


def _printf_rows(batch: np.ndarray, n_traj: int) -> bytes:
    """The reference formatting, one ``%`` per row (slow; for values the vectorised path does not cover)."""
    fmt = _row_format(batch.shape[1], n_traj)
    return "".join(fmt % (int(row[0]), *row[1:]) for row in batch.astype(np.float64)).encode("ascii")


def _digit_table(n: int, width: int, suffix: str = "") -> np.ndarray:
    """(n, width + len(suffix)) uint8: the zero-padded decimal digits of 0..n-1, then the suffix."""
    text = "".join(f"{i:0{width}d}{suffix}" for i in range(n))
    return np.frombuffer(text.encode("ascii"), np.uint8).reshape(n, width + len(suffix))


_D4 = _digit_table(10_000, 4)
_INT_DIGITS = 8
_FIELD = 1 + _INT_DIGITS + 1 + 6 + 1  # sign, integer digits, point, 6 decimals, tab


@functools.cache
def _words(first: str, last: str) -> np.ndarray:
    """(10**6 + 1, 8) uint8: for each i, ``first`` + the 6 digits of i % 10**6 + ``last``, where ``first``
    "d." is the digit i // 10**6 and a point ("d.dddddd": ``%.7f`` of [0, 1] without its last digit),
    else one literal character (".dddddd\t": the fraction of ``%f``). Built once, with NumPy (8 MB).
    """
    i = np.arange(1_000_001)
    digits = (i[:, None] // 10 ** np.arange(5, -1, -1)) % 10 + ord("0")
    words = np.empty((len(i), 8), np.uint8)
    if first == "d.":
        words[:, 0], words[:, 1], words[:, 2:] = i // 1_000_000 + ord("0"), ord("."), digits
    else:
        words[:, 0], words[:, 1:7], words[:, 7] = ord(first), digits, ord(last)
    return words


# A ``%.7f\t`` field and a ``%f\t`` field as packed records: the 8-byte table words and 4-digit groups are
# copied as whole integers (one move each, not 8 or 4 byte moves)
_UNIT = np.dtype([("word", "<u8"), ("digit", "u1"), ("tab", "u1")])
_FIXED = np.dtype([("sign", "u1"), ("high", "<u4"), ("low", "<u4"), ("word", "<u8")])


_D4_INT = _D4.view(np.uint32)[:, 0]


def _words_int(first: str, last: str) -> np.ndarray:
    """``_words`` with each 8-character word as one uint64 (a view, no copy)."""
    return _words(first, last).view(np.uint64)[:, 0]


def _unit_columns(values: np.ndarray) -> np.ndarray | None:
    """(n, m * 10) uint8 text of ``%.7f\t`` for float32 values in [0, 1], or None when a value is not.

    Exact: a float32 times 1e7 is exact in float64 and np.rint rounds half to even, as printf. The text is
    a table's 8 characters "d.dddddd" for q // 10, then the last digit and the tab.
    """
    if not (np.all(values >= 0) and np.all(values <= 1)) or np.signbit(values).any():
        return None
    q = np.multiply(values, 1e7, dtype=np.float64)
    np.rint(q, out=q)
    q = q.astype(np.int32)
    r = q // 10
    out = np.empty(values.shape, _UNIT)
    out["word"] = _words_int("d.", "")[r]
    out["digit"] = q - r * 10 + ord("0")
    out["tab"] = ord("\t")
    return out.view(np.uint8).reshape(len(values), -1)


def _fixed_columns(values: np.ndarray, integer_first: bool) -> tuple[np.ndarray, np.ndarray] | None:
    """Text of ``%f\t`` (the first column ``%d\t`` when integer_first) for finite float32 values.

    Returns (n, m * _FIELD) uint8 fields and the mask of their used bytes (fields are right-aligned
    digits with the unused leading places masked out), or None when a value is not finite or has
    more than 8 integer digits.
    """
    v = values.astype(np.float64)
    if not np.isfinite(v).all() or np.abs(v).max(initial=0) >= 10.0 ** _INT_DIGITS - 1:
        return None
    n, m = v.shape
    q = np.rint(np.abs(v) * 1e6).astype(np.int64)   # exact for float32 inputs, half to even as printf
    whole, frac = np.divmod(q, 1_000_000)
    if integer_first:
        whole[:, 0] = np.abs(np.trunc(v[:, 0])).astype(np.int64)
    record = np.empty((n, m), _FIXED)
    record["sign"] = ord("-")
    record["high"] = _D4_INT[whole // 10_000]
    record["low"] = _D4_INT[whole % 10_000]
    record["word"] = _words_int(".", "\t")[frac]
    out = record.view(np.uint8).reshape(n, m, _FIELD)
    n_digits = np.ones(whole.shape, np.int64)
    for power in range(1, _INT_DIGITS):
        n_digits += whole >= 10 ** power
    place = np.arange(_FIELD)
    mask = (place >= 1 + _INT_DIGITS - n_digits[..., None])
    mask[..., 0] = np.signbit(v)
    if integer_first:
        mask[:, 0, 9:16] = False
        mask[:, 0, 0] &= whole[:, 0] != 0     # %d of -0.0 (or of -0.5 truncated) prints "0"
    return out.reshape(n, -1), mask.reshape(n, -1)


def format_rows(batch: np.ndarray, n_traj: int = 30) -> bytes:
    """The text of (n, C) rows, byte for byte what the C++ ``printf`` calls print (see the module doc)."""
    batch = np.asarray(batch)
    if batch.dtype != np.float32:
        return _printf_rows(batch, n_traj)
    n_fixed = N_HEADER + n_traj
    fixed = _fixed_columns(batch[:, :n_fixed], integer_first=True)
    unit = _unit_columns(batch[:, n_fixed:])
    if fixed is None or unit is None:
        return _printf_rows(batch, n_traj)
    fields, mask = fixed
    heads = fields[mask]                                    # the used bytes, row after row
    ends = np.cumsum(mask.sum(axis=1))
    tails = np.empty((len(batch), unit.shape[1] + 1), np.uint8)
    tails[:, :-1] = unit
    tails[:, -1] = ord("\n")
    heads_view, tails_view, width = memoryview(heads), memoryview(tails.reshape(-1)), tails.shape[1]
    starts = [0, *ends[:-1].tolist()]
    return b"".join(part for i, (a, b) in enumerate(zip(starts, ends.tolist()))
                    for part in (heads_view[a:b], tails_view[i * width:(i + 1) * width]))


def write_dt(rows: np.ndarray | Iterable[np.ndarray], out: IO | str | Path, n_traj: int = 30) -> int:
    """Write trajectory rows (an (n, C) array or an iterable of such batches); returns rows written.

    ``out`` is a text or binary file object, or a path.
    """
    if isinstance(out, (str, Path)):
        with open(out, "wb") as handle:
            return write_dt(rows, handle, n_traj)
    text_mode = isinstance(out, io.TextIOBase)
    batches = [rows] if isinstance(rows, np.ndarray) else rows
    written = 0
    for batch in batches:
        if batch.size == 0:
            continue
        data = format_rows(batch, n_traj)
        out.write(data.decode("ascii") if text_mode else data)
        written += len(batch)
    return written


def read_dt(source: IO[str] | str | Path) -> np.ndarray:
    """Read the text format (ours or the authors') into an (n, C) float32 array."""
    if isinstance(source, (str, Path)):
        text = Path(source).read_text()
    else:
        text = source.read()
    first = text.split("\n", 1)[0].split()
    if not first:
        return np.zeros((0, 0), np.float32)
    values = np.array(text.split(), dtype=np.float32)
    n_columns = len(first)
    if values.size % n_columns:
        raise ValueError(f"ragged DenseTrack text: {values.size} values do not fill rows of {n_columns}")
    return values.reshape(-1, n_columns)


def to_text(rows: np.ndarray, n_traj: int = 30) -> str:
    buffer = io.StringIO()
    write_dt(rows, buffer, n_traj)
    return buffer.getvalue()
