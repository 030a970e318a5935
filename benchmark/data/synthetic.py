"""``synthetic-actions``: the embedded default video dataset.

A seeded generator writes real video files (MJPG .avi) and UCF101-layout split files into a cache
directory, so the default run takes exactly the code path real data takes. Each class exists to make
one classic finding measurable (see ``CLASSES``); every video has a random camera pan plus jitter, and a
textured scene, so raw flow is confounded by camera motion while motion boundaries are not.

"Actors" (groups) vary the object's colour, size and stripe frequency and the scene's tint; the three
splits hold out disjoint blocks of groups, as UCF101 does.
"""
from __future__ import annotations

import json
import math
import shutil
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

GENERATOR_VERSION = 4  # 4: drift at the slides' speed (was 0.4 of it: static for dense trajectories)


@dataclass(frozen=True)
class ActionClass:
    name: str
    shape: str        # object drawn: disc, box, cross, bar, triangle, ring
    motion: str       # motion of the object relative to the scene
    tests: str        # what the class is there to measure


CLASSES: tuple[ActionClass, ...] = (
    ActionClass("BallDrift", "disc", "drift", "appearance only: differs from BoxDrift by shape, same motion"),
    ActionClass("BoxDrift", "box", "drift", "appearance only: differs from BallDrift by shape, same motion"),
    ActionClass("SlideLeft", "cross", "left", "motion-only pair with SlideRight: direction"),
    ActionClass("SlideRight", "cross", "right", "motion-only pair with SlideLeft: direction"),
    ActionClass("SpinClockwise", "bar", "cw", "motion-only pair with SpinCounterClockwise: rotation sense"),
    ActionClass("SpinCounterClockwise", "bar", "ccw", "motion-only pair with SpinClockwise: rotation sense"),
    ActionClass("BobSlow", "triangle", "bob-slow", "motion-only pair with BobFast: speed and periodicity"),
    ActionClass("BobFast", "triangle", "bob-fast", "motion-only pair with BobSlow: speed and periodicity"),
    ActionClass("UpThenRight", "ring", "up-right", "temporal-order pair with RightThenUp: same motions, order swapped"),
    ActionClass("RightThenUp", "ring", "right-up", "temporal-order pair with UpThenRight: same motions, order swapped"),
)

# Pairs of classes that one frame cannot separate; the runner reports pairwise accuracy on each.
PAIRS: dict[str, tuple[str, str]] = {
    "direction": ("SlideLeft", "SlideRight"),
    "rotation": ("SpinClockwise", "SpinCounterClockwise"),
    "speed": ("BobSlow", "BobFast"),
    "temporal-order": ("UpThenRight", "RightThenUp"),
}


@dataclass(frozen=True)
class SyntheticParams:
    size: int                 # frames are size x size pixels
    n_frames: int
    n_groups: int             # actors
    clips_per_group: int      # videos per (class, group)
    test_groups_per_split: int
    fps: int = 25
    seed: int = 0
    camera: float = 1.0       # scale of the camera's pan and jitter (0: a still camera)
    clutter: float = 1.0      # contrast of the scene's texture (0: a flat tinted background)
    pose: float = 1.0         # scale of the object's random starting rotation (0: every object upright)
    # videos per (class, group) in the test lists (None: clips_per_group). More renders extra clips that only
    # the test lists hold: the training lists keep clips 1..clips_per_group, so training is unchanged.
    test_clips_per_group: int | None = None

    def test_groups(self, split: int) -> range:
        start = (split - 1) * self.test_groups_per_split + 1
        return range(start, start + self.test_groups_per_split)

    @property
    def test_clips(self) -> int:
        return self.clips_per_group if self.test_clips_per_group is None else self.test_clips_per_group

    def identity(self) -> dict:
        """The parameters that name the dataset (a dataset without extra test clips keeps its earlier name)."""
        fields = asdict(self)
        if self.test_clips_per_group is None:
            del fields["test_clips_per_group"]
        return fields


