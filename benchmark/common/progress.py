"""Progress of long phases (decoding, extraction per video, training steps, evaluation) and of a run's jobs.

On a terminal (stderr is a TTY) a phase is a tqdm bar that removes itself when done. Off a terminal (a log
file, a pipe, CI, nohup) a phase writes one line at most every ``LOG_INTERVAL_S`` seconds, and the run
writes one line per job started and finished (``RunLog``). Every line goes to stderr, flushed at once.
``BENCH_LOG_INTERVAL_S`` sets the interval, also in the worker processes that run the jobs.
"""
from __future__ import annotations

import os
import sys
import time
from contextlib import contextmanager
from typing import Iterable, Iterator, TypeVar

from tqdm import tqdm

T = TypeVar("T")

LOG_INTERVAL_S = float(os.environ.get("BENCH_LOG_INTERVAL_S", 60))
_label = ""   # the job a phase belongs to ("c3d split 1 seed 0"), set in the process that runs the job


def interactive() -> bool:
    """Whether stderr is a terminal (bars) rather than a log (lines)."""
    try:
        return sys.stderr is not None and sys.stderr.isatty()
    except ValueError:   # a closed stream
        return False


def log(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def duration(seconds: float) -> str:
    """4.2s, 2m10s, 1h05m."""
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    return f"{minutes // 60}h{minutes % 60:02d}m"


def _plural(unit: str) -> str:
    return unit + ("es" if unit.endswith(("s", "x", "ch", "sh")) else "s")


@contextmanager
def job_label(label: str) -> Iterator[None]:
    """Phase lines inside the block name the job: ``  c3d split 1 seed 0: training 120/400 steps, 2m10s``."""
    global _label
    previous, _label = _label, label
    try:
        yield
    finally:
        _label = previous


class PhaseLog:
    """The off-terminal stand-in of a tqdm bar: the same calls, a line at most every LOG_INTERVAL_S."""

    def __init__(self, iterable: Iterable[T] | None, desc: str, total: int | None, unit: str, enabled: bool):
        self.iterable, self.desc, self.unit, self.enabled = iterable, desc, unit, enabled
        if total is None and iterable is not None and hasattr(iterable, "__len__"):
            total = len(iterable)
        self.total, self.n, self.postfix = total, 0, ""
        self.start = self.last = time.monotonic()

    def __iter__(self) -> Iterator[T]:
        for item in self.iterable:
            yield item
            self.update()

    def update(self, n: int = 1) -> None:
        self.n += n
        now = time.monotonic()
        if self.enabled and now - self.last >= LOG_INTERVAL_S:
            self.last = now
            count = f"{self.n}/{self.total}" if self.total is not None else f"{self.n}"
            postfix = f" ({self.postfix})" if self.postfix else ""
            where = f"{_label}: " if _label else ""
            log(f"  {where}{self.desc} {count} {_plural(self.unit)}, {duration(now - self.start)}{postfix}")

    def set_postfix_str(self, text: str) -> None:
        self.postfix = text

    def close(self) -> None:
        pass

    def __enter__(self) -> "PhaseLog":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def progress(iterable: Iterable[T] | None = None, *, desc: str, total: int | None = None, unit: str = "it",
             enabled: bool = True) -> tqdm | PhaseLog:
    """A tqdm bar on a terminal, rate-limited lines off one; silent when ``enabled`` is False."""
    if not interactive():
        return PhaseLog(iterable, desc, total, unit, enabled)
    return tqdm(iterable, desc=desc, total=total, unit=unit, leave=False, file=sys.stderr, mininterval=1.0,
                disable=None if enabled else True, dynamic_ncols=True)


class RunLog:
    """One line per job started, finished or skipped, with the jobs left and an estimate of the time left
    (wall time since the first start per finished job, times the jobs left: parallel executors included)."""

    def __init__(self, n_jobs: int, enabled: bool = True):
        self.left, self.enabled = n_jobs, enabled
        self.finished = 0
        self.first_start: float | None = None
        self.started: dict[str, float] = {}

    def _eta(self) -> str:
        if not self.finished or self.first_start is None:
            return "unknown"
        return duration((time.monotonic() - self.first_start) / self.finished * self.left)

    @staticmethod
    def _name(job) -> str:
        split = f" split {job.split}" if job.suite == "video" else ""   # the generative suite has one split
        return f"{job.method} on {job.dataset}{split} seed {job.seed}"

    def _log(self, line: str) -> None:
        if self.enabled:
            log(line)

    def skipped(self, job) -> None:
        self._log(f"job skipped (already done): {self._name(job)}")

    def start(self, key: str, job) -> None:
        now = time.monotonic()
        self.first_start = self.first_start if self.first_start is not None else now
        self.started[key] = now
        self._log(f"job started: {self._name(job)}; {self.left} job(s) left, time left {self._eta()}")

    def finish(self, key: str, job, status: str, variants: Iterable[str] = ()) -> None:
        now = time.monotonic()
        self.first_start = self.first_start if self.first_start is not None else now
        elapsed = now - self.started.pop(key, now)
        self.left -= 1
        self.finished += 1
        named = [v for v in variants if v]
        shown = f" (variants {', '.join(named)})" if named else ""
        self._log(f"job {status}: {self._name(job)}{shown} in {duration(elapsed)}; {self.left} job(s) left, "
            f"time left {self._eta() if self.left else '0.0s'}")
