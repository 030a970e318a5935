"""Decoding provenance: which decoder produced a video job's frames, how many frames each video gave,
and a hash of the decoded frames, so that two runs decoded differently are told apart.

The same file decoded by another library, version or backend can give other frames (other frame
indices, colour conversion, resampling) and so other numbers; ``bench check`` warns when a baseline
was decoded differently from the run it gates.
"""
from __future__ import annotations

import hashlib
import re
from functools import lru_cache

import cv2
import numpy as np

# The fields that must agree between a run and its baseline for frames to be the same.
COMPARED = ("decoder", "frames_sha256")


@lru_cache(maxsize=1)
def _ffmpeg_version() -> str:
    """avcodec version OpenCV was built against ('' when it was built without FFmpeg)."""
    info = cv2.getBuildInformation()
    match = re.search(r"avcodec:\s*YES \(([^)]+)\)", info)
    return match.group(1) if match else ""


def decoder_library() -> str:
    """Library and version, part of the frame cache key: frames from another decoder are decoded again."""
    ffmpeg = _ffmpeg_version()
    return f"opencv {cv2.__version__}" + (f" (avcodec {ffmpeg})" if ffmpeg else "")


def backend_of(path) -> str:
    """The videoio backend OpenCV picks for this file (FFMPEG, GSTREAMER, ...), '' if it cannot open it."""
    capture = cv2.VideoCapture(str(path))
    try:
        return capture.getBackendName() if capture.isOpened() else ""
    finally:
        capture.release()


def frames_digest(frames: np.ndarray) -> str:
    digest = hashlib.sha256(str((frames.shape, str(frames.dtype))).encode())
    digest.update(np.ascontiguousarray(frames).tobytes())
    return digest.hexdigest()


def summarise(per_video: list[tuple[int, str]], backend: str) -> dict:
    """The job-level record from (frames, digest) of every video in the job's order (train then test)."""
    total = hashlib.sha256()
    for _, digest in per_video:
        total.update(digest.encode())
    counts = [n for n, _ in per_video]
    return {"decoder": f"{decoder_library()} [{backend or 'unknown backend'}]",
            "frames_per_video": counts,
            "frames_per_video_min": min(counts, default=0), "frames_per_video_max": max(counts, default=0),
            "frames_sha256": total.hexdigest()[:32]}


def differences(baseline: dict, current: dict) -> list[str]:
    """One warning line per job whose decoding differs between a baseline snapshot and the run."""
    lines = []
    for key, now in current.get("jobs", {}).items():
        base = baseline.get("jobs", {}).get(key)
        if base is None or now.get("decoder") is None:
            continue
        if base.get("decoder") is None:
            lines.append(f"warning: {key}: the baseline records no decoder (made before decoding provenance); "
                         f"the run used {now['decoder']}")
            continue
        changed = [f for f in COMPARED if base.get(f) != now.get(f)]
        if changed:
            what = (f"decoder {base['decoder']} -> {now['decoder']}" if "decoder" in changed
                    else f"same decoder, other frames (hash {base.get('frames_sha256')} -> {now.get('frames_sha256')})")
            lines.append(f"warning: {key}: the baseline was decoded differently: {what}")
    return lines
