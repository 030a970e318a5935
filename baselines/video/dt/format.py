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


def write_dt(rows: np.ndarray | Iterable[np.ndarray], out: IO[str] | str | Path, n_traj: int = 30) -> int:
    """Write trajectory rows (an (n, C) array or an iterable of such batches); returns rows written."""
    if isinstance(out, (str, Path)):
        with open(out, "w") as handle:
            return write_dt(rows, handle, n_traj)
    batches = [rows] if isinstance(rows, np.ndarray) else rows
    written = 0
    fmt = None
    for batch in batches:
        batch = np.asarray(batch, np.float64)
        if batch.size == 0:
            continue
        fmt = fmt or _row_format(batch.shape[1], n_traj)
        # %d of frameNum needs an int; the rest formats as float
        out.write("".join(fmt % (int(row[0]), *row[1:]) for row in batch))
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
