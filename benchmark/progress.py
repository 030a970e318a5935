"""One progress bar for every long phase (decoding, extraction per video, training steps, evaluation).

Bars go to stderr and only when it is a terminal (``disable=None``), so logs, pipes and CI stay quiet.
"""
from __future__ import annotations

import sys
from typing import Iterable, TypeVar

from tqdm import tqdm

T = TypeVar("T")


def progress(iterable: Iterable[T] | None = None, *, desc: str, total: int | None = None, unit: str = "it",
             enabled: bool = True) -> tqdm:
    """A tqdm bar that removes itself when done; silent unless stderr is a TTY (or ``enabled`` is False)."""
    return tqdm(iterable, desc=desc, total=total, unit=unit, leave=False, file=sys.stderr, mininterval=1.0,
                disable=None if enabled else True, dynamic_ncols=True)
