"""``bench run --dry-run`` and the disk check before a run: per job, cache disk, time and memory estimated
from per-video costs measured on a sample of the run's own videos.

The sample is measured in the run's own cache, on videos whose artefacts are not cached yet: what it
decodes and extracts is what the run would do first, and the run then finds it cached (no video is
decoded or extracted twice). Where every video of a kind is cached already, nothing is measured and
nothing of that kind is left to write.

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

from benchmark.common.cache import Cache


@dataclass
class VideoCost:
    seconds: float = 0.0
    bytes: int = 0


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


def _artefact_path(videos, i: int, kind: str, method) -> Path:
    if kind == "frames":
        return videos.frames_path(i)
    if kind == "flow":
        return videos.flow_path(i, _uses_flow(method, ""))
    from baselines.video.dt.method import features_cache_key

    return videos.cache.path("dt-features", features_cache_key(videos, i, method.config))


def _cached(videos, i: int, kind: str, method) -> bool:
    return _artefact_path(videos, i, kind, method).exists()


def _kinds(method) -> dict:
    """Artefact kind -> the work that caches it for (videos, i), in dependency order."""
    kinds = {"frames": lambda v, i: v.frames(i)}
    flow = _uses_flow(method, "")
    if flow:
        kinds["flow"] = lambda v, i: v.flow(i, flow)
    if hasattr(method, "config") and hasattr(method.config, "dt"):
        from baselines.video.dt.method import video_features

        kinds["dt-features"] = lambda v, i: video_features(v, i, method.config)
    return kinds


def measure(parts, method, sample: int) -> dict[str, VideoCost]:
    """Per-video cost of each cached artefact kind, averaged over the first ``sample`` videos of ``parts``
    (VideoSets) that do not have it cached yet; computing it caches it for the run."""
    costs: dict[str, VideoCost] = {}
    kinds = _kinds(method)
    for n, (kind, work) in enumerate(kinds.items()):
        todo = [(v, i) for v in parts for i in range(len(v)) if not _cached(v, i, kind, method)][:sample]
        if not todo:
            continue
        for v, i in todo:   # what this kind depends on (frames for flow...) is not its cost
            for earlier in list(kinds.values())[:n]:
                earlier(v, i)
        start = time.perf_counter()
        for v, i in todo:
            work(v, i)
        seconds = (time.perf_counter() - start) / len(todo)
        costs[kind] = VideoCost(seconds, sum(_artefact_path(v, i, kind, method).stat().st_size
                                             for v, i in todo) // len(todo))
    return costs


def estimate(tasks_by_method, profile: str, cache: Cache, sample: int = 2) -> list[dict]:
    """One row per method: videos, cache bytes still to write, extraction seconds, measured peak memory."""
    from benchmark.methods import MethodContext
    from benchmark.registry import methods_of

    rows = []
    scratch = Path(tempfile.mkdtemp())   # artefacts a method builder may write (figures): not kept
    try:
        for (method_name, n_seeds), data in tasks_by_method.items():
            ctx = MethodContext(profile=profile, seed=0, device="cpu", n_classes=data.train.n_classes, workers=1,
                                artefact_dir=str(scratch / "artefacts"))
            method = methods_of("video")[method_name].build(ctx)
            parts = [replace(data.train, cache=cache), replace(data.test, cache=cache)]
            costs = measure(parts, method, sample)
            n = len(data.train) + len(data.test)
            todo = {kind: sum(not _cached(v, i, kind, method) for v in parts for i in range(len(v)))
                    for kind in costs}
            parts_bytes = {_identity(kind, data.train, method): costs[kind].bytes * todo[kind] for kind in costs}
            rows.append({"method": method_name, "parts": parts_bytes, "seeds": n_seeds, "videos": n,
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

    from benchmark.common.cache import stable_hash

    extra = ""
    if kind == "flow":
        extra = _uses_flow(method, "") or ""
    elif kind == "dt-features":
        c = method.config
        extra = stable_hash([asdict(c.dt), c.shared_flow, c.max_trajectories, c.store_dtype])
    return f"{kind}|{videos.frame_spec!r}|{videos.compact}|{extra}"


def human_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(n) < 1024 or unit == "TB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1024
    return f"{n:.1f} TB"