def _smooth_noise(rng: np.random.Generator, h: int, w: int, blur: float) -> np.ndarray:
    import cv2  # here, not at the top: `bench --help` and `bench list` need no OpenCV

    noise = rng.standard_normal((h, w)).astype(np.float32)
    noise = cv2.GaussianBlur(noise, (0, 0), blur)
    return (noise - noise.mean()) / (noise.std() + 1e-6)


def _scene(rng: np.random.Generator, size: int, margin: int, tint: np.ndarray, clutter: float = 1.0) -> np.ndarray:
    """A textured background canvas larger than the frame, so the camera can pan across it."""
    side = size + 2 * margin
    coarse = _smooth_noise(rng, side, side, blur=size / 12)
    fine = _smooth_noise(rng, side, side, blur=1.0)
    grey = 0.5 + clutter * (0.10 * coarse + 0.05 * fine)
    return np.clip(grey[..., None] * tint[None, None, :], 0, 1)


def _object_mask(shape: str, u: np.ndarray, v: np.ndarray, radius: float) -> np.ndarray:
    """Soft coverage (0..1) of the object in its own rotated coordinates (u, v) in pixels."""
    edge = 0.75  # pixels of antialiasing

    def soft(distance_inside: np.ndarray) -> np.ndarray:
        return np.clip(distance_inside / edge + 0.5, 0, 1)

    r = np.hypot(u, v)
    if shape == "disc":
        return soft(radius - r)
    if shape == "ring":
        return np.minimum(soft(radius - r), soft(r - 0.5 * radius))
    if shape == "box":
        return soft(0.85 * radius - np.maximum(np.abs(u), np.abs(v)))
    if shape == "bar":
        return np.minimum(soft(radius * 1.3 - np.abs(u)), soft(radius * 0.4 - np.abs(v)))
    if shape == "cross":
        arm = np.minimum(soft(radius - np.abs(u)), soft(0.35 * radius - np.abs(v)))
        return np.maximum(arm, np.minimum(soft(radius - np.abs(v)), soft(0.35 * radius - np.abs(u))))
    if shape == "triangle":
        # equilateral triangle pointing up: inside where every edge's outward normal distance < inradius
        inradius = 0.6 * radius
        normals = (-math.pi / 2, math.pi / 6, 5 * math.pi / 6)
        return soft(np.minimum.reduce([inradius - (u * math.cos(a) + v * math.sin(a)) for a in normals]))
    raise ValueError(f"unknown shape {shape!r}")


