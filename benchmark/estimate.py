"""``bench run --dry-run`` and the disk check before a run: per job, cache disk, time and memory estimated
from per-video costs measured on a sample of the run's own videos (in a scratch cache, deleted after).

What is measured per video: decoding (frames cache bytes, seconds), optical flow for methods that use it,
dense-trajectory extraction for the DT methods; the peak memory is that of the measuring process (the
per-video work), and each job's time covers decoding and extraction only: training time depends on the
profile's step counts and the device, and is not estimated.
"""
from __future__ import annotations

import resource
import shutil
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path

from benchmark.cache import Cache


@dataclass
class VideoCost:
    seconds: float = 0.0
    bytes: int = 0


def _dir_bytes(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file())


def _uses_flow(method, profile: str) -> str | None:
    """The flow algorithm a method reads from the shared cache, or None."""
    config = getattr(method, "config", None)
    if config is not None and getattr(config, "shared_flow", False):
        return config.dt.flow
    clip = getattr(method, "clip", None)
    if clip is not None and clip.modality == "flow":
        return clip.flow_algorithm
    streams = getattr(method, "streams", None) or {}
    for stream in streams.values() if isinstance(streams, dict) else ():
        clip = getattr(stream, "clip", None)
        if clip is not None and clip.modality == "flow":
            return clip.flow_algorithm
    return None


def measure(videos, method, sample: int, scratch: Path) -> dict[str, VideoCost]:
    """Per-video cost of each cached artefact kind, averaged over the first ``sample`` videos."""
    probe = replace(videos, cache=Cache(scratch)).subset(list(range(min(sample, len(videos)))))
    costs: dict[str, VideoCost] = {}
    if len(probe) == 0:   # no video to measure: the run itself reports the empty split
        return costs

    def timed(kind: str, work) -> None:
        before = _dir_bytes(scratch / kind) if (scratch / kind).exists() else 0
        start = time.perf_counter()
        for i in range(len(probe)):
            work(i)
        costs[kind] = VideoCost((time.perf_counter() - start) / len(probe),
                                (_dir_bytes(scratch / kind) - before) // len(probe))

    timed("frames", probe.frames)
    flow = _uses_flow(method, "")
    if flow:
        timed("flow", lambda i: probe.flow(i, flow))
    if hasattr(method, "config") and hasattr(method.config, "dt"):
        from baselines.video.dt.method import video_features

        timed("dt-features", lambda i: video_features(probe, i, method.config))
    return costs


def estimate(tasks_by_method, profile: str, cache: Cache, sample: int = 2) -> list[dict]:
    """One row per method: videos, cache bytes still to write, extraction seconds, measured peak memory."""
    from benchmark.methods import MethodContext
    from benchmark.registry import methods_of

    rows = []
    scratch = Path(tempfile.mkdtemp(dir=cache.root, prefix=".estimate-")) if cache.root.exists() else \
        Path(tempfile.mkdtemp())
    try:
        for (method_name, n_seeds), data in tasks_by_method.items():
            ctx = MethodContext(profile=profile, seed=0, device="cpu", n_classes=data.train.n_classes, workers=1,
                                artefact_dir=str(scratch / "artefacts"))
            method = methods_of("video")[method_name].build(ctx)
            costs = measure(data.train, method, sample, scratch / method_name)
            n = len(data.train) + len(data.test)
            todo = {kind: sum(not _cached(v, i, kind, method, cache) for v in (data.train, data.test)
                              for i in range(len(v))) for kind in costs}
            parts = {_identity(kind, data.train, method): costs[kind].bytes * todo[kind] for kind in costs}
            rows.append({"method": method_name, "parts": parts, "seeds": n_seeds, "videos": n,
                         "frames": data.train.frame_spec.describe(),
                         "cache_bytes": sum(costs[k].bytes * todo[k] for k in costs),
                         "bytes_per_video": sum(c.bytes for c in costs.values()),
                         "extract_s": sum(costs[k].seconds * todo[k] for k in costs),
                         "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024})
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return rows


def _identity(kind: str, videos, method) -> str:
    """What makes an artefact kind shared between methods: the frames, and the flow or DT parameters."""
    from dataclasses import asdict

    from benchmark.cache import stable_hash

    extra = ""
    if kind == "flow":
        extra = _uses_flow(method, "") or ""
    elif kind == "dt-features":
        c = method.config
        extra = stable_hash([asdict(c.dt), c.shared_flow, c.max_trajectories, c.store_dtype])
    return f"{kind}|{videos.frame_spec!r}|{videos.compact}|{extra}"


def _cached(videos, i: int, kind: str, method, cache: Cache) -> bool:
    if kind == "frames":
        return cache.path("frames", videos.frames_key(i)).exists()
    if kind == "dt-features":
        from baselines.video.dt.method import _features_key

        return cache.path("dt-features", _features_key(videos, i, method.config)).exists()
    return False  # flow: counted as still to compute (an over-estimate, never an under-estimate)


def human_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(n) < 1024 or unit == "TB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1024
    return f"{n:.1f} TB"
