"""Phase timing owned by the harness: methods never time themselves."""
from __future__ import annotations

import os
import resource
import time
from contextlib import contextmanager


def cpu_seconds() -> float:
    """CPU time of this process (all threads) and of its finished, reaped child processes (decode and
    extraction workers), user + system: unlike wall time it barely moves when other processes load the
    machine, so the speed gate tests it."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


PLANT_VARIABLE = "BENCH_PLANT_SLOWDOWN"


def parse_planted(setting: str) -> dict[tuple[str, str], float]:
    """``"method:phase:factor,..."`` as {(method, phase): factor}; a malformed entry is an error, not ignored."""
    out = {}
    for entry in filter(None, (e.strip() for e in setting.split(","))):
        try:
            name, phase, factor = entry.split(":")
            factor = float(factor)
        except ValueError:
            raise ValueError(f"{PLANT_VARIABLE}: {entry!r} is not method:phase:factor") from None
        if factor < 1:
            raise ValueError(f"{PLANT_VARIABLE}: factor {factor} below 1 (a slow-down only)")
        out[(name, phase)] = factor
    return out


def planted_slowdowns(method: str, setting: str | None = None) -> dict[str, float]:
    """Phases of ``method`` to slow down on purpose, from ``BENCH_PLANT_SLOWDOWN="method:phase:factor,..."``.

    The speed gate's own mutation test (``.ci/run``, ``bench check --expect-planted``): a planted x1.5 must
    fail ``bench check``. Empty unless the variable names this method."""
    setting = os.environ.get(PLANT_VARIABLE, "") if setting is None else setting
    return {phase: factor for (name, phase), factor in parse_planted(setting).items() if name == method}


def _burn_cpu(seconds: float) -> None:
    end = time.process_time() + seconds
    x = 0
    while time.process_time() < end:
        x = (x * 1103515245 + 12345) % 2147483648


class PhaseTimer:
    """Accumulates wall-clock and CPU seconds per named phase (``extract``, ``train``, ``infer``...).

    ``planted``: phase -> factor; such a phase burns (factor - 1) x its own CPU time more before it ends
    (``planted_slowdowns``), a real slow-down for testing the speed gate."""

    def __init__(self, planted: dict[str, float] | None = None) -> None:
        self.seconds: dict[str, float] = {}
        self.cpu_seconds: dict[str, float] = {}
        self.planted = dict(planted or {})

    @contextmanager
    def phase(self, name: str):
        wall, cpu = time.perf_counter(), cpu_seconds()
        try:
            yield
        finally:
            if name in self.planted:
                _burn_cpu((self.planted[name] - 1) * (cpu_seconds() - cpu))
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - wall
            self.cpu_seconds[name] = self.cpu_seconds.get(name, 0.0) + cpu_seconds() - cpu

    def as_dict(self) -> dict[str, float]:
        out = {f"{name}_s": round(value, 4) for name, value in self.seconds.items()}
        out.update({f"{name}_cpu_s": round(value, 4) for name, value in self.cpu_seconds.items()})
        return out