def _trajectory(motion: str, n: int, rng: np.random.Generator, span: float,
                pose: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Object centre offsets (x, y) relative to its mean position, and rotation angles, per frame."""
    t = np.arange(n, dtype=np.float64)
    tc = t - (n - 1) / 2
    speed = span / n
    x = np.zeros(n)
    y = np.zeros(n)
    angle = np.full(n, pose * rng.uniform(0, 2 * math.pi))
    if motion == "drift":
        # At the slides' speed: dense trajectories drop a track whose x and y both vary by less than sqrt(3) px
        # (std over its L + 1 points) as static, which a straight track clears from 0.53 px/frame in any direction
        # (L = 15). The former 0.4 of this speed (0.27 px/frame at the quick size) was static in every direction:
        # a drifting object was tracked only where the camera's pan added to its motion, and a quick video whose
        # small pan nearly followed its object had no trajectory at all. The flow also under-estimates the drift
        # of a striped object moving along its stripes, hence the margin.
        direction = rng.uniform(0, 2 * math.pi)
        x, y = speed * tc * math.cos(direction), speed * tc * math.sin(direction)
    elif motion in ("left", "right"):
        x = (-1 if motion == "left" else 1) * speed * tc
    elif motion in ("cw", "ccw"):
        omega = rng.uniform(0.12, 0.2) * (1 if motion == "cw" else -1)  # image y points down: +angle is clockwise
        angle = angle + omega * t
    elif motion in ("bob-slow", "bob-fast"):
        period = n / rng.uniform(1.0, 1.4) if motion == "bob-slow" else n / rng.uniform(3.5, 4.5)
        y = 0.3 * span * np.sin(2 * math.pi * t / period + rng.uniform(0, 2 * math.pi))
    elif motion in ("up-right", "right-up"):
        half = (n - 1) / 2  # the same number of steps in each phase
        first = np.minimum(t, half) * speed
        second = np.maximum(t - half, 0) * speed
        up, right = (first, second) if motion == "up-right" else (second, first)
        x, y = right - right.mean(), -(up - up.mean())
    else:
        raise ValueError(f"unknown motion {motion!r}")
    return np.stack([x, y], axis=1), angle


@dataclass(frozen=True)
class _Layout:
    """What one video draws at random (``_layout`` draws it in a fixed order: reordering changes every video)."""

    colour: np.ndarray          # RGB 0..1
    radius: float
    stripe_period: float
    scene: np.ndarray           # the background canvas, ``margin`` px larger than the frame on every side
    margin: int
    pan: np.ndarray             # camera (x, y) px per frame
    jitter: np.ndarray          # (T, 2) camera px
    centre: np.ndarray          # the object's mean position in the scene
    offsets: np.ndarray         # (T, 2) object motion relative to the scene
    angles: np.ndarray          # (T,) object rotation

    def camera(self, t: int) -> np.ndarray:
        n = len(self.offsets)
        return self.pan * (t - (n - 1) / 2) + self.jitter[t]

    def object_centres(self) -> np.ndarray:
        """(T, 2) the object's centre (x, y) in image pixels, frame by frame."""
        return np.stack([self.centre + self.offsets[t] - self.camera(t) for t in range(len(self.offsets))])


def _layout(cls: ActionClass, group: int, clip: int, params: SyntheticParams) -> _Layout:
    import cv2

    class_index = [c.name for c in CLASSES].index(cls.name)
    group_rng = np.random.default_rng([params.seed, group])
    rng = np.random.default_rng([params.seed, group, clip, class_index])
    size, n = params.size, params.n_frames
    # actor appearance (shared by every class the actor performs)
    hue = group_rng.uniform(0, 180)
    colour = cv2.cvtColor(np.uint8([[[hue, 200, 230]]]), cv2.COLOR_HSV2RGB)[0, 0] / 255.0
    radius = size * group_rng.uniform(0.14, 0.18)
    stripe_period = radius * group_rng.uniform(0.5, 0.8)
    tint = 0.7 + 0.3 * group_rng.random(3)
    # camera: a pan of about the object's own speed, plus per-frame jitter
    span = 0.45 * size
    pan_speed = span / n
    pan = rng.uniform(-1.2, 1.2, size=2) * pan_speed * params.camera
    jitter = rng.normal(0, 0.35, size=(n, 2)) * size / 48 * params.camera
    margin = int(math.ceil(np.abs(pan).max() * n / 2 + 3 * size / 48 + 2))
    scene = _scene(rng, size, margin, tint, params.clutter)
    centre = np.array([size / 2, size / 2]) + rng.uniform(-0.08, 0.08, size=2) * size
    offsets, angles = _trajectory(cls.motion, n, rng, span, params.pose)
    return _Layout(colour, radius, stripe_period, scene, margin, pan, jitter, centre, offsets, angles)


def object_track(cls: ActionClass, group: int, clip: int, params: SyntheticParams) -> tuple[np.ndarray, float]:
    """((T, 2) centre (x, y) of the object in image pixels per frame, its radius in pixels) of one video: where
    ``render_video`` draws it (for measurements: which trajectories lie on the object)."""
    layout = _layout(cls, group, clip, params)
    return layout.object_centres(), layout.radius


def render_video(cls: ActionClass, group: int, clip: int, params: SyntheticParams) -> np.ndarray:
    """(T, H, W, 3) uint8 RGB frames of one video; deterministic in (class, group, clip, params)."""
    import cv2

    size, n = params.size, params.n_frames
    layout = _layout(cls, group, clip, params)
    margin, radius = layout.margin, layout.radius
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    frames = np.empty((n, size, size, 3), np.uint8)
    centres = layout.object_centres()
    for t in range(n):
        camera = layout.camera(t)
        shift = np.float32([[1, 0, -(margin + camera[0])], [0, 1, -(margin + camera[1])]])
        background = cv2.warpAffine(layout.scene, shift, (size, size), flags=cv2.INTER_LINEAR,
                                    borderMode=cv2.BORDER_REFLECT)
        cx, cy = centres[t]
        cos, sin = math.cos(layout.angles[t]), math.sin(layout.angles[t])
        u = (xx - cx) * cos + (yy - cy) * sin
        v = -(xx - cx) * sin + (yy - cy) * cos
        coverage = _object_mask(cls.shape, u, v, radius)[..., None]
        stripes = 0.75 + 0.25 * np.sign(np.sin(2 * math.pi * u / layout.stripe_period))[..., None]
        frame = background * (1 - coverage) + layout.colour * stripes * coverage
        frames[t] = np.clip(frame * 255 + 0.5, 0, 255).astype(np.uint8)
    return frames


def write_avi(path: Path, frames: np.ndarray, fps: int) -> None:
    import cv2

    h, w = frames.shape[1:3]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (w, h))
    if not writer.isOpened():
        raise RuntimeError(f"OpenCV cannot write MJPG video {path}")
    for frame in frames:
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    writer.release()


