"""Where a number came from: commit, package versions, machine, device, time."""
from __future__ import annotations

import datetime as dt
import importlib.metadata
import os
import platform
import subprocess
from functools import lru_cache
from pathlib import Path

PACKAGES = ("numpy", "scipy", "pandas", "scikit-learn", "torch", "opencv-contrib-python-headless",
            "matplotlib", "dask")


def now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


@lru_cache(maxsize=1)
def git_commit() -> str:
    """Commit of the checkout bench runs from, with ``+dirty`` when it has uncommitted changes."""
    here = Path(__file__).resolve().parent
    try:
        commit = subprocess.run(["git", "-C", str(here), "rev-parse", "HEAD"], capture_output=True,
                                text=True, timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(here), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=10).stdout.strip()
        return commit + ("+dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown (not a git checkout)"


@lru_cache(maxsize=1)
def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            pass
    return out


def device_name(device: str) -> str:
    if device.startswith("cuda"):
        import torch

        return torch.cuda.get_device_name(0)
    return f"cpu: {cpu_model()}"


def provenance(device: str) -> dict:
    return {
        "commit": git_commit(),
        "versions": versions(),
        "machine": f"{platform.node()} ({platform.system()} {platform.machine()}, {os.cpu_count()} cores)",
        "cpu": cpu_model(),
        "device": device,
        "device_name": device_name(device),
    }


def resolve_device(requested: str) -> str:
    """auto -> cuda when torch sees a GPU, else cpu; cuda without a GPU is an error, never a silent fallback."""
    import torch

    if requested == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if requested == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda was asked for but torch sees no CUDA device; use --device cpu or auto")
    if requested not in ("cpu", "cuda"):
        raise ValueError(f"unknown device {requested!r}; valid: auto, cpu, cuda")
    return requested
