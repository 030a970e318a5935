"""Phase timing owned by the harness: methods never time themselves."""
from __future__ import annotations

import time
from contextlib import contextmanager


class PhaseTimer:
    """Accumulates wall-clock and CPU seconds per named phase (``extract``, ``train``, ``infer``...)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.cpu_seconds: dict[str, float] = {}

    @contextmanager
    def phase(self, name: str):
        wall, cpu = time.perf_counter(), time.process_time()
        try:
            yield
        finally:
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - wall
            self.cpu_seconds[name] = self.cpu_seconds.get(name, 0.0) + time.process_time() - cpu

    def as_dict(self) -> dict[str, float]:
        out = {f"{name}_s": round(value, 4) for name, value in self.seconds.items()}
        out.update({f"{name}_cpu_s": round(value, 4) for name, value in self.cpu_seconds.items()})
        return out