def _video_name(cls: ActionClass, group: int, clip: int) -> str:
    return f"{cls.name}/v_{cls.name}_g{group:02d}_c{clip:02d}.avi"


def _write_split_files(root: Path, params: SyntheticParams, classes: tuple[ActionClass, ...] = CLASSES) -> None:
    lists = root / "ucfTrainTestlist"
    lists.mkdir(parents=True)
    (lists / "classInd.txt").write_text("".join(f"{i + 1} {c.name}\n" for i, c in enumerate(classes)))
    for split in (1, 2, 3):
        test_groups = set(params.test_groups(split))
        train_lines, test_lines = [], []
        for i, cls in enumerate(classes):
            for group in range(1, params.n_groups + 1):
                held_out = group in test_groups
                for clip in range(1, (params.test_clips if held_out else params.clips_per_group) + 1):
                    name = _video_name(cls, group, clip)
                    if held_out:
                        test_lines.append(f"{name}\n")
                    else:
                        train_lines.append(f"{name} {i + 1}\n")
        (lists / f"trainlist0{split}.txt").write_text("".join(train_lines))
        (lists / f"testlist0{split}.txt").write_text("".join(test_lines))


def ensure_dataset(params: SyntheticParams, cache_root: Path, progress: bool = True) -> Path:
    """The dataset's root folder, generated on first use and whenever its parameters change."""
    identity = {"params": params.identity(), "version": GENERATOR_VERSION,
                "classes": [asdict(c) for c in CLASSES]}
    digest = json.dumps(identity, sort_keys=True)
    import hashlib

    from benchmark.common.progress import progress as progress_bar  # tqdm only when a dataset is generated

    root = cache_root / "datasets" / f"synthetic-actions-{hashlib.sha256(digest.encode()).hexdigest()[:12]}"
    if (root / "params.json").is_file():
        return root
    root.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=root.parent, prefix=".generating-"))
    try:
        jobs = [(c, g, k) for c in CLASSES for g in range(1, params.n_groups + 1)
                for k in range(1, max(params.clips_per_group, params.test_clips) + 1)]
        for cls, group, clip in progress_bar(jobs, desc="generating synthetic-actions", unit="video",
                                             enabled=progress):
            path = tmp / _video_name(cls, group, clip)
            path.parent.mkdir(exist_ok=True)
            write_avi(path, render_video(cls, group, clip, params), params.fps)
        _write_split_files(tmp, params)
        (tmp / "params.json").write_text(json.dumps(identity, indent=2))  # written last: marks completion
        try:
            tmp.rename(root)
        except OSError:  # another process finished first
            if not (root / "params.json").is_file():
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return root
