"""Phase timing owned by the harness: methods never time themselves."""
from __future__ import annotations

import resource
import time
from contextlib import contextmanager


def cpu_seconds() -> float:
    """CPU time of this process (all threads) and of its finished, reaped child processes (decode and
    extraction workers), user + system: unlike wall time it barely moves when other processes load the
    machine, so the speed gate tests it."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


class PhaseTimer:
    """Accumulates wall-clock and CPU seconds per named phase (``extract``, ``train``, ``infer``...)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.cpu_seconds: dict[str, float] = {}

    @contextmanager
    def phase(self, name: str):
        wall, cpu = time.perf_counter(), cpu_seconds()
        try:
            yield
        finally:
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - wall
            self.cpu_seconds[name] = self.cpu_seconds.get(name, 0.0) + cpu_seconds() - cpu

    def as_dict(self) -> dict[str, float]:
        out = {f"{name}_s": round(value, 4) for name, value in self.seconds.items()}
        out.update({f"{name}_cpu_s": round(value, 4) for name, value in self.cpu_seconds.items()})
        return out
