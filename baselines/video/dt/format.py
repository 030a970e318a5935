"""The text format of the authors' DenseTrack: one trajectory per line, tab-separated columns.

Columns (436 with the defaults): frameNum, mean_x, mean_y, var_x, var_y, length, scale, x_pos,
y_pos, t_pos, then Traj (2L), HOG, HOF, MBHx, MBHy. As the C++ ``printf`` calls: frameNum as an
integer, the header and trajectory with 6 decimals (``%f``), descriptors with 7 (``%.7f``), every
value followed by a tab, each line ended by a newline.
"""
from __future__ import annotations

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


_FIXED_FIELD = 1 + 8 + 1 + 6 + 1  # sign, up to 8 integer digits, point, 6 decimals, tab
_UNIT_FIELD = 1 + 1 + 7 + 1      # digit, point, 7 decimals, tab


def format_rows(batch: np.ndarray, n_traj: int = 30) -> bytes:
    """The text of (n, C) rows, byte for byte what the C++ ``printf`` calls print (see the module doc).

    float32 rows whose header and trajectory are finite and below 10**8 and whose descriptors are in
    [0, 1] (all rows the extractor writes) take the compiled formatter; anything else the per-row printf.
    """
    batch = np.asarray(batch)
    n_fixed = N_HEADER + n_traj
    fixed, unit = batch[:, :n_fixed], batch[:, n_fixed:]
    if (batch.dtype != np.float32 or not np.isfinite(fixed).all() or np.abs(fixed).max(initial=0) >= 1e8 - 1
            or not (np.all(unit >= 0) and np.all(unit <= 1)) or np.signbit(unit).any()):
        return _printf_rows(batch, n_traj)
    from baselines.video.dt.kernels import format_dt_text

    out = np.empty(len(batch) * (n_fixed * _FIXED_FIELD + unit.shape[1] * _UNIT_FIELD + 1), np.uint8)
    return out[:format_dt_text(np.ascontiguousarray(batch), n_fixed, out)].tobytes()


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
