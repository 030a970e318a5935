"""The text format of the authors' DenseTrack: one trajectory per line, tab-separated columns.

Columns (436 with the defaults): frameNum, mean_x, mean_y, var_x, var_y, length, scale, x_pos,
y_pos, t_pos, then Traj (2L), HOG, HOF, MBHx, MBHy. As the C++ ``printf`` calls: frameNum as an
integer, the header and trajectory with 6 decimals (``%f``), descriptors with 7 (``%.7f``), every
value followed by a tab, each line ended by a newline.
"""
from __future__ import annotations

import io
from pathlib import Path
from typing import IO, Iterable, Iterator

import numpy as np

N_HEADER = 10


def _row_format(n_columns: int, n_traj: int) -> str:
    n_desc = n_columns - N_HEADER - n_traj
    return "%d\t" + "%f\t" * (N_HEADER - 1 + n_traj) + "%.7f\t" * n_desc + "\n"


def _printf_rows(batch: np.ndarray, n_traj: int) -> bytes:
    """The reference formatting, one ``%`` per row (slow; for values the compiled path does not cover)."""
    fmt = _row_format(batch.shape[1], n_traj)
    return "".join(fmt % (int(row[0]), *row[1:]) for row in batch.astype(np.float64)).encode("ascii")


_FIXED_FIELD = 1 + 8 + 1 + 6 + 1  # sign, up to 8 integer digits, point, 6 decimals, tab
_UNIT_FIELD = 1 + 1 + 7 + 1      # digit, point, 7 decimals, tab
_CHUNK_ROWS = 1024               # rows formatted per call: a buffer of ~4 MB, reused


def _text_chunks(batch: np.ndarray, n_traj: int) -> Iterator[bytes | memoryview]:
    """The text of (n, C) rows in consecutive pieces; a memoryview piece is valid until the next one.

    float32 rows take the compiled formatter, a chunk of rows at a time; a chunk with a value it does
    not cover (see ``format_dt_text``; the extractor writes none) and other dtypes take the per-row printf.
    """
    n_fixed = N_HEADER + n_traj
    if batch.dtype != np.float32:
        yield _printf_rows(batch, n_traj)
        return
    from baselines.video.dt.kernels import format_dt_text

    batch = np.ascontiguousarray(batch)
    row_bytes = n_fixed * _FIXED_FIELD + (batch.shape[1] - n_fixed) * _UNIT_FIELD + 1
    buffer = np.empty(min(len(batch), _CHUNK_ROWS) * row_bytes, np.uint8)
    for start in range(0, len(batch), _CHUNK_ROWS):
        chunk = batch[start:start + _CHUNK_ROWS]
        n_bytes = format_dt_text(chunk, n_fixed, buffer)
        yield memoryview(buffer)[:n_bytes] if n_bytes >= 0 else _printf_rows(chunk, n_traj)


def format_rows(batch: np.ndarray, n_traj: int = 30) -> bytes:
    """The text of (n, C) rows, byte for byte what the C++ ``printf`` calls print (see the module doc)."""
    return b"".join(bytes(piece) for piece in _text_chunks(np.asarray(batch), n_traj))


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
        for piece in _text_chunks(np.asarray(batch), n_traj):
            out.write(bytes(piece).decode("ascii") if text_mode else piece)
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
